/**
 * Progress display for long work, kept apart from the training loop: the loop
 * calls a listener; this one prints a line with rate and ETA. On a terminal it
 * redraws one line; elsewhere (notebooks, CI logs) it prints a line every few
 * seconds so logs stay short.
 */
import type { EpochMetrics } from "../results/types";

export interface ProgressListener {
  /** `initial`: work already done (a resumed run), so that rate and ETA count only this session's. */
  start(label: string, total: number, unit?: string, initial?: number): void;
  update(done: number, info?: string): void;
  end(summary?: string): void;
  /** A finished epoch's metrics (live displays redraw their curves). */
  onEpoch?(m: EpochMetrics): void;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

export class LineProgress implements ProgressListener {
  private label = "";
  private total = 0;
  private unit = "it";
  private t0 = 0;
  private lastPrint = 0;
  private lastLen = 0;
  private initial = 0;
  constructor(
    private readonly write: (s: string) => void = (s) => process.stdout.write(s),
    private readonly tty: boolean = !!process.stdout.isTTY,
    private readonly intervalMs = 5000,
  ) {}

  start(label: string, total: number, unit = "it", initial = 0): void {
    this.label = label;
    this.initial = initial;
    this.total = total;
    this.unit = unit;
    this.t0 = Date.now();
    this.lastPrint = this.t0;
  }

  line(done: number, info?: string): string {
    const elapsed = (Date.now() - this.t0) / 1000;
    const rate = (done - this.initial) / Math.max(elapsed, 1e-9);
    const eta = (this.total - done) / rate;
    const pct = this.total ? Math.floor((100 * done) / this.total) : 100;
    const width = 20;
    const filled = this.total ? Math.round((width * done) / this.total) : width;
    const bar = "#".repeat(filled) + ".".repeat(width - filled);
    return `${this.label} [${bar}] ${pct}% ${done}/${this.total} ${this.unit} ` +
      `${rate.toFixed(1)} ${this.unit}/s elapsed ${formatDuration(elapsed)} ETA ${done > this.initial ? formatDuration(eta) : "?"}` +
      (info ? ` | ${info}` : "");
  }

  update(done: number, info?: string): void {
    const now = Date.now();
    if (this.tty) {
      const l = this.line(done, info);
      this.write("\r" + l + " ".repeat(Math.max(0, this.lastLen - l.length)));
      this.lastLen = l.length;
    } else if (now - this.lastPrint >= this.intervalMs) {
      this.lastPrint = now;
      this.write(this.line(done, info) + "\n");
    }
  }

  end(summary?: string): void {
    if (this.tty) this.write("\r" + " ".repeat(this.lastLen) + "\r");
    this.lastLen = 0;
    if (summary) this.write(summary + "\n");
  }
}

/** A listener that prints nothing (tests, library use). */
export const silentProgress: ProgressListener = { start() {}, update() {}, end() {} };

/**
 * Live training display in a notebook: one output that tslab's updatable display replaces as training goes, with
 * the progress line (bar, rate, ETA) above the training curves of the epochs so far (rendered to inline SVG). It is a
 * ProgressListener, and `onEpoch` feeds it the curves. Outside a notebook, `liveProgress()` returns the terminal's
 * progress line instead.
 *
 * The bundle is text/html (the line and the SVG) plus text/plain (the line): a Vega-Lite bundle cannot carry the
 * progress line, and an update must replace everything at once. Updates are throttled (one per `intervalMs`, and
 * always at an epoch's end) so that a fast loop does not flood the kernel.
 */
import type { EpochMetrics, RunRecord } from "../results/types";
import { LineProgress, type ProgressListener } from "../train/progress";
import { inNotebook, sendDisplayBundle } from "./display";
import { renderSvg } from "./render";
import { trainingCurvesSpec } from "./specs";
import { escapeHtml } from "../report/html";

let counter = 0;

export class LiveTraining implements ProgressListener {
  private readonly id = `minicifar-live-${process.pid}-${Date.now()}-${++counter}`;
  private readonly line = new LineProgress(() => {}, false, 0);
  private label = "";
  private shown = false;
  private last = 0;
  private text = "";
  private svg = "";
  private epochs: EpochMetrics[] = [];
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly intervalMs = 1000) {}

  start(label: string, total: number, unit?: string, initial?: number): void {
    this.label = label;
    this.epochs = [];
    this.svg = "";
    this.line.start(label, total, unit, initial);
    this.text = `${label}: starting`;
    this.send(true);
  }

  update(done: number, info?: string): void {
    this.text = this.line.line(done, info);
    if (Date.now() - this.last >= this.intervalMs) this.send();
  }

  /** The metrics of a finished epoch: the curves are redrawn. */
  onEpoch(m: EpochMetrics): void {
    this.epochs.push(m);
    const run = { id: this.label, task: "scratch", model: { name: this.label }, epochs: this.epochs } as unknown as RunRecord;
    this.pending = this.pending
      .then(() => renderSvg(trainingCurvesSpec(run, { width: 300, height: 180 })))
      .then((svg) => {
        this.svg = svg;
        this.send(true);
      })
      .catch(() => {});
  }

  end(summary?: string): void {
    if (summary) this.text = summary;
    this.pending = this.pending.then(() => this.send(true));
  }

  /** Resolves when the last update has been sent (the curves render asynchronously). */
  flush(): Promise<void> {
    return this.pending;
  }

  private send(force = false): void {
    if (!force && Date.now() - this.last < this.intervalMs) return;
    this.last = Date.now();
    const html = `<div class="minicifar-live"><pre style="margin:0 0 4px 0">${escapeHtml(this.text)}</pre>${this.svg}</div>`;
    sendDisplayBundle({ "text/html": html, "text/plain": this.text }, { displayId: this.id, update: this.shown });
    this.shown = true;
  }
}

/** A LiveTraining display in a tslab notebook, else the terminal's progress line. */
export function liveProgress(): ProgressListener {
  return inNotebook() ? new LiveTraining() : new LineProgress();
}

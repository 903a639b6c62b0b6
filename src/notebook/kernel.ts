/**
 * A minimal Jupyter client for one kernel process over ZeroMQ: connection file, process, shell/control
 * `Dealer`s, iopub `Subscriber`, and cell execution with output collection.
 */
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as zmq from "zeromq";
import { OutputCollector } from "./outputs";
import type { Output } from "./nbformat";
import { decode, encode, makeHeader, newKey, newSessionId, type JupyterMessage } from "./wire";

export interface ConnectionInfo {
  transport: "tcp";
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: "hmac-sha256";
  kernel_name: string;
}

export interface KernelStartOptions {
  /** Kernel executable (tslab binary); started as `<binary> kernel --config-path <conn.json>`. */
  binary: string;
  cwd: string;
  env?: Record<string, string>;
  /** How long to wait for the kernel to answer on iopub (default 60 s). */
  startTimeoutMs?: number;
  kernelName?: string;
}

export interface ExecuteOptions {
  timeoutMs?: number;
  /** Called with each iopub output (stream text, display data) as it arrives. */
  onOutput?: (o: Output) => void;
  /** Collect into this collector (so a caller sees partial outputs even when the cell times out). */
  collector?: OutputCollector;
}

export interface ExecuteResult {
  status: "ok" | "error" | "abort";
  executionCount: number | null;
  outputs: Output[];
  /** nbclient-style timestamps: iopub.status.busy, shell.execute_reply, iopub.status.idle (ISO strings). */
  timing: Record<string, string>;
  reply: Record<string, unknown>;
}

export class KernelDiedError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly signal: string | null,
  ) {
    super(message);
    this.name = "KernelDiedError";
  }
}

export class CellTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`cell did not finish within ${(timeoutMs / 1000).toFixed(1)} s`);
    this.name = "CellTimeoutError";
  }
}

/** Reserve `n` distinct free TCP ports on 127.0.0.1. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((res, rej) => {
        srv.once("error", rej);
        srv.listen(0, "127.0.0.1", () => res());
      });
      ports.push((srv.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
  }
}

interface Pending {
  msgId: string;
  collector: OutputCollector;
  reply?: JupyterMessage;
  idle: boolean;
  timing: Record<string, string>;
  resolve: () => void;
  reject: (e: Error) => void;
  onOutput?: (o: Output) => void;
}

/** Kernel processes started by this module that are still alive; killed if Node exits. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function killLive(): void {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
}
/**
 * Never leave a kernel behind: kill live kernels when Node exits, and on SIGINT/SIGTERM/SIGHUP (Node would exit
 * without an "exit" event). When ours is the only handler, the signal is re-raised so the default action follows.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", killLive);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const handler = () => {
      killLive();
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

export class KernelClient {
  readonly session = newSessionId();
  private shell = new zmq.Dealer();
  private control = new zmq.Dealer();
  private iopub = new zmq.Subscriber();
  private sendChain: Promise<unknown> = Promise.resolve();
  private pending = new Map<string, Pending>();
  private shellWaiters = new Map<string, (m: JupyterMessage) => void>();
  private iopubListeners = new Set<(m: JupyterMessage) => void>();
  private closed = false;
  private lastErrorAt = 0;
  private stderrTail = "";
  private exitInfo: { code: number | null; signal: string | null } | null = null;
  private exitPromise: Promise<void>;
  /** Content of the kernel_info_reply (language_info, implementation, …), once it arrived. */
  kernelInfo: Record<string, unknown> | undefined;
  /** display_id → outputs, shared across cells (update_display_data may target an earlier cell). */
  readonly displays = new Map<string, Output[]>();

  private constructor(
    readonly child: ChildProcess,
    readonly conn: ConnectionInfo,
    private readonly connDir: string,
  ) {
    this.exitPromise = new Promise((res) => {
      child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(child);
        this.failAll(this.diedError());
        res();
      });
    });
    child.stderr?.on("data", (b: Buffer) => {
      this.stderrTail = (this.stderrTail + b.toString()).slice(-4000);
    });
    child.stdout?.on("data", (b: Buffer) => {
      this.stderrTail = (this.stderrTail + b.toString()).slice(-4000);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  /** Output the kernel process wrote to its own stdout/stderr (outside cells), last 4000 chars. */
  get processOutput(): string {
    return this.stderrTail;
  }

  /** Start the kernel and wait until it answers (an iopub status for our kernel_info_request). */
  static async start(opts: KernelStartOptions): Promise<KernelClient> {
    const ports = await freePorts(5);
    const conn: ConnectionInfo = {
      transport: "tcp",
      ip: "127.0.0.1",
      shell_port: ports[0],
      iopub_port: ports[1],
      stdin_port: ports[2],
      control_port: ports[3],
      hb_port: ports[4],
      key: newKey(),
      signature_scheme: "hmac-sha256",
      kernel_name: opts.kernelName ?? "tslab",
    };
    const connDir = fs.mkdtempSync(path.join(os.tmpdir(), "minicifar-kernel-"));
    const connFile = path.join(connDir, "kernel.json");
    fs.writeFileSync(connFile, JSON.stringify(conn, null, 1), { mode: 0o600 });

    installExitHook();
    const child = spawn(opts.binary, ["kernel", "--config-path", connFile], {
      cwd: opts.cwd,
      env: { ...process.env, ...(opts.env ?? {}) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(child);
    const spawnError = new Promise<Error>((res) => child.once("error", (e) => res(e)));
    const kc = new KernelClient(child, conn, connDir);
    try {
      await Promise.race([
        kc.connectAndWait(opts.startTimeoutMs ?? 60_000),
        spawnError.then((e) => {
          throw new Error(`cannot start kernel ${opts.binary}: ${e.message}`);
        }),
      ]);
    } catch (err) {
      await kc.shutdown(0).catch(() => undefined);
      throw err;
    }
    return kc;
  }

  private diedError(): KernelDiedError {
    const info = this.exitInfo ?? { code: null, signal: null };
    const how = info.signal ? `signal ${info.signal}` : `exit code ${info.code}`;
    const tail = this.stderrTail.trim() ? `\nkernel output:\n${this.stderrTail.trim()}` : "";
    return new KernelDiedError(`kernel process died (${how})${tail}`, info.code, info.signal);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private async connectAndWait(timeoutMs: number): Promise<void> {
    const addr = (port: number) => `tcp://${this.conn.ip}:${port}`;
    this.shell.connect(addr(this.conn.shell_port));
    this.control.connect(addr(this.conn.control_port));
    this.iopub.connect(addr(this.conn.iopub_port));
    this.iopub.subscribe();
    void this.readLoop(this.shell, (m) => this.onShell(m));
    void this.readLoop(this.control, (m) => this.onShell(m));
    void this.readLoop(this.iopub, (m) => this.onIopub(m));

    const sent = new Set<string>();
    let timer: NodeJS.Timeout | undefined;
    let resend: NodeJS.Timeout | undefined;
    let listener: ((m: JupyterMessage) => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        listener = (m) => {
          if (m.header.msg_type === "status" && sent.has(String(m.parent_header.msg_id))) resolve();
        };
        this.iopubListeners.add(listener);
        void this.exitPromise.then(() => reject(this.startDiedError()));
        timer = setTimeout(() => {
          const tail = this.stderrTail.trim() ? `\nkernel output:\n${this.stderrTail.trim()}` : "";
          reject(new Error(`kernel did not answer within ${(timeoutMs / 1000).toFixed(0)} s${tail}`));
        }, timeoutMs);
        // Requests sent before the kernel binds wait in the Dealer's queue; resending only covers the iopub
        // slow-joiner race, so back off (200 ms → 1 s) rather than pile up requests while tslab starts.
        let delay = 200;
        const ping = () => {
          const header = makeHeader("kernel_info_request", this.session);
          sent.add(header.msg_id);
          this.send(this.shell, header, {}).catch(reject);
          resend = setTimeout(ping, delay);
          delay = Math.min(delay * 2, 1000);
        };
        ping();
      });
    } finally {
      clearTimeout(timer);
      clearTimeout(resend);
      if (listener) this.iopubListeners.delete(listener);
    }
  }

  private startDiedError(): Error {
    const e = this.diedError();
    e.message = `kernel exited during start-up: ${e.message}`;
    return e;
  }

  private async readLoop(sock: zmq.Dealer | zmq.Subscriber, handle: (m: JupyterMessage) => void): Promise<void> {
    try {
      for await (const frames of sock) {
        let msg: JupyterMessage;
        try {
          msg = decode(this.conn.key, frames as Buffer[]);
        } catch {
          continue; // unsigned or malformed message: ignore, as Jupyter clients do
        }
        handle(msg);
      }
    } catch {
      /* socket closed */
    }
  }

  private send(sock: zmq.Dealer, header: ReturnType<typeof makeHeader>, content: Record<string, unknown>): Promise<void> {
    const frames = encode(this.conn.key, { header, parent_header: {}, metadata: {}, content });
    const p = this.sendChain.then(() => sock.send(frames));
    this.sendChain = p.catch(() => undefined);
    return p;
  }

  private onShell(m: JupyterMessage): void {
    const parentId = String(m.parent_header.msg_id ?? "");
    const waiter = this.shellWaiters.get(parentId);
    if (waiter) {
      this.shellWaiters.delete(parentId);
      waiter(m);
    }
    if (m.header.msg_type === "kernel_info_reply") this.kernelInfo ??= m.content;
    const p = this.pending.get(parentId);
    if (p && m.header.msg_type === "execute_reply") {
      p.reply = m;
      // When the reply arrived: tslab's reply header carries the request's start time, not the reply's.
      p.timing["shell.execute_reply"] = new Date().toISOString();
      this.maybeFinish(p);
    }
  }

  private onIopub(m: JupyterMessage): void {
    for (const l of this.iopubListeners) l(m);
    const parentId = String(m.parent_header.msg_id ?? "");
    const type = m.header.msg_type;
    if (type === "update_display_data") {
      // May target a display from any cell.
      OutputCollector.updateDisplay(this.displays, m.content);
      return;
    }
    const p = this.pending.get(parentId);
    if (!p) return;
    const date = m.header.date ?? new Date().toISOString();
    if (type === "status") {
      const state = (m.content as { execution_state?: string }).execution_state;
      if (state === "busy") p.timing["iopub.status.busy"] = date;
      if (state === "idle") {
        p.timing["iopub.status.idle"] = date;
        p.idle = true;
        this.maybeFinish(p);
      }
      return;
    }
    if (type === "execute_input") {
      p.timing["iopub.execute_input"] = date;
      return;
    }
    const added = p.collector.handle(type, m.content);
    if (added && p.onOutput) p.onOutput(added);
  }

  private maybeFinish(p: Pending): void {
    if (p.idle && p.reply) {
      this.pending.delete(p.msgId);
      p.resolve();
    }
  }

  /** Execute `code`, resolving when both the execute_reply and the iopub idle status have arrived. */
  async execute(code: string, opts: ExecuteOptions = {}): Promise<ExecuteResult> {
    if (!this.alive) throw this.diedError();
    if (this.closed) throw new Error("kernel client is closed");
    // tslab aborts requests arriving within ~200 ms after an error.
    const since = Date.now() - this.lastErrorAt;
    if (since < 300) await new Promise((r) => setTimeout(r, 300 - since));

    const header = makeHeader("execute_request", this.session);
    const collector = opts.collector ?? new OutputCollector(this.displays);
    let timer: NodeJS.Timeout | undefined;
    const p: Pending = {
      msgId: header.msg_id,
      collector,
      idle: false,
      timing: {},
      resolve: () => undefined,
      reject: () => undefined,
      onOutput: opts.onOutput,
    };
    const done = new Promise<void>((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
    });
    this.pending.set(header.msg_id, p);
    try {
      await this.send(this.shell, header, {
        code,
        silent: false,
        store_history: true,
        user_expressions: {},
        allow_stdin: false,
        stop_on_error: true,
      });
      await (opts.timeoutMs && opts.timeoutMs > 0
        ? Promise.race([
            done,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new CellTimeoutError(opts.timeoutMs!)), opts.timeoutMs);
            }),
          ])
        : done);
    } finally {
      clearTimeout(timer);
      this.pending.delete(header.msg_id);
    }
    const reply = (p.reply?.content ?? {}) as Record<string, unknown>;
    const status = (reply.status as ExecuteResult["status"]) ?? "error";
    if (status === "error") this.lastErrorAt = Date.now();
    const count = typeof reply.execution_count === "number" ? reply.execution_count : null;
    return { status, executionCount: count, outputs: collector.outputs, timing: p.timing, reply };
  }

  /** Ask the kernel to shut down (control channel), wait up to `graceMs`, then kill it. Always cleans up. */
  async shutdown(graceMs = 3000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.alive && graceMs > 0) {
      try {
        const header = makeHeader("shutdown_request", this.session);
        await Promise.race([
          this.send(this.control, header, { restart: false }),
          new Promise((r) => setTimeout(r, 500)),
        ]);
        await Promise.race([this.exitPromise, new Promise((r) => setTimeout(r, graceMs))]);
      } catch {
        /* fall through to kill */
      }
    }
    if (this.alive) {
      this.child.kill("SIGTERM");
      await Promise.race([this.exitPromise, new Promise((r) => setTimeout(r, 1000))]);
    }
    if (this.alive) {
      this.child.kill("SIGKILL");
      await Promise.race([this.exitPromise, new Promise((r) => setTimeout(r, 2000))]);
    }
    for (const s of [this.shell, this.control, this.iopub]) {
      try {
        s.linger = 0;
        s.close();
      } catch {
        /* already closed */
      }
    }
    this.failAll(new Error("kernel shut down"));
    fs.rmSync(this.connDir, { recursive: true, force: true });
  }
}

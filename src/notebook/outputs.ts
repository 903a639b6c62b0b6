/**
 * Turns iopub messages into nbformat outputs, like nbclient: consecutive streams of the same name merge,
 * `clear_output` (with `wait`), and display ids that `update_display_data` can later replace.
 */
import type { DisplayDataOutput, ExecuteResultOutput, MimeBundle, Output, StreamOutput } from "./nbformat";
import { joinSource } from "./nbformat";

interface DisplayContent {
  data?: MimeBundle;
  metadata?: Record<string, unknown>;
  transient?: { display_id?: string };
  execution_count?: number | null;
}

export class OutputCollector {
  readonly outputs: Output[] = [];
  private clearPending = false;

  constructor(private readonly displays: Map<string, Output[]> = new Map()) {}

  /** Replace data/metadata of every output shown with this display id (in any cell). */
  static updateDisplay(displays: Map<string, Output[]>, content: unknown): void {
    const c = content as DisplayContent;
    const id = c.transient?.display_id;
    if (!id) return;
    for (const o of displays.get(id) ?? []) {
      if (o.output_type === "display_data" || o.output_type === "execute_result") {
        o.data = c.data ?? {};
        o.metadata = c.metadata ?? {};
      }
    }
  }

  private flushClear(): void {
    if (this.clearPending) {
      this.clearPending = false;
      this.clear();
    }
  }

  private clear(): void {
    for (const o of this.outputs) {
      const id = (o as DisplayDataOutput).transient?.display_id;
      if (id) {
        const list = this.displays.get(id)?.filter((x) => x !== o);
        if (list) this.displays.set(id, list);
      }
    }
    this.outputs.length = 0;
  }

  /** Apply one iopub message; returns the output it added or extended, if any. */
  handle(msgType: string, content: unknown): Output | undefined {
    switch (msgType) {
      case "stream": {
        const c = content as { name?: string; text?: string };
        const name = c.name === "stderr" ? "stderr" : "stdout";
        const text = c.text ?? "";
        this.flushClear();
        const last = this.outputs[this.outputs.length - 1];
        if (last && last.output_type === "stream" && last.name === name) {
          last.text = joinSource(last.text) + text;
          return { output_type: "stream", name, text };
        }
        const o: StreamOutput = { output_type: "stream", name, text };
        this.outputs.push(o);
        return { ...o };
      }
      case "display_data":
      case "execute_result": {
        const c = content as DisplayContent;
        this.flushClear();
        const o: DisplayDataOutput | ExecuteResultOutput =
          msgType === "display_data"
            ? { output_type: "display_data", data: c.data ?? {}, metadata: c.metadata ?? {} }
            : { output_type: "execute_result", data: c.data ?? {}, metadata: c.metadata ?? {}, execution_count: c.execution_count ?? null };
        const id = c.transient?.display_id;
        if (id) {
          if (o.output_type === "display_data") o.transient = { display_id: id };
          const list = this.displays.get(id) ?? [];
          list.push(o);
          this.displays.set(id, list);
        }
        this.outputs.push(o);
        return o;
      }
      case "error": {
        const c = content as { ename?: string; evalue?: string; traceback?: string[] };
        this.flushClear();
        const o: Output = { output_type: "error", ename: c.ename ?? "", evalue: c.evalue ?? "", traceback: c.traceback ?? [] };
        this.outputs.push(o);
        return o;
      }
      case "clear_output": {
        const wait = Boolean((content as { wait?: boolean }).wait);
        if (wait) this.clearPending = true;
        else this.clear();
        return undefined;
      }
      default:
        return undefined;
    }
  }
}

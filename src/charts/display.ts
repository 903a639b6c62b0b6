/**
 * Notebook display of charts: one display_data bundle with the Vega-Lite spec, an SVG
 * fallback (for nbconvert and our report) and a text line.
 */
import type { TopLevelSpec } from "vega-lite";
import { renderSvg } from "./render";

export const VEGALITE_MIME = "application/vnd.vegalite.v5+json";

export type MimeBundle = Record<string, unknown>;

type WriteDisplayData = (msg: { data: MimeBundle; metadata: object; transient: object }, update: boolean) => void;

/**
 * tslab's internal display hook. It is internal API, so every use goes through here.
 * Only a module already loaded by a running tslab kernel counts: in plain Node we do not
 * load tslab (which would pull in its TypeScript compiler) and return null.
 */
function tslabWriter(): WriteDisplayData | null {
  for (const key of Object.keys(require.cache)) {
    if (/[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(key)) {
      const fn = (require.cache[key]?.exports as { lastWriteDisplayData?: WriteDisplayData | null } | undefined)?.lastWriteDisplayData;
      if (typeof fn === "function") return fn;
    }
  }
  return null;
}

/** True inside a running tslab kernel (where display bundles reach the notebook). */
export function inNotebook(): boolean {
  return tslabWriter() !== null;
}

/**
 * Send one display_data bundle. Returns false (and does nothing) outside a tslab kernel. With `displayId`, the
 * output can be replaced later: `update: true` sends update_display_data for that id (Jupyter's updatable display).
 */
export function sendDisplayBundle(data: MimeBundle, o: { displayId?: string; update?: boolean } = {}): boolean {
  const write = tslabWriter();
  if (!write) return false;
  write({ data, metadata: {}, transient: o.displayId ? { display_id: o.displayId } : {} }, o.update === true);
  return true;
}

function titleOf(spec: TopLevelSpec): string {
  const t = (spec as { title?: unknown }).title;
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as { text?: unknown }).text === "string") return (t as { text: string }).text;
  return "chart";
}

/** Build the mime bundle for a spec: Vega-Lite JSON + rendered SVG + text. */
export async function chartBundle(spec: TopLevelSpec): Promise<MimeBundle> {
  const svg = await renderSvg(spec);
  return {
    [VEGALITE_MIME]: spec,
    "image/svg+xml": svg,
    "text/plain": `[Vega-Lite chart: ${titleOf(spec)}]`,
  };
}

/**
 * Display a chart in the notebook. Outside tslab (plain Node) it prints a short note
 * instead and returns normally.
 */
export async function displayChart(spec: TopLevelSpec): Promise<void> {
  const bundle = await chartBundle(spec);
  if (!sendDisplayBundle(bundle)) {
    const svg = bundle["image/svg+xml"] as string;
    console.log(`[chart "${titleOf(spec)}": ${svg.length} characters of SVG; run inside a tslab notebook to see it]`);
  }
}

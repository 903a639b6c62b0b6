/**
 * papermill-style parameters: the cell tagged `parameters` holds defaults; a new cell tagged
 * `injected-parameters` right after it re-declares the given values as TypeScript.
 *
 * tslab accepts re-declaring `let`/`const` names in a later cell (verified with tslab 1.0.22), so the injected
 * cell repeats each name's keyword and type annotation from the parameters cell: `const profile: Profile =
 * "full";` keeps its type for later cells, and works for `const` where a plain assignment would not.
 */
import { randomBytes } from "crypto";
import { joinSource, splitLines, type Cell, type CodeCell, type Notebook } from "./nbformat";

export const PARAMETERS_TAG = "parameters";
export const INJECTED_TAG = "injected-parameters";

export interface Declaration {
  keyword: "let" | "const" | "var";
  type?: string;
}

function tags(c: Cell): string[] {
  const t = c.metadata?.tags;
  return Array.isArray(t) ? t : [];
}

/** Top-level `let|const|var name[: type] =` declarations in the parameters cell's source. */
export function parseDeclarations(source: string): Map<string, Declaration> {
  const out = new Map<string, Declaration>();
  const re = /^[ \t]*(?:export[ \t]+)?(let|const|var)[ \t]+([A-Za-z_$][\w$]*)[ \t]*(?::([^=\n]+?))?[ \t]*=(?!=)/gm;
  for (const m of source.matchAll(re)) {
    const type = m[3]?.trim();
    out.set(m[2], { keyword: m[1] as Declaration["keyword"], type: type && !type.endsWith("=>") ? type : undefined });
  }
  return out;
}

/** A JavaScript/TypeScript literal for a parameter value (JSON, plus undefined/NaN/±Infinity). */
export function toTsLiteral(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "number" && !Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function" || typeof value === "symbol") {
    throw new Error(`parameter value of type ${typeof value} cannot be written as TypeScript`);
  }
  const json = JSON.stringify(value);
  if (json === undefined) throw new Error(`parameter value ${String(value)} cannot be written as TypeScript`);
  return json;
}

const IDENT = /^[A-Za-z_$][\w$]*$/;

/** The source of the injected-parameters cell. */
export function parametersSource(params: Record<string, unknown>, declared: Map<string, Declaration>): string {
  const lines = ["// Parameters injected by minicifar-lab"];
  for (const [name, value] of Object.entries(params)) {
    if (!IDENT.test(name)) throw new Error(`parameter name ${JSON.stringify(name)} is not a valid identifier`);
    const d = declared.get(name);
    const keyword = d?.keyword ?? "let";
    const type = d?.type ? `: ${d.type}` : "";
    lines.push(`${keyword} ${name}${type} = ${toTsLiteral(value)};`);
  }
  return lines.join("\n") + "\n";
}

export interface InjectResult {
  /** Index of the injected cell in `nb.cells`. */
  index: number;
  warnings: string[];
}

/**
 * Insert (or replace) the injected-parameters cell. Modifies `nb` in place. Any earlier injected cell is removed,
 * so re-running an executed notebook does not stack them. With no parameters, only the old cell is removed.
 */
export function injectParameters(nb: Notebook, params: Record<string, unknown> | undefined): InjectResult | undefined {
  nb.cells = nb.cells.filter((c) => !tags(c).includes(INJECTED_TAG));
  if (!params || Object.keys(params).length === 0) return undefined;
  const pIndex = nb.cells.findIndex((c) => c.cell_type === "code" && tags(c).includes(PARAMETERS_TAG));
  const declared = pIndex >= 0 ? parseDeclarations(joinSource(nb.cells[pIndex].source)) : new Map<string, Declaration>();
  const warnings: string[] = [];
  if (pIndex < 0) {
    warnings.push("no cell tagged \"parameters\": injecting parameters at the top of the notebook");
  } else {
    for (const name of Object.keys(params)) {
      if (!declared.has(name)) {
        warnings.push(`parameter "${name}" is not declared in the parameters cell; declaring it with let`);
      }
    }
  }
  const cell: CodeCell = {
    cell_type: "code",
    execution_count: null,
    metadata: { tags: [INJECTED_TAG] },
    outputs: [],
    source: splitLines(parametersSource(params, declared)),
  };
  if (nb.nbformat_minor >= 5) cell.id = randomBytes(4).toString("hex") + "-injected";
  const index = pIndex + 1; // 0 when there is no parameters cell
  nb.cells.splice(index, 0, cell);
  return { index, warnings };
}

/**
 * `{{placeholder}}` templates. Each template declares which placeholders it must contain;
 * a missing required placeholder, or an unknown one, is an error naming template and
 * placeholder. Substitution is a single pass, so values may contain "{{" safely.
 */
import * as fs from "fs";
import * as path from "path";

export const DEFAULT_TEMPLATES_DIR = path.resolve(__dirname, "..", "..", "templates");

export interface TemplateContract {
  /** Placeholders the template must contain. */
  required: readonly string[];
  /** Placeholders it may contain. */
  optional: readonly string[];
}

/** The data contract of the shipped templates (see templates/README.md). */
export const TEMPLATE_CONTRACTS: Record<string, TemplateContract> = {
  "report.html": { required: ["title", "css", "toc", "body"], optional: ["generated", "subtitle"] },
  "slides.html": { required: ["title", "css", "slides"], optional: ["generated", "subtitle"] },
};

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** Names of the placeholders that occur in a template text. */
export function placeholdersOf(text: string): Set<string> {
  return new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]));
}

/** Check a template text against its contract; throws naming the template and placeholder. */
export function checkTemplate(name: string, text: string, contract: TemplateContract): void {
  const found = placeholdersOf(text);
  for (const p of contract.required) {
    if (!found.has(p)) throw new Error(`template ${name} is missing the required placeholder {{${p}}}`);
  }
  const allowed = new Set([...contract.required, ...contract.optional]);
  for (const p of found) {
    if (!allowed.has(p)) {
      throw new Error(`template ${name} uses the unknown placeholder {{${p}}} (known: ${[...allowed].map((a) => `{{${a}}}`).join(", ")})`);
    }
  }
}

/** Substitute placeholders in one pass. Missing values become "". */
export function fillTemplate(text: string, values: Record<string, string>): string {
  return text.replace(PLACEHOLDER, (_, name: string) => values[name] ?? "");
}

/** Read a file from the templates folder, with a clear error when it is not there. */
export function readTemplateFile(dir: string, name: string): string {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) throw new Error(`template ${name} not found in ${dir}`);
  return fs.readFileSync(file, "utf8");
}

/** Load a contracted template (report.html or slides.html), check it, and fill it. */
export function renderTemplate(dir: string, name: string, values: Record<string, string>): string {
  const contract = TEMPLATE_CONTRACTS[name];
  if (!contract) throw new Error(`no placeholder contract is defined for template ${name}`);
  const text = readTemplateFile(dir, name);
  checkTemplate(path.join(dir, name), text, contract);
  return fillTemplate(text, values);
}

/** Small HTML helpers: escaping, ANSI stripping, and making SVGs safe to inline several times. */

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** Remove ANSI escape sequences (colours in tracebacks and progress bars). */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[\]PX^_][^\u0007\u001b]*(\u0007|\u001b\\)?|\u001b[@-Z\\-_]/g, "");
}

/** Apply carriage returns the way a terminal would (progress bars rewrite their line). */
export function applyCarriageReturns(text: string): string {
  return text
    .split("\n")
    .map((line) => {
      const parts = line.split("\r");
      if (parts.length === 1) return line;
      // The last non-empty segment wins (a trailing \r leaves the line as it was).
      for (let i = parts.length - 1; i >= 0; i--) if (parts[i] !== "") return parts[i];
      return "";
    })
    .join("\n");
}

/** Join nbformat multiline strings (string or string[]). */
export function joinSource(src: unknown): string {
  if (Array.isArray(src)) return src.map(String).join("");
  if (typeof src === "string") return src;
  return src == null ? "" : String(src);
}

/** A slug usable as an HTML id. */
export function slugify(text: string): string {
  const s = text
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return s || "section";
}

/**
 * Prepare an SVG document for inlining: drop the XML prolog/doctype, any <script> or
 * event-handler attributes, and prefix every id (and its url(#id) / href="#id" uses) so
 * several inline SVGs cannot steal each other's clip paths or gradients.
 */
export function inlineSvg(svg: string, idPrefix: string): string {
  let s = svg
    .replace(/<\?xml[^>]*\?>/gi, "")
    .replace(/<!DOCTYPE[^>]*>/gi, "")
    .replace(/<script[\s\S]*?<\/script\s*>/gi, "")
    .replace(/<script[^>]*\/>/gi, "")
    .replace(/\son[a-z]+\s*=\s*("[^"]*"|'[^']*')/gi, "")
    .trim();
  const ids = new Set<string>();
  for (const m of s.matchAll(/\sid\s*=\s*"([^"]+)"/g)) ids.add(m[1]);
  if (ids.size === 0) return s;
  const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const alt = [...ids].sort((a, b) => b.length - a.length).map(esc).join("|");
  s = s.replace(new RegExp(`(\\sid\\s*=\\s*")(${alt})(")`, "g"), `$1${idPrefix}$2$3`);
  s = s.replace(new RegExp(`url\\(\\s*(['"]?)#(${alt})\\1\\s*\\)`, "g"), `url($1#${idPrefix}$2$1)`);
  s = s.replace(new RegExp(`((?:xlink:)?href\\s*=\\s*")#(${alt})(")`, "g"), `$1#${idPrefix}$2$3`);
  return s;
}

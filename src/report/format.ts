/** Number formatting shared by the report and the slides. */

/** 272474 → "272k", 11173962 → "11.2M". */
export function formatParams(n: number): string {
  if (!Number.isFinite(n)) return "–";
  const a = Math.abs(n);
  if (a >= 1e9) return `${trim(n / 1e9)}G`;
  if (a >= 1e6) return `${trim(n / 1e6)}M`;
  if (a >= 1e3) return `${trim(n / 1e3)}k`;
  return String(Math.round(n));
}

function trim(x: number): string {
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return x.toFixed(digits).replace(/\.?0+$/, "");
}

/** Fraction in [0,1] → "86.88%". */
export function formatPercent(fraction: number, digits = 2): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)}%` : "–";
}

/** Seconds → "45 s", "12 min 3 s", "2 h 05 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${String(Math.round(seconds - m * 60)).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m - h * 60).padStart(2, "0")} min`;
}

/** Plain number with up to `digits` significant decimals, e.g. 0.0005 → "5e-4" style kept short. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return "–";
  if (x !== 0 && Math.abs(x) < 1e-3) return x.toExponential(0).replace("e-", "e-");
  return String(+x.toPrecision(4));
}

/** Throughput → "56.1 img/s". */
export function formatRate(x: number): string {
  return Number.isFinite(x) ? `${x >= 100 ? Math.round(x) : x.toFixed(1)} img/s` : "–";
}

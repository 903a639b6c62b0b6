/**
 * Slides HTML → PDF with the system Chromium through puppeteer. A missing or broken
 * Chromium is reported as a message, never thrown, so the HTML outputs always survive.
 */
import * as fs from "fs";
import puppeteer from "puppeteer";
import { writeFileAtomic } from "../results/store";

export const DEFAULT_CHROMIUM = "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--headless",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export const CHROMIUM_INSTALL_HINT =
  'install it with "apt-get install -y chromium" (as root) or "sudo apt-get install -y chromium", or set LAB_CHROMIUM to a Chromium/Chrome binary';

/** Where a system Chromium or Chrome is looked for when neither the option nor LAB_CHROMIUM names one. */
export const CHROMIUM_CANDIDATES = [DEFAULT_CHROMIUM, "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"];

/** The Chromium binary to use: option, else LAB_CHROMIUM, else the first of CHROMIUM_CANDIDATES that exists. */
export function chromiumPath(option?: string): string {
  return option || process.env.LAB_CHROMIUM || CHROMIUM_CANDIDATES.find((p) => fs.existsSync(p)) || DEFAULT_CHROMIUM;
}

export interface SlideOverflow {
  /** 1-based slide number. */
  slide: number;
  title: string;
  /** The element that sticks out: tag and classes, e.g. "table.compact". */
  element: string;
  /** How far it sticks out of the slide's content area (CSS px, ≥ 1). */
  right: number;
  bottom: number;
}

export interface PdfResult {
  pdf?: string;
  error?: string;
  /** Content that does not fit its slide (empty when every slide fits), measured in the page before printing. */
  overflows?: SlideOverflow[];
}

/**
 * Measures, in a loaded slides page, every element of every `section.slide` against the slide's content box (the
 * slide minus its padding; the footer lives in the bottom padding and is skipped), and the scroll size of every
 * clipped box; the worst offender of each slide that does not fit is returned. Plain JavaScript text, evaluated in
 * the browser (a compiled function could carry helpers of the TypeScript loader that the page does not have).
 */
const MEASURE_OVERFLOWS = `(() => {
  const out = [];
  document.querySelectorAll("section.slide").forEach((slide, i) => {
    const r = slide.getBoundingClientRect();
    const cs = getComputedStyle(slide);
    const box = { right: r.right - parseFloat(cs.paddingRight), bottom: r.bottom - parseFloat(cs.paddingBottom) };
    const h = slide.querySelector("h1, h2");
    const title = h ? h.textContent.trim() : "";
    let worst = null;
    const consider = (el, right, bottom) => {
      if (right < 1 && bottom < 1) return;
      const name = el.tagName.toLowerCase() + Array.from(el.classList, (c) => "." + c).join("");
      if (!worst || Math.max(right, 0) + Math.max(bottom, 0) > worst.right + worst.bottom)
        worst = { slide: i + 1, title, element: name, right: Math.max(0, Math.round(right)), bottom: Math.max(0, Math.round(bottom)) };
    };
    slide.querySelectorAll("*").forEach((el) => {
      if (el.closest("footer") || el.closest("svg")) return;
      const b = el.getBoundingClientRect();
      if (b.width === 0 && b.height === 0) return;
      consider(el, b.right - box.right, b.bottom - box.bottom);
      if (getComputedStyle(el).overflow !== "visible") consider(el, el.scrollWidth - el.clientWidth, el.scrollHeight - el.clientHeight);
    });
    if (worst) out.push(worst);
  });
  return out;
})()`;

/** The overflow findings as lines for the build log. */
export function describeOverflows(o: SlideOverflow[]): string[] {
  return o.map((x) => `warning: slide ${x.slide} (${x.title}) does not fit: ${x.element} sticks out ${[x.right ? `${x.right} px right` : "", x.bottom ? `${x.bottom} px down` : ""].filter(Boolean).join(" and ")}`);
}

/** Print an HTML document (with CSS @page size) to `outFile`. Always closes the browser. */
export async function htmlToPdf(html: string, outFile: string, options: { chromium?: string; timeoutMs?: number } = {}): Promise<PdfResult> {
  const exe = chromiumPath(options.chromium);
  if (!fs.existsSync(exe)) {
    return { error: `PDF not written: Chromium not found at ${exe}; ${CHROMIUM_INSTALL_HINT}.` };
  }
  const timeout = options.timeoutMs ?? 60_000;
  let browser: Awaited<ReturnType<typeof puppeteer.launch>> | undefined;
  try {
    browser = await puppeteer.launch({ executablePath: exe, args: CHROMIUM_ARGS, headless: true, timeout });
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 720 });
    await page.setContent(html, { waitUntil: "load", timeout });
    await page.emulateMediaType("print");
    const overflows = (await page.evaluate(MEASURE_OVERFLOWS)) as SlideOverflow[];
    const bytes = await page.pdf({ preferCSSPageSize: true, printBackground: true, timeout });
    writeFileAtomic(outFile, bytes);
    return { pdf: outFile, overflows };
  } catch (err) {
    return { error: `PDF not written: Chromium at ${exe} failed: ${(err as Error).message}. If it is not a working Chromium, ${CHROMIUM_INSTALL_HINT}.` };
  } finally {
    if (browser) await browser.close().catch(() => undefined);
  }
}

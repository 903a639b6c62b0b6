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

export interface PdfResult {
  pdf?: string;
  error?: string;
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
    const bytes = await page.pdf({ preferCSSPageSize: true, printBackground: true, timeout });
    writeFileAtomic(outFile, bytes);
    return { pdf: outFile };
  } catch (err) {
    return { error: `PDF not written: Chromium at ${exe} failed: ${(err as Error).message}. If it is not a working Chromium, ${CHROMIUM_INSTALL_HINT}.` };
  } finally {
    if (browser) await browser.close().catch(() => undefined);
  }
}

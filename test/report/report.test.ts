import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync } from "child_process";
import { fixtureRuns } from "../results/fixture-runs";
import type { RunRecord } from "../../src/results/types";
import {
  buildReport,
  buildSlides,
  checkTemplate,
  conclusions,
  fillTemplate,
  formatDuration,
  formatParams,
  inlineSvg,
  renderBundle,
  TEMPLATE_CONTRACTS,
} from "../../src/report";

const FIX = path.join(__dirname, "..", "fixtures", "report");
const NOTEBOOK = path.join(FIX, "01-scratch-executed.ipynb");
const runs = fixtureRuns();
const CHROMIUM = "/usr/bin/chromium";
const hasChromium = fs.existsSync(CHROMIUM);
const TEMPLATES = path.join(__dirname, "..", "..", "templates");

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "report-test-"));
}

const quiet = () => undefined;

function countPdfPages(file: string): number {
  try {
    const info = execFileSync("pdfinfo", [file], { encoding: "utf8" });
    const m = /^Pages:\s+(\d+)/m.exec(info);
    if (m) return Number(m[1]);
  } catch {
    /* no pdfinfo: fall back to counting page objects */
  }
  const text = fs.readFileSync(file, "latin1");
  return (text.match(/\/Type\s*\/Page(?!s)/g) ?? []).length;
}

test("HTML report: TOC, markdown, escaped stream text, text/html, inline SVG, PNG, errors", async () => {
  const out = tmpDir();
  const res = await buildReport({ notebooks: [NOTEBOOK], runs, outDir: out, pdf: false, log: quiet });
  assert.equal(res.html, path.join(out, "report.html"));
  const html = fs.readFileSync(res.html, "utf8");
  // table of contents linking the notebook section (titled by its first heading)
  assert.match(html, /<nav class="toc"[\s\S]*<a href="#nb1-01-scratch-executed">Training from scratch<\/a>/);
  assert.equal((html.match(/<section class="notebook" id="nb1-01-scratch-executed">/g) ?? []).length, 1);
  // markdown through marked
  assert.match(html, /<strong>ResNet20<\/strong>/);
  assert.match(html, /<table>[\s\S]*<th>epochs<\/th>/);
  // stream containing <script> shows as text
  assert.ok(html.includes("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; is just text"));
  assert.ok(!html.includes("<script>alert"), "no live script from outputs or markdown");
  // ANSI stripped
  assert.ok(html.includes("epoch 1/4 val 41.2%"));
  // text/html rendered as HTML
  assert.ok(html.includes('<table class="summary"><tr><th>model</th>'));
  // vega-lite re-rendered to inline SVG (not the 10x10 fallback)
  assert.match(html, /<div class="output chart"><svg[^>]*class="marks"/);
  assert.ok(!html.includes('<rect id="r"'));
  // png as data URI
  assert.match(html, /<img alt="output image" src="data:image\/png;base64,iVBORw0KGgo[^"\s]+">/);
  // error shown, escaped
  assert.match(html, /<pre class="error">[^<]*Error: boom &lt;b&gt;/);
  // collapsible code
  assert.match(html, /<details class="source"><summary>/);
  // self-contained: inline CSS, nothing fetched
  assert.match(html, /<style>\s*\/\* Report stylesheet/);
  assert.ok(!/<link[^>]+href=|<script[^>]+src=/i.test(html));
  // results summary with charts
  assert.match(html, /id="results-summary"/);
  assert.ok((html.match(/<svg/g) ?? []).length >= 4);
  // the slides HTML is written too
  assert.ok(fs.existsSync(res.slidesHtml));
});

test("inline SVG ids are prefixed so several charts do not collide", () => {
  const svg = '<svg><defs><clipPath id="clip1"><rect/></clipPath></defs><g clip-path="url(#clip1)"></g><use href="#clip1"/></svg>';
  const out = inlineSvg(svg, "p1-");
  assert.ok(out.includes('id="p1-clip1"') && out.includes("url(#p1-clip1)") && out.includes('href="#p1-clip1"'));
});

test("a Vega-Lite bundle whose spec is broken falls back to the bundle's SVG", async () => {
  const html = await renderBundle({
    "application/vnd.vegalite.v5+json": { mark: "nonsense-mark", data: { values: [] } },
    "image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg"><rect id="fallback"/></svg>',
  });
  assert.match(html, /<svg[^>]*><rect id="[^"]*fallback"/);
});

test("slides: one section per slide, generated from the runs", async () => {
  const sections = await buildSlides(runs, { title: "Test deck" });
  assert.equal(sections.length, 7);
  for (const s of sections) assert.match(s, /^<section class="slide /);
  const all = sections.join("\n");
  assert.ok(all.includes("Chosen architecture: ResNet20-w16"));
  assert.ok(all.includes("16 / 32 / 64"));
  assert.ok(all.includes("Learning rate varied: 0.03, 0.05, 0.1"));
  assert.ok(all.includes("90.1%"), "fine-tune accuracy from the records");
});

test("slides without runs say so plainly and invent nothing", async () => {
  const sections = await buildSlides([], { title: "Empty deck" });
  const all = sections.join("\n");
  assert.ok(all.includes("No from-scratch runs are recorded"));
  assert.ok(all.includes("No transfer-learning runs"));
  assert.ok(all.includes("No runs are recorded yet"));
  assert.ok(!/\d+\.\d+%/.test(all.replace(/9\d\.\d\d%/g, "")), "no accuracy numbers other than kuangliu's");
});

test("slides with scratch runs only: transfer slide says there is no transfer run", async () => {
  const scratchOnly = runs.filter((r) => r.task === "scratch");
  const all = (await buildSlides(scratchOnly, { title: "x" })).join("\n");
  assert.ok(all.includes("No transfer-learning runs (linear probe or fine-tune) are recorded yet."));
  assert.ok(conclusions(scratchOnly).some((c) => c.startsWith("Transfer: no linear-probe")));
});

test("templates: the shipped ones satisfy their contracts; missing placeholders are named", () => {
  for (const [name, contract] of Object.entries(TEMPLATE_CONTRACTS)) {
    checkTemplate(name, fs.readFileSync(path.join(TEMPLATES, name), "utf8"), contract);
  }
  assert.throws(
    () => checkTemplate("slides.html", "<html>{{title}} {{css}}</html>", TEMPLATE_CONTRACTS["slides.html"]),
    /template slides\.html is missing the required placeholder \{\{slides\}\}/,
  );
  assert.throws(() => checkTemplate("report.html", "{{title}}{{css}}{{toc}}{{body}}{{oops}}", TEMPLATE_CONTRACTS["report.html"]), /unknown placeholder \{\{oops\}\}/);
  assert.equal(fillTemplate("a {{x}} b", { x: "{{x}}" }), "a {{x}} b");
});

test("buildReport with a broken template dir names the template and placeholder", async () => {
  const dir = tmpDir();
  for (const f of ["report.html", "report.css", "slides.css"]) fs.copyFileSync(path.join(TEMPLATES, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, "slides.html"), "<html><style>{{css}}</style><title>{{title}}</title></html>");
  await assert.rejects(
    buildReport({ notebooks: [NOTEBOOK], runs, outDir: tmpDir(), templatesDir: dir, pdf: false, log: quiet }),
    (err: Error) => err.message.includes("slides.html") && err.message.includes("{{slides}}"),
  );
});

test("formatters", () => {
  assert.equal(formatParams(272_474), "272k");
  assert.equal(formatParams(11_173_962), "11.2M");
  assert.equal(formatDuration(1710.4), "28 min 30 s");
  assert.equal(formatDuration(42), "42 s");
});

test("Chromium missing: HTML is written and the PDF error names the path and install command", async () => {
  const out = tmpDir();
  const prev = process.env.LAB_CHROMIUM;
  process.env.LAB_CHROMIUM = "/nonexistent/chromium";
  try {
    // A slides.pdf from an earlier build must not survive looking current.
    fs.writeFileSync(path.join(out, "slides.pdf"), "%PDF-1.4 outdated");
    const res = await buildReport({ notebooks: [NOTEBOOK], runs, outDir: out, log: quiet });
    assert.equal(res.pdf, undefined);
    assert.ok(fs.existsSync(res.html) && fs.existsSync(res.slidesHtml));
    assert.ok(!fs.existsSync(path.join(out, "slides.pdf")), "the outdated slides.pdf is removed");
    assert.match(res.pdfError ?? "", /\/nonexistent\/chromium/);
    assert.match(res.pdfError ?? "", /apt-get install -y chromium/);
  } finally {
    if (prev === undefined) delete process.env.LAB_CHROMIUM;
    else process.env.LAB_CHROMIUM = prev;
  }
});

test(
  "PDF: 16:9 pages, one per slide section",
  { skip: hasChromium ? false : `${CHROMIUM} does not exist (install with: apt-get install -y chromium)`, timeout: 90_000 },
  async () => {
    const out = tmpDir();
    const prev = process.env.LAB_CHROMIUM;
    delete process.env.LAB_CHROMIUM;
    try {
      const res = await buildReport({ notebooks: [NOTEBOOK], runs, outDir: out, chromium: CHROMIUM, log: quiet });
      assert.equal(res.pdfError, undefined);
      assert.equal(res.pdf, path.join(out, "slides.pdf"));
      const slidesHtml = fs.readFileSync(res.slidesHtml, "utf8");
      const sections = (slidesHtml.match(/<section class="slide[ "]/g) ?? []).length;
      assert.equal(sections, res.slides);
      assert.equal(countPdfPages(res.pdf!), sections);
      try {
        const info = execFileSync("pdfinfo", [res.pdf!], { encoding: "utf8" });
        assert.match(info, /Page size:\s+960 x 540 pts/);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    } finally {
      if (prev !== undefined) process.env.LAB_CHROMIUM = prev;
    }
  },
);

export type { RunRecord };

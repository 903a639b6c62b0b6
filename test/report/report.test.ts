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
import { describeOverflows, htmlToPdf } from "../../src/report/pdf";

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
  const families = new Set(runs.filter((r) => r.task === "scratch").map((r) => r.model.family)).size;
  // title, one per family, hyperparameters, strategy, results, accuracy vs params, compromises, transfer, conclusion
  assert.equal(sections.length, 1 + families + 7);
  for (const s of sections) assert.match(s, /^<section class="slide /);
  const all = sections.join("\n");
  const resnet = sections.find((s) => s.includes("<h2>ResNet: ResNet20-w16</h2>"))!;
  assert.ok(resnet, "the ResNet family's best run has its slide");
  assert.match(resnet, /Chosen architecture: the best validation accuracy/);
  for (const stage of ["stem", "layer1", "layer2", "layer3", "head"]) assert.ok(resnet.includes(`<td>${stage}</td>`), stage);
  assert.ok(resnet.includes("32×32×16") && resnet.includes("16×16×32") && resnet.includes("8×8×64"), "output sizes per stage");
  assert.ok(all.includes("Learning rate varied: 0.03, 0.05, 0.1"));
  assert.ok(all.includes("90.1%"), "fine-tune accuracy from the records");
});

const SWEEP_RUNS = path.join(FIX, "sweep-runs");
const sweepRuns = (): RunRecord[] => fs.readdirSync(SWEEP_RUNS).map((f) => JSON.parse(fs.readFileSync(path.join(SWEEP_RUNS, f), "utf8")) as RunRecord);

test("the conclusion names the best trade-off with its size, training time and latency", () => {
  const c = conclusions(sweepRuns());
  const t = c.find((x) => x.startsWith("Best trade-off: "));
  assert.ok(t, c.join("\n"));
  assert.match(t!, /VGG11-w16 \(74\.\d\d%; 579k parameters, [\d.]+ s of training, [\d.]+ ms per image\)/);
  assert.match(t!, /The smallest, ResNet8-w8 .*: [\d.]+ points less for 29\.3× fewer parameters/);
});

test("slides of a real quick build's exploration: each family's stages, the strategy per sweep, the compromise charts", async () => {
  const recs = sweepRuns();
  const sections = await buildSlides(recs, { title: "Quick deck" });
  const all = sections.join("\n");
  // Architecture slides: the best run of each family, its parameters from the record, stage parameters summing to it.
  for (const fam of ["ResNet", "PreActResNet", "DenseNet", "VGG"]) {
    const s = sections.find((x) => x.startsWith(`<section class="slide architecture"><h2>${fam}: `));
    assert.ok(s, fam);
  }
  const vgg = sections.find((x) => x.includes("<h2>VGG: VGG11-w16</h2>"))!;
  assert.match(vgg, /579k \(579,012\)/);
  for (const st of ["stage1", "stage5", "head"]) assert.ok(vgg.includes(`<td>${st}</td>`), st);
  // Strategy: one row per sweep, what it searched, its best run.
  const strategy = sections.find((x) => x.includes("<h2>Exploration strategy</h2>"))!;
  for (const stage of ["families", "optimisation", "model", "regularisation"]) assert.ok(strategy.includes(`<td>${stage}</td>`), stage);
  assert.match(strategy, /optimizer sgd, adam; learning rate 0\.002, 0\.02, 0\.05, 0\.1/);
  assert.match(strategy, /model ResNet8-w16, PreActResNet8-w16, VGG11-w16, DenseNet-g12-small/);
  assert.match(strategy, /Never varied: lr schedule cosine/);
  // Compromises: one chart with three panels (parameters, training time, latency).
  const comp = sections.find((x) => x.includes("Compromises"))!;
  for (const t of ["Trainable parameters (log scale)", "Training time (s, log scale)", "Inference latency (ms per image, log scale)"]) assert.ok(comp.includes(t), t);
  assert.ok(all.includes("Transfer learning") && all.includes("Conclusion"));
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
  "PDF of a real quick build: one page per slide, no slide overflows, and the four parts of the presentation",
  { skip: hasChromium ? false : `${CHROMIUM} does not exist (install with: apt-get install -y chromium)`, timeout: 120_000 },
  async () => {
    const out = tmpDir();
    const res = await buildReport({ notebooks: [NOTEBOOK], runs: sweepRuns(), outDir: out, chromium: CHROMIUM, log: quiet });
    assert.equal(res.pdfError, undefined);
    assert.equal(countPdfPages(res.pdf!), res.slides);
    assert.deepEqual(res.overflows, [], "every slide fits");
    let text = "";
    try {
      text = execFileSync("pdftotext", [res.pdf!, "-"], { encoding: "utf8" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (text) for (const part of ["VGG: VGG11-w16", "Exploration strategy", "Compromises", "Transfer learning", "Conclusion"]) assert.ok(text.includes(part), part);
    // The check does see content that does not fit: a slide with far too many items.
    const css = fs.readFileSync(path.join(TEMPLATES, "slides.css"), "utf8");
    const items = Array.from({ length: 60 }, (_, i) => `<li>item ${i}</li>`).join("");
    const html = `<!DOCTYPE html><html><head><style>${css}</style></head><body><section class="slide"><h2>Fits</h2><p>short</p></section><section class="slide"><h2>Too long</h2><div class="content"><ul>${items}</ul></div></section></body></html>`;
    const r = await htmlToPdf(html, path.join(out, "overflow.pdf"), { chromium: CHROMIUM });
    assert.equal(r.overflows?.length, 1);
    assert.equal(r.overflows![0].slide, 2);
    assert.equal(r.overflows![0].title, "Too long");
    assert.ok(r.overflows![0].bottom > 100);
    assert.match(describeOverflows(r.overflows!)[0], /slide 2 \(Too long\) does not fit: .* px down/);
  },
);

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
      assert.deepEqual(res.overflows, [], "every slide fits");
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

import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "path";
import { fixtureRuns } from "../results/fixture-runs";
import { KUANGLIU } from "../../src/results/kuangliu";
import {
  accuracyVsParamsSpec,
  displayChart,
  chartBundle,
  renderSvg,
  trainingCurvesSpec,
  tradeoffSpec,
  runLabels,
  LiveTraining,
  transferRows,
  transferSpec,
  OURS_LABEL,
  REFERENCE_LABEL,
  VEGALITE_MIME,
} from "../../src/charts";

const runs = fixtureRuns();

type AnyObj = Record<string, any>;

test("kuangliu table has the 14 models of the README with plausible values", () => {
  assert.equal(KUANGLIU.length, 14);
  const r18 = KUANGLIU.find((m) => m.model === "ResNet18");
  assert.deepEqual(r18 && [r18.accuracy, r18.params], [93.02, 11_173_962]);
  for (const m of KUANGLIU) {
    assert.ok(m.accuracy > 90 && m.accuracy < 100, m.model);
    assert.ok(m.params > 1e6 && m.params < 1e8, m.model);
  }
});

test("accuracy-vs-params: log x scale, all 14 kuangliu models, our runs labelled and distinguished", () => {
  const spec = accuracyVsParamsSpec(runs) as AnyObj;
  const values: AnyObj[] = spec.data.values;
  const ref = values.filter((v) => v.source === REFERENCE_LABEL);
  const ours = values.filter((v) => v.source === OURS_LABEL);
  assert.deepEqual(ref.map((v) => v.label).sort(), KUANGLIU.map((m) => m.model).sort());
  // best scratch run per model name: 4 architectures (the lr sweep duplicate collapses)
  assert.deepEqual(ours.map((v) => v.label).sort(), ["DenseNet-g12-small", "PreActResNet14-w16", "ResNet20-w16", "VGG11-w32"]);
  assert.equal(ours.find((v) => v.label === "ResNet20-w16")?.accuracy, 86.88);
  const points = spec.layer[0];
  assert.equal(points.encoding.x.scale.type, "log");
  assert.equal(points.encoding.x.field, "params");
  assert.equal(points.encoding.y.field, "accuracy");
  assert.deepEqual(points.encoding.color.scale.domain, [REFERENCE_LABEL, OURS_LABEL]);
  assert.equal(points.encoding.shape.field, "source");
  const textLayers = spec.layer.slice(1);
  assert.ok(textLayers.length >= 1 && textLayers.every((l: AnyObj) => l.mark.type === "text" && l.encoding.text.field === "label"));
  // every point carries a label position handled by some text layer
  const handled = new Set(textLayers.map((l: AnyObj) => l.transform[0].filter.equal));
  for (const v of values) assert.ok(handled.has(v.labelPos), v.label);
});

test("accuracy-vs-params without runs still shows the reference", () => {
  const spec = accuracyVsParamsSpec([]) as AnyObj;
  assert.equal(spec.data.values.length, 14);
});

test("transfer rows: best per task and model, in scratch/probe/finetune order", () => {
  const rows = transferRows(runs);
  assert.deepEqual([...new Set(rows.map((r) => r.task))], ["scratch", "probe", "finetune"]);
  assert.equal(rows.filter((r) => r.model === "ResNet20-w16").length, 1);
  assert.equal(rows.find((r) => r.task === "finetune")?.accuracy, 90.13);
  const spec = transferSpec(runs) as AnyObj;
  assert.equal(spec.layer[0].mark.type, "bar");
});

test("training curves spec has accuracy and loss panels", () => {
  const spec = trainingCurvesSpec(runs[0]) as AnyObj;
  assert.equal(spec.hconcat.length, 2);
  assert.equal(spec.data.values.length, runs[0].epochs.length * 4);
});

test("renderSvg returns an <svg> document for each spec", async () => {
  for (const spec of [accuracyVsParamsSpec(runs), transferSpec(runs), trainingCurvesSpec(runs.slice(0, 2))]) {
    const svg = await renderSvg(spec);
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\s*$/);
  }
  const svg = await renderSvg(accuracyVsParamsSpec(runs));
  assert.ok(svg.includes("DenseNet121") && svg.includes("ResNet20-w16"));
});

test("chart bundle carries Vega-Lite, SVG and text; displayChart outside tslab prints a note", async () => {
  const spec = transferSpec(runs);
  const bundle = await chartBundle(spec);
  assert.deepEqual(Object.keys(bundle).sort(), [VEGALITE_MIME, "image/svg+xml", "text/plain"].sort());
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    await displayChart(spec);
  } finally {
    console.log = orig;
  }
  assert.equal(lines.length, 1);
  assert.match(lines[0], /tslab/);
});

test("inside tslab, displayChart sends exactly one display_data bundle", async () => {
  const key = path.join(__dirname, "fake-tslab", "node_modules", "tslab", "dist", "jupyter.js");
  const sent: { data: Record<string, unknown>; update: boolean }[] = [];
  const fake = { lastWriteDisplayData: (msg: { data: Record<string, unknown> }, update: boolean) => void sent.push({ data: msg.data, update }) };
  (require.cache as Record<string, unknown>)[key] = { id: key, filename: key, loaded: true, exports: fake };
  try {
    await displayChart(accuracyVsParamsSpec(runs));
  } finally {
    delete require.cache[key];
  }
  assert.equal(sent.length, 1);
  assert.equal(sent[0].update, false);
  assert.deepEqual(Object.keys(sent[0].data).sort(), [VEGALITE_MIME, "image/svg+xml", "text/plain"].sort());
  assert.match(String(sent[0].data["image/svg+xml"]), /^<svg/);
});

test("transfer rows compare like with like: only scratch runs of the transferred architecture", () => {
  const same = runs.map((r) => (r.task === "scratch" && r.model.name === "ResNet20-w16" ? { ...r, model: { ...r.model, name: "ResNet18" } } : r));
  const rows = transferRows(same);
  assert.deepEqual([...new Set(rows.filter((r) => r.task === "scratch").map((r) => r.model))], ["ResNet18"]);
});

test("trade-off charts: accuracy against parameters, training time and inference latency on a log axis, the Pareto front marked", async () => {
  // The fixture records predate latency: give all but one a latency (the one without is left out of that chart).
  const scratch = runs.filter((r) => r.task === "scratch").map((r, i) => (i === 0 ? r : { ...r, inferenceMsPerImage: 0.05 + r.params / 1e6 }));
  for (const axis of ["params", "trainSeconds", "inferenceMsPerImage"] as const) {
    const spec = tradeoffSpec(scratch, axis) as AnyObj;
    const rows = spec.data.values as AnyObj[];
    const usable = scratch.filter((r) => Number.isFinite(r[axis] as number) && (r[axis] as number) > 0);
    assert.equal(rows.length, usable.length, axis);
    assert.ok(rows.length >= scratch.length - 1, axis);
    assert.equal(spec.layer[1].encoding.x.scale.type, "log");
    // The front: sorted by cost, each point more accurate than every cheaper one; every other point is beaten.
    const sorted = [...rows].sort((a, b) => a.cost - b.cost);
    let best = -Infinity;
    for (const r of sorted) {
      assert.equal(r.front, r.accuracy > best, `${axis} ${r.model}`);
      best = Math.max(best, r.accuracy);
    }
    assert.ok(rows.some((r) => r.front));
    assert.match(await renderSvg(spec as never), /^<svg/);
  }
  assert.throws(() => tradeoffSpec(scratch, "flops" as never));
});

test("run labels tell apart runs of one model by the settings they change, else by id", () => {
  const [a] = runs.filter((r) => r.task === "scratch");
  const variant = (id: string, train: AnyObj) => ({ ...a, id: `p/sweep/s/${id}`, train: { ...a.train, ...train } });
  const labels = runLabels([variant("h1", {}), variant("h2", { lr: 0.2 }), variant("h3", {}), variant("h4", { optimizer: "adam", momentum: undefined })]);
  assert.deepEqual(labels, [`${a.model.name} h1`, `${a.model.name} lr=0.2`, `${a.model.name} h3`, `${a.model.name} optimizer=adam`]);
  assert.deepEqual(runLabels([a]), [a.model.name]);
});

test("LiveTraining keeps one updatable output in a notebook: the first bundle is a display, every later one updates it", async () => {
  const key = path.join(__dirname, "fake-tslab", "node_modules", "tslab", "dist", "jupyter.js");
  const sent: { data: Record<string, unknown>; transient: AnyObj; update: boolean }[] = [];
  const fake = { lastWriteDisplayData: (msg: { data: Record<string, unknown>; transient: AnyObj }, update: boolean) => void sent.push({ data: msg.data, transient: msg.transient, update }) };
  (require.cache as Record<string, unknown>)[key] = { id: key, filename: key, loaded: true, exports: fake };
  try {
    const live = new LiveTraining(0);
    live.start("ResNet8 <b>", 4, "steps");
    live.update(1, "epoch 1/2");
    live.onEpoch({ epoch: 1, trainLoss: 1.2, trainAccuracy: 0.4, valLoss: 1.1, valAccuracy: 0.5, lr: 0.1, seconds: 1 });
    live.update(3, "epoch 2/2");
    live.onEpoch({ epoch: 2, trainLoss: 1.0, trainAccuracy: 0.5, valLoss: 0.9, valAccuracy: 0.6, lr: 0.05, seconds: 1 });
    live.end("done: val 60%");
    await live.flush();
  } finally {
    delete require.cache[key];
  }
  assert.ok(sent.length >= 4);
  const ids = new Set(sent.map((s) => s.transient.display_id));
  assert.equal(ids.size, 1, "one display id");
  assert.deepEqual(sent.map((s) => s.update), [false, ...sent.slice(1).map(() => true)]);
  const last = sent[sent.length - 1].data;
  assert.equal(last["text/plain"], "done: val 60%");
  assert.match(String(last["text/html"]), /<svg[\s\S]*<\/svg>/, "the curves");
  assert.match(String(sent[0].data["text/html"]), /ResNet8 &lt;b&gt;/, "text is escaped");
});

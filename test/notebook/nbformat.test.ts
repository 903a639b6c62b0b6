import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  injectParameters,
  INJECTED_TAG,
  kernelNameOf,
  parseDeclarations,
  parseNotebook,
  readNotebook,
  resolveTslab,
  serializeNotebook,
  toTsLiteral,
  OutputCollector,
  type Notebook,
} from "../../src/notebook";

const FIXTURES = path.join(__dirname, "..", "fixtures", "notebooks");

test("invalid JSON names the file and the position", () => {
  const file = path.join(FIXTURES, "invalid.ipynb");
  assert.throws(() => readNotebook(file), (e: Error) => {
    assert.match(e.message, /invalid\.ipynb is not valid JSON/);
    assert.match(e.message, /line 4 column 2/);
    return true;
  });
});

test("nbformat < 4 and missing cells are errors", () => {
  assert.throws(() => parseNotebook(JSON.stringify({ nbformat: 3, nbformat_minor: 0, worksheets: [] }), "old.ipynb"), /old\.ipynb is nbformat 3; only nbformat 4/);
  assert.throws(() => parseNotebook(JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {} }), "x.ipynb"), /x\.ipynb has no "cells"/);
  assert.throws(() => parseNotebook("[]", "arr.ipynb"), /not a JSON object/);
});

test("serialization: 1-space indent, sorted keys, sources and text as lines, nbformat output shapes", () => {
  const nb: Notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "tslab" } },
    cells: [
      {
        cell_type: "code",
        id: "a",
        metadata: {},
        source: "let a = 1;\nconsole.log(a)",
        execution_count: 3,
        outputs: [
          { output_type: "stream", name: "stdout", text: "1\n2\n" },
          { output_type: "display_data", data: { "text/html": "<b>x</b>\n<i>y</i>", "application/vnd.vegalite.v5+json": { mark: "bar" } }, metadata: {}, transient: { display_id: "d1" } },
          { output_type: "execute_result", data: { "text/plain": "1" }, metadata: {}, execution_count: 3 },
          { output_type: "error", ename: "Error", evalue: "boom", traceback: ["Error: boom"] },
        ],
      },
      { cell_type: "markdown", id: "m", metadata: {}, source: ["# T\n", "text"] },
    ],
  };
  const text = serializeNotebook(nb);
  assert.ok(text.startsWith('{\n "cells": [\n  {\n   "cell_type": "code",'));
  assert.ok(text.endsWith("}\n"));
  const back = JSON.parse(text);
  const cell = back.cells[0];
  assert.deepEqual(cell.source, ["let a = 1;\n", "console.log(a)"]);
  assert.deepEqual(cell.outputs[0], { name: "stdout", output_type: "stream", text: ["1\n", "2\n"] });
  assert.deepEqual(cell.outputs[1], {
    data: { "application/vnd.vegalite.v5+json": { mark: "bar" }, "text/html": ["<b>x</b>\n", "<i>y</i>"] },
    metadata: {},
    output_type: "display_data",
  });
  assert.deepEqual(cell.outputs[2], { data: { "text/plain": ["1"] }, execution_count: 3, metadata: {}, output_type: "execute_result" });
  assert.deepEqual(cell.outputs[3], { ename: "Error", evalue: "boom", output_type: "error", traceback: ["Error: boom"] });
  assert.deepEqual(Object.keys(back), ["cells", "metadata", "nbformat", "nbformat_minor"]);
  // round trip is stable
  assert.equal(serializeNotebook(parseNotebook(text)), text);
});

test("kernelspec: tslab or missing is accepted, anything else is an error", () => {
  const nb = (spec?: { name?: string }): Notebook => ({ nbformat: 4, nbformat_minor: 5, metadata: spec ? { kernelspec: spec } : {}, cells: [] });
  assert.equal(kernelNameOf(nb({ name: "tslab" })), "tslab");
  assert.equal(kernelNameOf(nb()), "tslab");
  assert.throws(() => kernelNameOf(nb({ name: "python3" }), "p.ipynb"), /unknown kernelspec python3; supported: tslab/);
});

test("resolveTslab: a missing explicit path names the path and the install hint", () => {
  const missing = path.join(os.tmpdir(), "no-such-dir", "tslab");
  assert.throws(() => resolveTslab({ tslabPath: missing }), (e: Error) => {
    assert.match(e.message, /tslab kernel is not installed: looked at/);
    assert.ok(e.message.includes(missing));
    assert.match(e.message, /npm ci/);
    return true;
  });
  assert.throws(() => resolveTslab({ env: { LAB_TSLAB: missing } }), /env LAB_TSLAB/);
  // default: the repository's own node_modules/.bin/tslab
  assert.match(resolveTslab({ env: {} }), /node_modules[\\/]\.bin[\\/]tslab$/);
});

test("parameters: declarations keep keyword and type; injected cell replaces an old one", () => {
  const decl = parseDeclarations('let profile: "quick" | "full" = "quick";\nconst epochs = 3; // n\nvar x=1\nif (a == b) {}');
  assert.deepEqual(decl.get("profile"), { keyword: "let", type: '"quick" | "full"' });
  assert.deepEqual(decl.get("epochs"), { keyword: "const", type: undefined });
  assert.equal(decl.get("x")?.keyword, "var");
  assert.equal(toTsLiteral({ a: [1, "b", null, true] }), '{"a":[1,"b",null,true]}');
  assert.equal(toTsLiteral(Infinity), "Infinity");

  const nb = parseNotebook(fs.readFileSync(path.join(FIXTURES, "hello.ipynb"), "utf8"));
  const first = injectParameters(nb, { greeting: "a", extra: 1 });
  assert.ok(first);
  assert.equal(first.index, 2); // right after the parameters cell (markdown is cell 0)
  assert.deepEqual(first.warnings, ['parameter "extra" is not declared in the parameters cell; declaring it with let']);
  const src = [nb.cells[2].source].flat().join("");
  assert.match(src, /let greeting: string = "a";/);
  assert.match(src, /let extra = 1;/);
  injectParameters(nb, { greeting: "b" });
  const injected = nb.cells.filter((c) => c.metadata.tags?.includes(INJECTED_TAG));
  assert.equal(injected.length, 1);
  assert.match([injected[0].source].flat().join(""), /"b"/);

  const bare: Notebook = { nbformat: 4, nbformat_minor: 4, metadata: {}, cells: [{ cell_type: "code", metadata: {}, source: "1", outputs: [], execution_count: null }] };
  const r = injectParameters(bare, { n: 2 });
  assert.equal(r?.index, 0);
  assert.match(r!.warnings[0], /no cell tagged "parameters"/);
});

test("outputs: streams merge, clear_output(wait) and update_display_data", () => {
  const displays = new Map();
  const c = new OutputCollector(displays);
  c.handle("stream", { name: "stdout", text: "a" });
  c.handle("stream", { name: "stdout", text: "b\n" });
  c.handle("stream", { name: "stderr", text: "e" });
  c.handle("display_data", { data: { "text/plain": "v1" }, metadata: {}, transient: { display_id: "d" } });
  assert.equal(c.outputs.length, 3);
  assert.deepEqual(c.outputs[0], { output_type: "stream", name: "stdout", text: "ab\n" });
  OutputCollector.updateDisplay(displays, { data: { "text/plain": "v2" }, metadata: {}, transient: { display_id: "d" } });
  assert.deepEqual((c.outputs[2] as { data: unknown }).data, { "text/plain": "v2" });
  c.handle("clear_output", { wait: true });
  assert.equal(c.outputs.length, 3);
  c.handle("stream", { name: "stdout", text: "fresh" });
  assert.deepEqual(c.outputs, [{ output_type: "stream", name: "stdout", text: "fresh" }]);
  c.handle("clear_output", { wait: false });
  assert.equal(c.outputs.length, 0);
});

/**
 * The build cache (src/notebook/cache.ts), Quarto-freeze style: a notebook is reused when its code, its parameters
 * and the src/ files it imports are unchanged; --force executes it; a changed import, parameter or cell executes it
 * and the reason names what changed. Runs real tslab kernels on a small temporary project.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { notebookCacheKey, notebookDependencies, readNotebook, relativeImports, runNotebooks, staleReason, writeNotebook, type Notebook } from "../../src/notebook";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nb-cache-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cell = (source: string, tags?: string[]) => ({ cell_type: "code" as const, metadata: tags ? { tags } : {}, source, execution_count: null, outputs: [] });

/** The util module: its TypeScript source in src/ and its "compiled" CommonJS in dist/ (what notebooks import). */
function writeUtil(root: string, body: string): void {
  fs.writeFileSync(path.join(root, "src", "util.ts"), `export const twice = (s: string): string => ${body};\n`);
  fs.writeFileSync(path.join(root, "dist", "util.js"), `exports.twice = (s) => ${body};\n`);
  fs.writeFileSync(path.join(root, "dist", "util.d.ts"), "export declare const twice: (s: string) => string;\n");
}

/**
 * root/src/{lib,util,other}.ts with their dist/*.js, and root/notebooks/{a,b}.ipynb importing ../dist/lib, as the
 * lab's notebooks do (tslab compiles nothing outside the notebook's folder).
 */
function project(): { root: string; a: string; b: string } {
  const root = fs.mkdtempSync(path.join(tmp, "proj-"));
  for (const d of ["src", "dist", "notebooks"]) fs.mkdirSync(path.join(root, d));
  fs.writeFileSync(path.join(root, "src", "lib.ts"), 'import { twice } from "./util";\nexport const greet = (s: string) => twice(`hi ${s}`);\n');
  fs.writeFileSync(path.join(root, "dist", "lib.js"), 'const { twice } = require("./util");\nexports.greet = (s) => twice(`hi ${s}`);\n');
  fs.writeFileSync(path.join(root, "dist", "lib.d.ts"), "export declare const greet: (s: string) => string;\n");
  writeUtil(root, "`${s} ${s}`");
  fs.writeFileSync(path.join(root, "src", "other.ts"), "export const unused = 1;\n");
  fs.writeFileSync(path.join(root, "package-lock.json"), '{"lockfileVersion": 3}\n');
  const nb = (extra: string): Notebook => ({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" } },
    cells: [cell('let who: string = "world";', ["parameters"]), cell(`import { greet } from "../dist/lib";\nconsole.log(greet(who)${extra});`)],
  });
  const a = path.join(root, "notebooks", "a.ipynb");
  const b = path.join(root, "notebooks", "b.ipynb");
  writeNotebook(a, nb(""));
  writeNotebook(b, nb(' + "!"'));
  return { root, a, b };
}

test("relative imports are found in import, export-from, dynamic import and require forms; packages are not", () => {
  const code = `import { a } from "./a";\nexport * from "../b/c";\nconst d = await import("./d");\nconst e = require('./e.json');\nimport "./side";\nimport * as tf from "@tensorflow/tfjs";\nimport fs from "fs";`;
  assert.deepEqual(relativeImports(code), ["./a", "../b/c", "./d", "./e.json", "./side"]);
});

test("a notebook's dependencies follow its imports through src/ (../dist/x is src/x); the key changes with each input", () => {
  const { root, a } = project();
  const deps = notebookDependencies(a, { root }).map((f) => path.relative(root, f));
  assert.deepEqual(deps, ["src/lib.ts", "src/util.ts"]);
  // An import of src/ itself counts the same.
  const nb = readNotebook(a);
  (nb.cells[1] as { source: string[] | string }).source = 'import { greet } from "../src/lib";\nconsole.log(greet(who));';
  const viaSrc = path.join(root, "notebooks", "src.ipynb");
  writeNotebook(viaSrc, nb);
  assert.deepEqual(notebookDependencies(viaSrc, { root }).map((f) => path.relative(root, f)), ["src/lib.ts", "src/util.ts"]);

  const k0 = notebookCacheKey(a, { who: "x" }, { root });
  assert.equal(notebookCacheKey(a, { who: "x" }, { root }).key, k0.key, "stable");
  assert.notEqual(notebookCacheKey(a, { who: "y" }, { root }).key, k0.key, "parameters");
  fs.appendFileSync(path.join(root, "src", "other.ts"), "// not imported\n");
  assert.equal(notebookCacheKey(a, { who: "x" }, { root }).key, k0.key, "a file it does not import");
  fs.appendFileSync(path.join(root, "src", "util.ts"), "// changed\n");
  assert.notEqual(notebookCacheKey(a, { who: "x" }, { root }).key, k0.key, "an indirect import");
  const k1 = notebookCacheKey(a, { who: "x" }, { root });
  fs.writeFileSync(path.join(root, "package-lock.json"), '{"lockfileVersion": 3, "packages": {}}\n');
  assert.notEqual(notebookCacheKey(a, { who: "x" }, { root }).key, k1.key, "package versions");
});

test("runNotebooks: the second build executes nothing; a changed import re-executes it and every later notebook; --force executes all; a failed run is not reused", { timeout: 240_000 }, async () => {
  const { root, a, b } = project();
  const outDir = path.join(root, "out");
  const lines: string[] = [];
  const run = (force = false) => runNotebooks({ notebooks: [a, b], outDir, parameters: { who: "lab" }, root, force, log: (l) => lines.push(l) });
  const how = (r: Awaited<ReturnType<typeof run>>) => r.map((x) => x.how);

  let r = await run();
  assert.deepEqual(how(r), ["executed", "executed"]);
  assert.match(r[0].reason!, /not executed yet/);
  const first = fs.readFileSync(r[0].output, "utf8");
  assert.match(first, /hi lab hi lab/);
  const meta = readNotebook(r[0].output).metadata.minicifar_lab as { cache_key: string; cache_parts: Record<string, string> };
  assert.match(meta.cache_key, /^[0-9a-f]{64}$/);
  assert.deepEqual(Object.keys(meta.cache_parts).sort(), ["notebook", "package-lock.json", "parameters", "src/lib.ts", "src/util.ts"]);

  r = await run();
  assert.deepEqual(how(r), ["reused", "reused"], "nothing executes the second time");
  assert.equal(fs.readFileSync(r[0].output, "utf8"), first, "the executed copy is left as it was");
  assert.ok(lines.some((l) => /a\.ipynb: reused/.test(l)));

  writeUtil(root, "`${s}, ${s}`");
  r = await run();
  assert.deepEqual(how(r), ["executed", "executed"]);
  assert.equal(r[0].reason, "changed: src/util.ts");
  assert.match(r[1].reason!, /an earlier notebook ran again/);
  assert.match(fs.readFileSync(r[0].output, "utf8"), /hi lab, hi lab/);

  r = await run(true);
  assert.deepEqual(how(r), ["executed", "executed"]);
  assert.equal(r[0].reason, "--force");

  // Only b changes: a is reused, b executes and names the notebook as the change.
  const nb2 = readNotebook(b);
  (nb2.cells[1] as { source: string[] | string }).source = 'import { greet } from "../dist/lib";\nconsole.log(greet(who) + "?");';
  writeNotebook(b, nb2);
  r = await run();
  assert.deepEqual(how(r), ["reused", "executed"]);
  assert.equal(r[1].reason, "changed: the notebook");

  // A failing run leaves a partial copy with status "failed", which the next build does not reuse.
  writeUtil(root, '{ throw new Error("broken " + s); }');
  await assert.rejects(run(), /broken hi lab/);
  writeUtil(root, "`${s}, ${s}`");
  assert.match(staleReason(r[0].output, notebookCacheKey(a, { who: "lab" }, { root }))!, /status "failed"/);
  r = await run();
  assert.deepEqual(how(r), ["executed", "executed"]);
});

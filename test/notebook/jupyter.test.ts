/**
 * Real Jupyter compatibility, checked with Debian's Python tools (CI installs them; elsewhere these tests skip
 * and say what to install):
 *   - notebooks executed by our runner, and the lab's source notebooks, validate against the nbformat 4 schema
 *     (python3-nbformat);
 *   - a lab notebook runs unchanged under `jupyter nbconvert --to notebook --execute
 *     --ExecutePreprocessor.kernel_name=tslab` with the quick profile (jupyter-nbconvert, python3-nbclient), with the
 *     tslab kernel registered in a temporary JUPYTER_PATH and the results in a temporary store.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readNotebook, resolveTslab, runNotebook } from "../../src/notebook";

const REPO = path.resolve(__dirname, "..", "..");
const PY = "/usr/bin/python3";
const NBCONVERT = "/usr/bin/jupyter-nbconvert";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nb-jupyter-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const has = (module: string) => fs.existsSync(PY) && spawnSync(PY, ["-c", `import ${module}`]).status === 0;
const CI = process.env.CI === "true";
/** Skip with the install command outside CI; under CI a missing tool is a failure. */
function need(ok: boolean, what: string): false | string {
  if (ok) return false;
  if (CI) throw new Error(`CI needs ${what} (.ci/run installs it)`);
  return `${what} is not installed (apt-get install -y ${what})`;
}

/** nbformat.validate on each file; returns "" or the errors. */
function validate(files: string[]): string {
  const script = [
    "import sys, nbformat",
    "bad = []",
    "for f in sys.argv[1:]:",
    "    try:",
    "        nb = nbformat.read(f, as_version=nbformat.NO_CONVERT)",
    "        assert nb.nbformat == 4, f'nbformat {nb.nbformat}'",
    "        nbformat.validate(nb)",
    "    except Exception as e:",
    "        bad.append(f'{f}: {type(e).__name__}: {str(e)[:500]}')",
    "print('\\n'.join(bad))",
  ].join("\n");
  const r = spawnSync(PY, ["-c", script, ...files], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

const labNotebooks = fs.readdirSync(path.join(REPO, "notebooks")).filter((f) => f.endsWith(".ipynb")).map((f) => path.join(REPO, "notebooks", f));

test("executed notebooks and the lab's notebooks validate against the nbformat 4 schema", { skip: need(has("nbformat"), "python3-nbformat"), timeout: 120_000 }, async () => {
  const out = path.join(tmp, "hello.out.ipynb");
  await runNotebook(path.join(REPO, "test", "fixtures", "notebooks", "hello.ipynb"), out, { parameters: { greeting: "<b>hi</b>", repeat: 2 } });
  const failed = path.join(tmp, "fails.out.ipynb");
  await assert.rejects(runNotebook(path.join(REPO, "test", "fixtures", "notebooks", "fails.ipynb"), failed));
  const built = ["01-scratch-training", "02-accuracy-vs-params", "03-transfer-learning"].map((n) => path.join(REPO, "reports", "notebooks", `${n}.ipynb`)).filter((f) => fs.existsSync(f));
  assert.equal(validate([out, failed, ...labNotebooks, ...built]), "");
  // The validator does catch a broken notebook (so an empty answer means something).
  const broken = path.join(tmp, "broken.ipynb");
  const nb = JSON.parse(fs.readFileSync(out, "utf8"));
  nb.cells[1].outputs = [{ output_type: "stream", text: "no name field" }];
  fs.writeFileSync(broken, JSON.stringify(nb));
  assert.match(validate([broken]), /broken\.ipynb: \w*ValidationError/);
});

test(
  "notebook 03 runs unchanged under jupyter nbconvert --execute with the tslab kernel (quick profile)",
  { skip: need(fs.existsSync(NBCONVERT) && has("nbclient"), "jupyter-nbconvert python3-nbclient"), timeout: 600_000 },
  () => {
    assert.ok(fs.existsSync(path.join(REPO, "dist", "train", "sweep.js")), "dist/ is compiled (npm run setup or npx minicifar-lab compile)");
    // Register tslab in a private JUPYTER_PATH, as `tslab install --prefix` would.
    const kernels = path.join(tmp, "share", "jupyter", "kernels", "tslab");
    fs.mkdirSync(kernels, { recursive: true });
    fs.writeFileSync(path.join(kernels, "kernel.json"), JSON.stringify({ argv: [resolveTslab(), "kernel", "--config-path", "{connection_file}"], display_name: "TypeScript", language: "typescript" }));
    const outDir = path.join(tmp, "nbconvert");
    const nb = path.join(REPO, "notebooks", "03-transfer-learning.ipynb");
    const before = fs.readFileSync(nb, "utf8");
    const r = spawnSync(NBCONVERT, ["--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=tslab", "--ExecutePreprocessor.timeout=540", nb, "--output-dir", outDir], {
      cwd: path.join(REPO, "notebooks"),
      encoding: "utf8",
      timeout: 580_000,
      env: { ...process.env, JUPYTER_PATH: path.join(tmp, "share", "jupyter"), JUPYTER_DATA_DIR: path.join(tmp, "data"), LAB_RESULTS_DB: path.join(tmp, "results.sqlite") },
    });
    assert.equal(r.status, 0, `nbconvert failed:\n${r.stderr.slice(-3000)}`);
    assert.equal(fs.readFileSync(nb, "utf8"), before, "the source notebook is left unchanged");
    const executed = readNotebook(path.join(outDir, "03-transfer-learning.ipynb"));
    const outputs = executed.cells.flatMap((c) => (c.cell_type === "code" ? c.outputs : []));
    const text = JSON.stringify(outputs);
    assert.match(text, /linear probe: test accuracy \d+\.\d+%/);
    assert.match(text, /fine-tuned: test accuracy \d+\.\d+%/);
    assert.ok(outputs.some((o) => o.output_type === "display_data" && "application/vnd.vegalite.v5+json" in o.data && "image/svg+xml" in o.data), "the chart bundle: Vega-Lite with its SVG fallback");
    assert.ok(!outputs.some((o) => o.output_type === "error"), "no error output");
    assert.equal(validate([path.join(outDir, "03-transfer-learning.ipynb")]), "");
  },
);

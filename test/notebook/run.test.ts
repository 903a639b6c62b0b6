/** Runs real tslab kernels (a few seconds each). */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { KernelClient, NotebookCellError, readNotebook, resolveTslab, runNotebook, writeNotebook, type CodeCell, type Notebook } from "../../src/notebook";

const FIXTURES = path.join(__dirname, "..", "fixtures", "notebooks");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nb-test-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Pids of tslab kernel processes whose parent is this test process (Linux /proc). */
function tslabChildren(): number[] {
  if (!fs.existsSync("/proc/self/stat")) return [];
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== process.pid) continue;
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, "utf8");
      if (cmd.includes("tslab") && cmd.includes("--config-path")) out.push(Number(d));
    } catch {
      /* process vanished */
    }
  }
  return out;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const code = (nb: Notebook) => nb.cells.filter((c): c is CodeCell => c.cell_type === "code");
const text = (c: CodeCell) => JSON.stringify(c.outputs);

test("runs a notebook: relative import, stdout, display_data, parameters, execution counts", async () => {
  const out = path.join(tmp, "hello.out.ipynb");
  const lines: string[] = [];
  const res = await runNotebook(path.join(FIXTURES, "hello.ipynb"), out, {
    parameters: { greeting: "hi there", repeat: 2, extra: { a: [1, null] } },
    log: (l) => lines.push(l),
  });
  assert.equal(res.output, out);
  assert.equal(res.cells, 5);
  const nb = readNotebook(out);
  const cells = code(nb);
  assert.equal(cells.length, 6); // 5 + the empty cell
  assert.deepEqual(cells[1].metadata.tags, ["injected-parameters"]);
  assert.match(text(cells[2]), /HI THERE! HI THERE!/);
  assert.deepEqual(cells[2].outputs[0], { output_type: "stream", name: "stdout", text: ["HI THERE! HI THERE!\n"] });
  assert.deepEqual(cells[3].outputs, [
    { output_type: "display_data", data: { "text/html": ["<b>x</b>"] }, metadata: {} },
    // tslab.newDisplay(): display_data, then update_display_data replaced it in place
    { output_type: "display_data", data: { "text/plain": ["step 2"] }, metadata: {} },
  ]);
  assert.equal(nb.metadata.language_info?.name, "typescript");
  assert.equal(cells[4].execution_count, null); // empty cell is skipped
  assert.match(text(cells[5]), /"8\\n"/); // "hi there".length
  assert.deepEqual(cells.filter((c) => c.execution_count !== null).map((c) => c.execution_count), [1, 2, 3, 4, 5]);
  // nbclient's timestamps, in the order they happen: busy, then the reply, then idle.
  for (const c of cells.filter((x) => x.execution_count !== null)) {
    const t = c.metadata.execution as Record<string, string>;
    const [busy, reply, idle] = ["iopub.status.busy", "shell.execute_reply", "iopub.status.idle"].map((k) => Date.parse(t[k]));
    assert.ok(busy <= reply && reply <= idle + 50, JSON.stringify(t));
  }
  const t = cells[2].metadata.execution!;
  assert.ok(t["iopub.status.busy"] && t["shell.execute_reply"] && t["iopub.status.idle"]);
  assert.ok(lines.some((l) => /^\[hello\] cell 3\/5 \d+\.\d+s$/.test(l)), lines.join("\n"));
  assert.ok(lines.some((l) => /warning: parameter "extra" is not declared/.test(l)));
  assert.equal((nb.metadata.minicifar_lab as { status: string }).status, "ok");

  // Re-running the executed notebook replaces the injected cell instead of stacking a second one.
  const out2 = path.join(tmp, "hello.out2.ipynb");
  await runNotebook(out, out2, { parameters: { greeting: "again" }, cwd: FIXTURES });
  const nb2 = readNotebook(out2);
  const injected = nb2.cells.filter((c) => c.metadata.tags?.includes("injected-parameters"));
  assert.equal(injected.length, 1);
  assert.match(text(code(nb2)[2]), /AGAIN!/);
  assert.deepEqual(tslabChildren(), []);
});

test("a failing cell: NotebookCellError, partial notebook written, later cells not executed", async () => {
  const out = path.join(tmp, "fails.out.ipynb");
  await assert.rejects(runNotebook(path.join(FIXTURES, "fails.ipynb"), out), (e: unknown) => {
    assert.ok(e instanceof NotebookCellError);
    assert.equal(e.cellIndex, 2);
    assert.match(e.message, /fails\.ipynb failed at cell 2/);
    assert.match(e.message, /throw new Error\("boom from cell two"\)/); // the source
    assert.match(e.message, /Error: boom from cell two/); // the error text
    assert.doesNotMatch(e.message, /tslab\/dist/);
    return true;
  });
  const cells = code(readNotebook(out));
  assert.match(text(cells[0]), /cell one ran/);
  assert.equal(cells[1].execution_count, 2);
  assert.match(text(cells[1]), /about to fail/);
  const stderr = cells[1].outputs.find((o) => o.output_type === "stream" && o.name === "stderr");
  assert.ok(stderr && JSON.stringify(stderr).includes("boom from cell two"));
  assert.equal(cells[2].execution_count, null);
  assert.deepEqual(cells[2].outputs, []);
  assert.deepEqual(tslabChildren(), []);
});

test("a cell that times out or kills the kernel is an error naming the cell; no kernel is left", async () => {
  const mk = (name: string, sources: string[]): string => {
    const nb: Notebook = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" }, language_info: { name: "typescript" } },
      cells: sources.map((s, i) => ({ cell_type: "code", id: `c${i}`, metadata: {}, source: s, outputs: [], execution_count: null })),
    };
    const file = path.join(tmp, name);
    writeNotebook(file, nb);
    return file;
  };
  const slow = mk("slow.ipynb", ['console.log("start")', "await new Promise((r) => setTimeout(r, 20000));", "1"]);
  await assert.rejects(runNotebook(slow, path.join(tmp, "slow.out.ipynb"), { cellTimeoutMs: 1500 }), (e: unknown) => {
    assert.ok(e instanceof NotebookCellError);
    assert.equal(e.cellIndex, 2);
    assert.match(e.message, /timeout: cell did not finish within 1\.5 s/);
    return true;
  });
  const dies = mk("dies.ipynb", ['console.log("ok")', "process.exit(3);", "1"]);
  await assert.rejects(runNotebook(dies, path.join(tmp, "dies.out.ipynb")), (e: unknown) => {
    assert.ok(e instanceof NotebookCellError);
    assert.equal(e.cellIndex, 2);
    assert.match(e.message, /kernel process died \(exit code 3\)/);
    return true;
  });
  // The partial notebook is saved: the first cell's output, the dead cell marked, the rest not run.
  const partial = readNotebook(path.join(tmp, "dies.out.ipynb"));
  assert.equal((partial.metadata.minicifar_lab as { status: string; failed_cell: number }).status, "failed");
  assert.equal((partial.metadata.minicifar_lab as { failed_cell: number }).failed_cell, 2);
  assert.match(JSON.stringify(code(partial)[0].outputs), /ok/);
  assert.equal(code(partial)[1].execution_count, 2, "the cell that killed the kernel had started: it is numbered");
  assert.equal(code(partial)[2].execution_count, null);
  // A time limit for the whole notebook: cells of 1 s each, a 4 s budget (kernel start included).
  const steady = mk("steady.ipynb", ["1", ...Array.from({ length: 5 }, () => "await new Promise((r) => setTimeout(r, 1000));")]);
  await assert.rejects(runNotebook(steady, path.join(tmp, "steady.out.ipynb"), { notebookTimeoutMs: 4000, cellTimeoutMs: 60_000 }), (e: unknown) => {
    assert.ok(e instanceof NotebookCellError);
    assert.ok(e.codeCellNumber >= 2 && e.codeCellNumber <= 5, String(e.codeCellNumber));
    assert.match(e.message, /the notebook did not finish within its limit of 4\.0 s/);
    return true;
  });
  // A cell that ran 1 s before the limit: its reply is stamped when it came, about 1 s after busy.
  const done = code(readNotebook(path.join(tmp, "steady.out.ipynb")))[1];
  const t = done.metadata.execution as Record<string, string>;
  assert.ok(Date.parse(t["shell.execute_reply"]) - Date.parse(t["iopub.status.busy"]) >= 900, JSON.stringify(t));
  assert.deepEqual(tslabChildren(), []);
});

test("bad inputs: invalid JSON, tslab not installed, unknown kernelspec", async () => {
  const out = path.join(tmp, "bad.out.ipynb");
  await assert.rejects(runNotebook(path.join(FIXTURES, "invalid.ipynb"), out), /invalid\.ipynb is not valid JSON at line \d+ column \d+/);
  const missing = path.join(tmp, "nowhere", "tslab");
  await assert.rejects(runNotebook(path.join(FIXTURES, "hello.ipynb"), out, { tslabPath: missing }), (e: Error) => {
    assert.ok(e.message.includes(`tslab kernel is not installed: looked at ${missing}`));
    assert.match(e.message, /npm ci/);
    return true;
  });
  await assert.rejects(runNotebook(path.join(FIXTURES, "python-kernel.ipynb"), out), /unknown kernelspec python3; supported: tslab/);
  assert.equal(fs.existsSync(out), false);
});

test("KernelClient: shutdown leaves no process behind", async () => {
  const k = await KernelClient.start({ binary: resolveTslab(), cwd: tmp });
  const pid = k.pid!;
  assert.ok(isAlive(pid));
  const r = await k.execute("2 * 21");
  assert.equal(r.status, "ok");
  assert.deepEqual(r.outputs, [{ output_type: "stream", name: "stdout", text: "42\n" }]);
  await k.shutdown();
  assert.equal(k.alive, false);
  assert.equal(isAlive(pid), false);
});

/**
 * Child process of sweep.test.ts (not a test file itself):
 *   node --import tsx sweep-child.ts <results db> <checkpoint dir>
 * Runs SWEEP (3 configs of ResNet8-w8, 2 epochs each, on 256 real MINICIFAR images), printing "RUN <label>" when a
 * config starts training and "STEP n" after every optimizer step, then "DONE <json>" with each row's status and how.
 */
import { initBackend } from "../../src/backend";
import { runSweep, type SweepSpec } from "../../src/train/sweep";

export const SWEEP: SweepSpec = {
  name: "killme",
  base: { model: "ResNet8-w8", train: { epochs: 2, batchSize: 32, lr: 0.05 } },
  space: { "train.lr": [0.02, 0.05, 0.1] },
  data: { trainImages: 256 },
  profile: "test",
};

async function main(): Promise<void> {
  const [db, ckDir] = process.argv.slice(2);
  await initBackend({ log: () => {} });
  const r = await runSweep(SWEEP, {
    resultsDb: db,
    checkpointDir: ckDir,
    log: (s) => process.stdout.write(s.split("\n")[0].includes("[") ? `RUN ${s}\n` : ""),
    progress: { start() {}, update: (done) => process.stdout.write(`STEP ${done}\n`), end() {} },
  });
  process.stdout.write(`DONE ${JSON.stringify(r.rows.map((x) => ({ status: x.status, how: x.how, hash: x.config.hash })))}\n`);
}

// Imported by sweep.test.ts for SWEEP: run only as the child process.
if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

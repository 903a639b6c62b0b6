import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const REPO = path.resolve(__dirname, "..", "..");
export const FIXTURES = path.join(REPO, "test", "fixtures", "data");
export const SHARED = path.resolve(REPO, "..", "shared", "data");
export const HAS_SHARED_C10 = fs.existsSync(path.join(SHARED, "cifar10-jpeg", "train"));
export const HAS_SHARED_C100 = fs.existsSync(path.join(SHARED, "cifar100-binary", "train.bin"));

const temps: string[] = [];
process.on("exit", () => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `mcl-${prefix}-`));
  temps.push(d);
  return d;
}

/** Run `fn` with environment variables set, restoring them afterwards. */
export function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved: Record<string, string | undefined> = {};
  for (const k of Object.keys(vars)) {
    saved[k] = process.env[k];
    if (vars[k] === undefined) delete process.env[k];
    else process.env[k] = vars[k];
  }
  try {
    return fn();
  } finally {
    for (const k of Object.keys(saved)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

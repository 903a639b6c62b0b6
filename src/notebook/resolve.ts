/** Which kernel a notebook asks for, and where its executable is. */
import * as fs from "fs";
import * as path from "path";
import type { Notebook } from "./nbformat";

export const SUPPORTED_KERNELS = ["tslab"] as const;

/** The kernel name of a notebook: `metadata.kernelspec.name`, "tslab" when absent; anything else is an error. */
export function kernelNameOf(nb: Notebook, file = "<notebook>"): "tslab" {
  const name = nb.metadata?.kernelspec?.name;
  if (name === undefined || name === null || name === "") return "tslab";
  if (name === "tslab") return "tslab";
  throw new Error(`notebook ${file}: unknown kernelspec ${String(name)}; supported: ${SUPPORTED_KERNELS.join(", ")}`);
}

function isExecutableFile(p: string): boolean {
  try {
    if (!fs.statSync(p).isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Repository root, found from this source file (src/notebook/ → ../..). */
export const REPO_ROOT = path.resolve(__dirname, "..", "..");

/**
 * Find the tslab binary: explicit `tslabPath`, else env `LAB_TSLAB`, else `<repo>/node_modules/.bin/tslab`,
 * else `tslab` on PATH. An explicit path (option or env) is used as given: no fallback when it is wrong.
 */
export function resolveTslab(opts: { tslabPath?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const env = opts.env ?? process.env;
  const explicit = opts.tslabPath ?? (env.LAB_TSLAB ? env.LAB_TSLAB : undefined);
  const looked: string[] = [];
  if (explicit !== undefined) {
    const p = path.resolve(explicit);
    if (isExecutableFile(p)) return p;
    looked.push(`${p} (${opts.tslabPath !== undefined ? "option tslabPath" : "env LAB_TSLAB"})`);
  } else {
    const local = path.join(REPO_ROOT, "node_modules", ".bin", "tslab");
    if (isExecutableFile(local)) return local;
    looked.push(local);
    for (const dir of (env.PATH ?? "").split(path.delimiter)) {
      if (!dir) continue;
      const p = path.join(dir, "tslab");
      if (isExecutableFile(p)) return p;
    }
    looked.push("tslab on PATH");
  }
  throw new Error(
    `tslab kernel is not installed: looked at ${looked.join("; ")}. ` +
      "Run `npm ci` (or `npm i tslab`) in the repository, or point LAB_TSLAB at a tslab binary.",
  );
}

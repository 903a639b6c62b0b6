/**
 * `minicifar-lab logits --model NAME --classes N --weights FILE.pth --input FILE.bin [--cifar100] [--json]`:
 * builds a preset, loads a PyTorch state dict into it and prints the eval-mode logits of every image of a
 * CIFAR binary-format file (normalised with kuangliu's mean and std), one array per image.
 */
import * as fs from "fs";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../backend";
import { normalizationTable } from "../../data/batches";
import { planarToHwc } from "../../data/cifar-binary";
import { PRESETS, buildModel, presetSpec } from "../index";
import { applyStateDict } from "./apply";
import { loadTorchStateDict } from "./load";

export const LOGITS_USAGE = `usage: minicifar-lab logits --model NAME --classes N --weights FILE.pth --input FILE.bin [--cifar100] [--json]
  print the logits of a PyTorch checkpoint (kuangliu module names) on images in CIFAR binary format
  (1 label byte per record, 2 with --cifar100, then 3072 planar RGB bytes); --json prints one JSON array`;

class LogitsUsageError extends Error {}

const IMAGE_BYTES = 3072;

/** Read a CIFAR binary-format file into normalised NHWC float32 (kuangliu mean/std). */
export function readCifarImages(file: string, labelBytes: 1 | 2): { n: number; x: Float32Array } {
  if (!fs.existsSync(file)) throw new Error(`--input: file not found: ${file}`);
  const buf = fs.readFileSync(file);
  const rec = labelBytes + IMAGE_BYTES;
  if (buf.length === 0 || buf.length % rec !== 0) {
    throw new Error(`${file}: ${buf.length} bytes is not a whole number of ${rec}-byte CIFAR records (${labelBytes} label byte${labelBytes > 1 ? "s" : ""} + 3072 pixels)${labelBytes === 1 && buf.length % (rec + 1) === 0 ? "; is it CIFAR-100 (--cifar100)?" : ""}`);
  }
  const n = buf.length / rec;
  const hwc = new Uint8Array(n * IMAGE_BYTES);
  for (let i = 0; i < n; i++) planarToHwc(buf, i * rec + labelBytes, hwc, i * IMAGE_BYTES);
  const lut = normalizationTable();
  const x = new Float32Array(hwc.length);
  for (let i = 0; i < hwc.length; i++) x[i] = lut[(i % 3) * 256 + hwc[i]];
  return { n, x };
}

function parse(args: string[]) {
  const opts: Record<string, string | boolean> = {};
  const valued = new Set(["--model", "--classes", "--weights", "--input"]);
  const flags = new Set(["--cifar100", "--json"]);
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    let v: string | undefined;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (valued.has(a)) {
      if (v === undefined) {
        v = args[++i];
        if (v === undefined || v.startsWith("--")) throw new LogitsUsageError(`option ${a} needs a value`);
      }
      opts[a] = v;
    } else if (flags.has(a) && v === undefined) opts[a] = true;
    else if (a === "--help" || a === "-h") opts["--help"] = true;
    else throw new LogitsUsageError(`logits: unexpected argument ${JSON.stringify(args[i])}`);
  }
  if (opts["--help"]) return null;
  for (const o of valued) if (opts[o] === undefined) throw new LogitsUsageError(`logits: missing ${o}`);
  const model = opts["--model"] as string;
  if (!PRESETS[model]) throw new LogitsUsageError(`logits: unknown model "${model}"; valid: ${Object.keys(PRESETS).join(", ")}`);
  const classes = Number(opts["--classes"]);
  if (!Number.isInteger(classes) || classes < 2) throw new LogitsUsageError(`logits: --classes must be an integer ≥ 2, got ${JSON.stringify(opts["--classes"])}`);
  return {
    model,
    classes,
    weights: opts["--weights"] as string,
    input: opts["--input"] as string,
    cifar100: opts["--cifar100"] === true,
    json: opts["--json"] === true,
  };
}

/** Eval-mode logits of `model` on NHWC float32 images, one array per image. */
export function predictLogits(model: tf.LayersModel, x: Float32Array, n: number, batchSize = 64): number[][] {
  const rows: number[][] = [];
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    const out = tf.tidy(() => {
      const xb = tf.tensor4d(x.subarray(s * IMAGE_BYTES, (s + m) * IMAGE_BYTES), [m, 32, 32, 3]);
      return model.predict(xb) as tf.Tensor;
    });
    rows.push(...(out.arraySync() as number[][]));
    out.dispose();
  }
  return rows;
}

/**
 * The `logits` command. Returns the exit status: 0, 2 for usage errors, 1 when the checkpoint or input
 * cannot be used (the message names the file and, for a mismatch, every wrong key). Logs go to stderr.
 */
export async function logitsCommand(args: string[]): Promise<number> {
  let o: ReturnType<typeof parse>;
  try {
    o = parse([...args]);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${LOGITS_USAGE}\n`);
    return 2;
  }
  if (!o) {
    process.stdout.write(`${LOGITS_USAGE}\n`);
    return 0;
  }
  let model: tf.LayersModel | undefined;
  try {
    await initBackend({ log: (s) => process.stderr.write(`${s}\n`) });
    const { n, x } = readCifarImages(o.input, o.cifar100 ? 2 : 1);
    const sd = loadTorchStateDict(o.weights);
    model = buildModel(presetSpec(o.model, o.classes));
    applyStateDict(model, sd, { strict: true });
    const logits = predictLogits(model, x, n);
    if (o.json) process.stdout.write(`${JSON.stringify(logits)}\n`);
    else for (const row of logits) process.stdout.write(`${row.map((v) => v.toPrecision(7)).join(" ")}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`logits: ${(err as Error).message}\n`);
    return 1;
  } finally {
    model?.dispose();
  }
}

/**
 * Child process of onednn.test.ts (not a test file itself): `node --expose-gc --import tsx onednn-child.ts <mode>`.
 * Prints one JSON line on stdout.
 *  - steps:          100 SGD training steps of a small ResNet on the onednn backend; numTensors after every step, RSS
 *                    heap and array buffers (after global.gc) and the buffer pool's size every 10 steps.
 *  - missing-addon:  initBackend({ prefer: "onednn" }) with LAB_ONEDNN_ADDON set by the parent; the error message.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { registerOneDnnBackend } from "../../src/backend/onednn";
import { buildModel, presetSpec } from "../../src/models";
import { SGD } from "../../src/train/sgd";

function rand(n: number, seed: number): Float32Array {
  let st = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    st = (Math.imul(st, 1664525) + 1013904223) >>> 0;
    out[i] = (st / 2 ** 32) * 2 - 1;
  }
  return out;
}

async function steps(): Promise<unknown> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --expose-gc");
  registerOneDnnBackend();
  if (!(await tf.setBackend("onednn"))) throw new Error("onednn failed to initialise");
  const classes = 10;
  const batch = 16;
  const model = buildModel(presetSpec("ResNet18", classes, { blocks: [1, 1], widths: [8, 16] }), 1);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const opt = new SGD({ lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const images = [0, 1, 2, 3].map((k) => rand(batch * 32 * 32 * 3, 100 + k));
  const labels = [0, 1, 2, 3].map((k) => Int32Array.from({ length: batch }, (_, i) => (i * 7 + k) % classes));
  const tensors: number[] = [];
  const rss: Record<number, number> = {};
  const heap: Record<number, number> = {};
  const external: Record<number, number> = {};
  const pool: Record<number, unknown> = {};
  const losses: number[] = [];
  const measure = (step: number) => {
    for (let i = 0; i < 3; i++) gc();
    const m = process.memoryUsage();
    rss[step] = m.rss;
    heap[step] = m.heapUsed;
    external[step] = m.arrayBuffers;
    pool[step] = (tf.backend() as unknown as { poolStats(): unknown }).poolStats();
  };
  for (let step = 1; step <= 100; step++) {
    // Fresh input arrays every step, as a data pipeline makes them.
    const x = tf.tensor4d(Float32Array.from(images[step % 4]), [batch, 32, 32, 3]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels[step % 4], "int32"), classes));
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
      vars,
    );
    opt.step(vars, grads);
    tf.dispose(grads);
    losses.push((await value.data())[0]);
    tf.dispose([value, x, y]);
    tensors.push(tf.memory().numTensors);
    if (step % 10 === 0) measure(step);
  }
  opt.dispose();
  model.dispose();
  return { tensors, rss, heap, external, pool, losses: [losses[0], losses[losses.length - 1]], after: tf.memory().numTensors };
}

async function missingAddon(): Promise<unknown> {
  delete process.env.LAB_BACKEND;
  try {
    const name = await initBackend({ prefer: "onednn", log: () => {} });
    return { ok: true, backend: name };
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  const res = mode === "steps" ? await steps() : mode === "missing-addon" ? await missingAddon() : null;
  if (res == null) throw new Error(`unknown mode ${mode}`);
  process.stdout.write(JSON.stringify(res) + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * What a run record measures besides accuracy: peak memory during the run, inference latency per image, and the
 * model's FLOPs, weight size and the package versions. `startMeter()` when a run starts, `meter.finish(...)` when
 * it ends; the experiments spread the result into their RunRecord.
 */
import * as tf from "@tensorflow/tfjs";
import { batches, type ImageSet } from "../data";
import { forwardFlops, modelSummary } from "../models/summary";
import { currentVersions } from "../results/store";
import type { RunRecord } from "../results/types";

export type Measured = Required<Pick<RunRecord, "startedAt" | "sizeBytes" | "versions" | "inferenceMsPerImage" | "peakRssBytes">> & Pick<RunRecord, "flops">;

export interface LatencyOptions {
  /** Images per forward pass (default 64). */
  batchSize?: number;
  /** Timed passes after the warm-up one (default 3). */
  repeats?: number;
}

/**
 * Inference latency per image in milliseconds: the forward pass alone (inference mode, outputs read back) on one
 * batch of `batchSize` real images of `set`, after one warm-up pass, averaged over `repeats` passes.
 */
export async function inferenceMsPerImage(model: tf.LayersModel, set: ImageSet, options: LatencyOptions = {}): Promise<number> {
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 64, set.n));
  const repeats = options.repeats ?? 3;
  const it = batches(set, { batchSize, shuffle: false });
  const first = it.next();
  it.return(undefined);
  if (first.done) return NaN;
  const { x, y, size } = first.value;
  try {
    const pass = async () => {
      const out = tf.tidy(() => model.apply(x, { training: false }) as tf.Tensor);
      await out.data();
      out.dispose();
    };
    await pass(); // warm-up: kernel set-up, weight layout caches
    const t0 = performance.now();
    for (let i = 0; i < repeats; i++) await pass();
    return (performance.now() - t0) / (repeats * size);
  } finally {
    tf.dispose([x, y]);
  }
}

export interface Meter {
  /** Peak resident set size seen so far, bytes. */
  peakRssBytes(): number;
  /** Stop sampling; measure the finished model's latency on `testSet`, its FLOPs and size. */
  finish(model: tf.LayersModel, testSet: ImageSet): Promise<Measured>;
}

/**
 * Start measuring a run: the start time, and the process's resident set size sampled every `intervalMs` (the
 * training loop yields to the event loop between batches, so the sampler runs during training).
 */
export function startMeter(intervalMs = 200): Meter {
  const startedAt = new Date().toISOString();
  let peak = process.memoryUsage.rss();
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage.rss());
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    peakRssBytes: () => (sample(), peak),
    async finish(model, testSet) {
      const inference = await inferenceMsPerImage(model, testSet);
      sample();
      clearInterval(timer);
      let flops: number | undefined;
      try {
        flops = forwardFlops(model);
      } catch (err) {
        // Never lose a finished run over the FLOP counter: record it without FLOPs, and say why.
        console.warn(`${(err as Error).message}; the run is recorded without FLOPs`);
      }
      return {
        startedAt,
        flops,
        sizeBytes: modelSummary(model).sizeBytes,
        versions: currentVersions(tf.version.tfjs),
        inferenceMsPerImage: inference,
        peakRssBytes: peak,
      };
    },
  };
}

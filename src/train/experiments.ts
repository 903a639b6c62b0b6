/**
 * The lab's experiments as functions the notebooks call: train from scratch on
 * MINICIFAR, pretrain a backbone on filtered CIFAR-100, fit a linear probe on
 * frozen features, fine-tune. Each returns a RunRecord and saves it to the
 * results store (`reports/results.sqlite`), with the run's peak memory, the
 * model's inference latency and FLOPs (`./measure`). Profiles ("quick" for CI
 * and slides drafts, "full" for real runs) hold every size knob in one place.
 */
import * as tf from "@tensorflow/tfjs";
import { batches, epochOrder, parseTransforms, type ImageSet, type Minicifar } from "../data";
import { buildModel, countParams, featureExtractor, withNewHead } from "../models";
import { torchInit, withInitSeed } from "../models/layers";
import type { EpochMetrics, ModelSpec, RunRecord, TrainSpec } from "../results/types";
import { currentVersions, openStore, saveRun } from "../results/store";
import { startMeter, type Measured } from "./measure";
import type { SweepSpec } from "./sweep";
import { DEFAULT_TRAIN, DivergedError, evaluate, featureSource, predictAll, trainModel, type DataSource, type TrainHooks, type TrainResult } from "./loop";

export type ProfileName = "quick" | "full";

export interface Profile {
  name: ProfileName;
  /**
   * The exploration's baseline (the cheapest ResNet and the default recipe): the centre of the one-factor sweeps,
   * and the from-scratch reference of the transfer notebook.
   */
  baseline: { model: string; train: TrainSpec };
  /** Backbone for transfer learning (notebook 03). */
  backbone: string;
  /** CIFAR-100 pretraining: images per fine class (undefined = all 500 train / 100 test) and hyperparameters. */
  pretrainPerClass?: number;
  pretrainTestPerClass?: number;
  pretrain: TrainSpec;
  /** Linear probe on frozen features. */
  probe: TrainSpec;
  /** Fine-tuning of the whole model. */
  finetune: TrainSpec;
  /**
   * Notebook 01's hyperparameter exploration, run in order through `runSweep` (`sweep.ts`): the families first,
   * then the optimisation knobs, the model knobs and the regularisation knobs one at a time around a baseline.
   */
  exploration: SweepSpec[];
}

const sgd = (o: Partial<TrainSpec>): TrainSpec => ({ ...DEFAULT_TRAIN, ...o });

/**
 * The exploration of one profile. Stage 1 compares the four families at one recipe (SGD, momentum 0.9, weight decay
 * 5e-4, cosine, crop + flip). Stages 2–4 vary one group of knobs at a time around a baseline (the cheapest ResNet):
 * optimisation (learning rate, optimizer, batch size, epochs), model (activation, width, depth, dropout) and
 * regularisation (weight decay, transforms). The full profile ends with a random search over learning rate, weight
 * decay and batch size. The baseline itself runs once, in stage 2.
 */
function exploration(profile: ProfileName, o: { families: string[]; baseline: Profile["baseline"]; familyEpochs: number; randomSamples: number; minutes?: number }): SweepSpec[] {
  const train = { epochs: o.baseline.train.epochs, batchSize: o.baseline.train.batchSize, lr: o.baseline.train.lr };
  const baseline = o.baseline.model;
  const common = { profile, ...(o.minutes ? { budget: { minutes: o.minutes } } : {}) };
  const stages: SweepSpec[] = [
    { name: `${profile}-families`, base: { train: { ...train, epochs: o.familyEpochs } }, space: { model: o.families }, ...common },
    {
      name: `${profile}-optimisation`,
      base: { model: baseline, train },
      space: { train: [{}, { lr: 0.1 }, { lr: 0.02 }, { optimizer: "adam", lr: 0.002 }, { batchSize: 128, lr: 0.1 }, { epochs: 2 * train.epochs }] },
      ...common,
    },
    {
      name: `${profile}-model`,
      base: { model: baseline, train },
      space: { model: [{ preset: baseline, activation: "silu" }, { preset: baseline, widthMultiplier: 2 }, { preset: baseline, blocks: [2, 2, 2] }, { preset: baseline, dropout: 0.3 }] },
      ...common,
    },
    {
      name: `${profile}-regularisation`,
      base: { model: baseline, train },
      space: { train: [{ weightDecay: 0 }, { augment: [] }, { augment: ["crop4", "hflip", "cutout8"] }] },
      ...common,
    },
  ];
  if (o.randomSamples > 0) {
    stages.push({
      name: `${profile}-random`,
      search: "random",
      samples: o.randomSamples,
      seed: 0,
      base: { model: baseline, train },
      space: { "train.lr": { min: 0.01, max: 0.2, log: true }, "train.weightDecay": { min: 1e-5, max: 2e-3, log: true }, "train.batchSize": [32, 64, 128] },
      ...common,
    });
  }
  return stages;
}

const QUICK_BASELINE: Profile["baseline"] = { model: "ResNet8-w8", train: sgd({ lr: 0.05, epochs: 3, batchSize: 64 }) };
const FULL_BASELINE: Profile["baseline"] = { model: "ResNet20-w16", train: sgd({ lr: 0.05, epochs: 15, batchSize: 64 }) };

export const PROFILES: Record<ProfileName, Profile> = {
  quick: {
    name: "quick",
    baseline: QUICK_BASELINE,
    backbone: QUICK_BASELINE.model,
    pretrainPerClass: 100,
    pretrainTestPerClass: 50,
    pretrain: sgd({ lr: 0.05, epochs: 3, batchSize: 64 }),
    probe: sgd({ lr: 0.1, epochs: 30, batchSize: 128, weightDecay: 0, augment: [] }),
    finetune: sgd({ lr: 0.01, epochs: 2, batchSize: 64 }),
    exploration: exploration("quick", { families: ["ResNet8-w16", "PreActResNet8-w16", "VGG11-w16", "DenseNet-g12-small"], baseline: QUICK_BASELINE, familyEpochs: 4, randomSamples: 0 }),
  },
  full: {
    name: "full",
    baseline: FULL_BASELINE,
    backbone: FULL_BASELINE.model,
    pretrain: sgd({ lr: 0.05, epochs: 15, batchSize: 64 }),
    probe: sgd({ lr: 0.1, epochs: 50, batchSize: 128, weightDecay: 0, augment: [] }),
    finetune: sgd({ lr: 0.01, epochs: 10, batchSize: 64 }),
    exploration: exploration("full", { families: ["ResNet20-w16", "PreActResNet20-w16", "VGG11-w16", "DenseNet-g12-small"], baseline: FULL_BASELINE, familyEpochs: 30, randomSamples: 8, minutes: 240 }),
  },
};

/**
 * The sweep that trains (or finds in the store) the profile's baseline alone: the first config of the optimisation
 * stage, with the same run id, so notebook 03 reuses notebook 01's run instead of training it again.
 */
export function baselineSweep(p: Profile): SweepSpec {
  const stage = p.exploration.find((s) => s.name === `${p.name}-optimisation`);
  if (!stage) throw new Error(`profile ${p.name} has no optimisation stage holding its baseline`);
  return { ...stage, budget: { runs: 1 } };
}

export function getProfile(name: string): Profile {
  const p = Object.prototype.hasOwnProperty.call(PROFILES, name) ? PROFILES[name as ProfileName] : undefined;
  if (!p) throw new Error(`unknown profile "${name}"; valid: ${Object.keys(PROFILES).join(", ")}`);
  return p;
}

/**
 * An ImageSet as a training DataSource: seeded shuffle and the spec's transforms (`augment`, see
 * `data/transforms.ts`) for training batches; evaluation batches are neither shuffled nor transformed.
 */
export function imageSource(set: ImageSet, spec: Pick<TrainSpec, "augment" | "seed">): DataSource {
  const transforms = parseTransforms(spec.augment);
  return {
    size: set.n,
    numClasses: set.classNames.length,
    order: (epoch) => epochOrder(set.n, true, spec.seed, epoch),
    batches: ({ batchSize, epoch, train }) =>
      batches(set, {
        batchSize,
        epoch,
        seed: spec.seed,
        shuffle: train,
        transforms: train ? transforms : [],
      }),
  };
}

function record(o: {
  id: string;
  task: RunRecord["task"];
  dataset: string;
  spec: ModelSpec;
  train: TrainSpec;
  params: number;
  profile: string;
  result: TrainResult;
  measured: Measured;
}): RunRecord {
  const diverged = o.result.epochs.find((e) => !Number.isFinite(e.trainLoss));
  return {
    id: `${o.profile}/${o.id}`,
    task: o.task,
    dataset: o.dataset,
    model: o.spec,
    train: o.train,
    params: o.params,
    backend: tf.getBackend(),
    profile: o.profile,
    ...o.measured,
    status: diverged ? "diverged" : "done",
    ...(diverged ? { error: `training loss became ${diverged.trainLoss} in epoch ${diverged.epoch}` } : {}),
    epochs: o.result.epochs,
    testAccuracy: o.result.testAccuracy ?? NaN,
    ...(o.result.testLoss !== undefined ? { testLoss: o.result.testLoss } : {}),
    trainSeconds: o.result.trainSeconds,
    trainImagesPerSecond: o.result.trainImagesPerSecond,
    finishedAt: new Date().toISOString(),
  };
}

export interface ScratchRun {
  model: tf.LayersModel;
  record: RunRecord;
}

/**
 * Task 1: train one model from scratch on MINICIFAR, test it, and store the record.
 *
 * `track`: record the run in the store while it trains: status "running" with its set-up when it starts, each
 * epoch as it ends, then the whole record; a NaN loss marks it "diverged" and any other error "failed" (with the
 * error text and the epochs so far) before the error is rethrown. `checkpoint`: a checkpoint file written after
 * every epoch and resumed from when it exists (`hooks.checkpoint`). `resultsDb`: the store (default
 * reports/results.sqlite or LAB_RESULTS_DB).
 */
export async function trainFromScratch(o: {
  data: Minicifar;
  spec: ModelSpec;
  train: TrainSpec;
  profile: string;
  id?: string;
  hooks?: TrainHooks;
  save?: boolean;
  track?: boolean;
  checkpoint?: string;
  resultsDb?: string;
}): Promise<ScratchRun> {
  tf.util.assert(o.spec.numClasses === o.data.classes.length, () => `model has ${o.spec.numClasses} classes, MINICIFAR has ${o.data.classes.length}`);
  const meter = startMeter();
  const model = buildModel(o.spec, o.train.seed);
  const runId = o.id ?? `scratch/${o.spec.name}`; // the record's id; the store keys it under the profile
  const id = `${o.profile}/${runId}`;
  const store = o.track ? openStore(o.resultsDb) : undefined;
  let result: TrainResult;
  try {
    store?.startRun({ id, task: "scratch", dataset: "minicifar", model: o.spec, train: o.train, params: countParams(model), backend: tf.getBackend(), profile: o.profile, versions: currentVersions(tf.version.tfjs) });
    const onEpoch = o.hooks?.onEpoch;
    result = await trainModel(
      model,
      {
        train: imageSource(o.data.train, o.train),
        valid: o.data.valid.n > 0 ? imageSource(o.data.valid, o.train) : undefined,
        test: imageSource(o.data.test, o.train),
      },
      o.train,
      {
        label: o.spec.name,
        ...o.hooks,
        onEpoch: (m) => {
          store?.addEpoch(id, m);
          onEpoch?.(m);
        },
        ...(o.checkpoint ? { checkpoint: { file: o.checkpoint, modelSpec: o.spec } } : {}),
      },
    );
  } catch (err) {
    try {
      store?.failRun(id, err, err instanceof DivergedError ? "diverged" : "failed");
    } finally {
      store?.close();
      model.dispose();
    }
    throw err;
  }
  try {
    const rec = record({ id: runId, task: "scratch", dataset: "minicifar", spec: o.spec, train: o.train, params: countParams(model), profile: o.profile, result, measured: await meter.finish(model, o.data.test) });
    if (o.save !== false) {
      if (store) store.saveRun(rec);
      else saveRun(rec, o.resultsDb);
    }
    return { model, record: rec };
  } finally {
    store?.close();
  }
}

/** Part 3, step 1: pretrain a backbone on (filtered) CIFAR-100. */
export async function pretrainBackbone(o: {
  train: ImageSet;
  test: ImageSet;
  spec: ModelSpec;
  trainSpec: TrainSpec;
  profile: string;
  hooks?: TrainHooks;
}): Promise<ScratchRun> {
  const meter = startMeter();
  const model = buildModel(o.spec, o.trainSpec.seed);
  const result = await trainModel(
    model,
    { train: imageSource(o.train, o.trainSpec), valid: imageSource(o.test, o.trainSpec) },
    o.trainSpec,
    { label: `${o.spec.name} on CIFAR-100`, ...o.hooks },
  );
  // CIFAR-100 has no separate validation split here: the test split served as validation.
  const last = result.epochs[result.epochs.length - 1];
  result.testAccuracy = last.valAccuracy;
  const rec = record({ id: `pretrain/${o.spec.name}`, task: "pretrain", dataset: "cifar100-filtered", spec: o.spec, train: o.trainSpec, params: countParams(model), profile: o.profile, result, measured: await meter.finish(model, o.test) });
  saveRun(rec);
  return { model, record: rec };
}

/**
 * Part 3, step 2: freeze the backbone, compute its pooled features once, and train a
 * linear classifier on them. Returns the full model (backbone + trained head).
 */
export async function linearProbe(o: {
  backbone: tf.LayersModel;
  backboneSpec: ModelSpec;
  data: Minicifar;
  trainSpec: TrainSpec;
  profile: string;
  hooks?: TrainHooks;
}): Promise<ScratchRun> {
  const meter = startMeter();
  const t0 = Date.now();
  const features = featureExtractor(o.backbone);
  const plain = { ...o.trainSpec, augment: [] };
  const k = o.data.classes.length;
  const f = async (set: ImageSet) => {
    const r = await predictAll(features, imageSource(set, plain));
    return featureSource(r.outputs, r.dim, r.labels, k, o.trainSpec.seed);
  };
  const [train, valid, test] = [await f(o.data.train), await f(o.data.valid), await f(o.data.test)];
  const featureSeconds = (Date.now() - t0) / 1000;
  const dim = features.outputs[0].shape[1] as number;
  const head = withInitSeed(o.trainSpec.seed, () =>
    tf.sequential({ layers: [tf.layers.dense({ inputShape: [dim], units: k, kernelInitializer: torchInit(), name: "probe" })] }),
  );
  const result = await trainModel(head, { train, valid, test }, o.trainSpec, { label: "linear probe", ...o.hooks });
  result.trainSeconds += featureSeconds;
  const model = withNewHead(o.backbone, k, 0, o.trainSpec.seed);
  model.getLayer("head").setWeights(head.getLayer("probe").getWeights());
  head.dispose();
  const spec: ModelSpec = { ...o.backboneSpec, numClasses: k };
  const rec = record({ id: `probe/${o.backboneSpec.name}`, task: "probe", dataset: "minicifar", spec, train: o.trainSpec, params: dim * k + k, profile: o.profile, result, measured: await meter.finish(model, o.data.test) });
  saveRun(rec);
  return { model, record: rec };
}

/** Part 3, step 3: fine-tune every layer of the probed model on MINICIFAR. */
export async function fineTune(o: {
  model: tf.LayersModel;
  spec: ModelSpec;
  data: Minicifar;
  trainSpec: TrainSpec;
  profile: string;
  hooks?: TrainHooks;
}): Promise<ScratchRun> {
  const meter = startMeter();
  const data = { train: imageSource(o.data.train, o.trainSpec), valid: imageSource(o.data.valid, o.trainSpec), test: imageSource(o.data.test, o.trainSpec) };
  const result = await trainModel(o.model, data, o.trainSpec, { label: `fine-tune ${o.spec.name}`, ...o.hooks });
  const rec = record({ id: `finetune/${o.spec.name}`, task: "finetune", dataset: "minicifar", spec: o.spec, train: o.trainSpec, params: countParams(o.model), profile: o.profile, result, measured: await meter.finish(o.model, o.data.test) });
  saveRun(rec);
  return { model: o.model, record: rec };
}

/** Accuracy of a model on a MINICIFAR split, for quick checks in notebooks. */
export async function accuracyOn(model: tf.LayersModel, set: ImageSet): Promise<number> {
  return (await evaluate(model, imageSource(set, { augment: [], seed: 0 }))).accuracy;
}

/** A compact per-epoch table for notebook output. */
export function epochTable(epochs: EpochMetrics[]): string {
  const rows = epochs.map(
    (e) =>
      `${String(e.epoch).padStart(5)}  ${e.trainLoss.toFixed(3).padStart(10)}  ${(100 * e.trainAccuracy).toFixed(1).padStart(9)}%  ${(100 * e.valAccuracy).toFixed(1).padStart(7)}%  ${e.lr.toFixed(4).padStart(7)}  ${e.seconds.toFixed(1).padStart(6)}s`,
  );
  return ["epoch  train loss  train acc  val acc      lr    time", ...rows].join("\n");
}

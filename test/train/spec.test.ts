import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_TRAIN, checkTrainSpec } from "../../src/train/loop";
import { PROFILES } from "../../src/train/experiments";
import { TRAIN_SPEC_KEYS, TrainSpecError, describeTrainSpecKeys, validateTrainSpec } from "../../src/train/spec";
import type { TrainSpec } from "../../src/results/types";

const RUNS = path.join(__dirname, "..", "fixtures", "report", "runs");

test("old specs stay valid: DEFAULT_TRAIN, every profile's specs, and recorded runs (sgd, cosine/constant, crop4+hflip or [])", () => {
  validateTrainSpec(DEFAULT_TRAIN);
  for (const p of Object.values(PROFILES)) for (const s of [p.baseline.train, p.pretrain, p.probe, p.finetune]) validateTrainSpec(s);
  for (const f of fs.readdirSync(RUNS)) validateTrainSpec(JSON.parse(fs.readFileSync(path.join(RUNS, f), "utf8")).train);
  validateTrainSpec({ ...DEFAULT_TRAIN, schedule: "constant", augment: [] });
  // DEFAULT_TRAIN means what it meant.
  assert.deepEqual(DEFAULT_TRAIN, { optimizer: "sgd", lr: 0.05, momentum: 0.9, weightDecay: 5e-4, epochs: 10, batchSize: 64, schedule: "cosine", augment: ["crop4", "hflip"], seed: 0 });
});

test("every new knob is accepted in a full spec", () => {
  const full: TrainSpec = {
    optimizer: "sgd",
    lr: 0.1,
    momentum: 0.9,
    weightDecay: 5e-4,
    nesterov: true,
    epochs: 30,
    batchSize: 64,
    schedule: "multistep",
    scheduleOptions: { milestones: [15, 25], gamma: 0.1 },
    warmup: { epochs: 2, startFactor: 0.1 },
    earlyStopping: { patience: 5, minDelta: 0.001 },
    labelSmoothing: 0.1,
    clipNorm: 5,
    augment: ["crop4", "hflip", "cutout16"],
    seed: 0,
  };
  assert.equal(validateTrainSpec(full), full);
  validateTrainSpec({ ...DEFAULT_TRAIN, optimizer: "adam", momentum: undefined, betas: [0.9, 0.99], eps: 1e-7, amsgrad: true, schedule: "onecycle", scheduleOptions: { pctStart: 0.25, threePhase: true } });
  validateTrainSpec({ ...DEFAULT_TRAIN, optimizer: "adamw", momentum: undefined, weightDecay: undefined, warmup: { steps: 100 } });
  validateTrainSpec({ ...DEFAULT_TRAIN, optimizer: "rmsprop", alpha: 0.9, centered: true, schedule: "step", scheduleOptions: { stepSize: 3 }, augment: ["none"] });
});

function problems(spec: unknown): { message: string; problems: string[] } {
  try {
    validateTrainSpec(spec);
  } catch (e) {
    assert.ok(e instanceof TrainSpecError, String(e));
    return { message: e.message, problems: e.problems };
  }
  assert.fail(`accepted ${JSON.stringify(spec)}`);
}

test("an unknown key, a wrong type or a bad value is refused with the valid keys and their types/ranges", () => {
  const unknown = problems({ ...DEFAULT_TRAIN, learningRate: 0.1 });
  assert.deepEqual(unknown.problems, ["train.learningRate is not a known key (valid: " + Object.keys(TRAIN_SPEC_KEYS).join(", ") + ")"]);
  // The message lists every key with its type and range, and what it applies to.
  for (const line of ["valid train keys (type, range; [applies to]):", "  lr (required): number > 0", "  momentum: number in [0, 1) (default 0) [sgd, rmsprop]", "  betas: [beta1, beta2], each in [0, 1) (default [0.9, 0.999]) [adam, adamw]", "    scheduleOptions.stepSize: integer ≥ 1 (epochs) [step]", "    earlyStopping.patience (required): integer ≥ 1", '  optimizer (required): "sgd" | "adam" | "adamw" | "rmsprop"']) {
    assert.ok(unknown.message.includes(line), `message lacks ${JSON.stringify(line)}:\n${unknown.message}`);
  }
  assert.ok(unknown.message.endsWith(describeTrainSpecKeys()));

  assert.deepEqual(problems({ ...DEFAULT_TRAIN, lr: "0.1" }).problems, ['train.lr must be number > 0 (one-cycle: max_lr), got "0.1"']);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, epochs: 2.5 }).problems, ["train.epochs must be integer ≥ 1, got 2.5"]);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, optimizer: "adagrad" }).problems, ['train.optimizer must be "sgd" | "adam" | "adamw" | "rmsprop", got "adagrad"']);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, schedule: "exponential" }).problems, ['train.schedule must be "constant" | "step" | "multistep" | "cosine" | "onecycle", got "exponential"']);
  assert.match(problems({ ...DEFAULT_TRAIN, augment: ["crop4", "rotate"] }).problems[0], /^train\.augment: unknown transform "rotate"; valid: a list of "crop<P>"/);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, labelSmoothing: 1 }).problems, ["train.labelSmoothing must be number in [0, 1) (default 0), got 1"]);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, clipNorm: 0 }).problems, ["train.clipNorm must be number > 0 (max total gradient 2-norm; absent = no clipping), got 0"]);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, optimizer: "adam", momentum: undefined, betas: [1.2, 0.9] }).problems, ["train.betas must be [beta1, beta2], each in [0, 1) (default [0.9, 0.999]), got [1.2,0.9]"]);
});

test("parameters of another optimizer or schedule, nested objects and cross-field rules", () => {
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, optimizer: "adam" }).problems, ['train.momentum does not apply to optimizer "adam" (it applies to sgd, rmsprop)']);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, centered: true }).problems, ['train.centered does not apply to optimizer "sgd" (it applies to rmsprop)']);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, scheduleOptions: { stepSize: 3 } }).problems, ['train.scheduleOptions.stepSize does not apply to schedule "cosine" (it applies to step)']);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, scheduleOptions: { etaMin: 0, tmax: 3 } }).problems, [
    "train.scheduleOptions.tmax is not a known key (valid: stepSize, gamma, milestones, tMax, etaMin, pctStart, divFactor, finalDivFactor, annealStrategy, threePhase, cycleMomentum, baseMomentum, maxMomentum)",
  ]);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, schedule: "step" }).problems, ['train.scheduleOptions.stepSize is required for schedule "step" (integer ≥ 1 (epochs))']);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, schedule: "multistep", scheduleOptions: { milestones: [5, 3] } }).problems, [
    "train.scheduleOptions.milestones must be strictly increasing integers ≥ 1 (epochs), at least one, got [5,3]",
  ]);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, nesterov: true, momentum: 0 }).problems, ["train.nesterov needs momentum > 0 and dampening 0 (torch.optim.SGD), got momentum 0, dampening undefined"]);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, warmup: { epochs: 10 } }).problems, ["train.warmup.epochs (10) must be fewer than epochs (10)"]);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, warmup: { epochs: 1, steps: 5 } }).problems, ['train.warmup needs exactly one of epochs, steps; got {"epochs":1,"steps":5}']);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, warmup: { startFactor: 0 } }).problems, [
    "train.warmup.startFactor must be number in (0, 1] (default 1/3), got 0",
    'train.warmup needs exactly one of epochs, steps; got {"startFactor":0}',
  ]);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, earlyStopping: { minDelta: 0.01 } }).problems, ["train.earlyStopping.patience is required (integer ≥ 1 (epochs without improvement))"]);
  assert.deepEqual(problems({ ...DEFAULT_TRAIN, earlyStopping: 5 }).problems, ["train.earlyStopping must be object, got 5"]);
  // Every problem at once; missing required keys too.
  const many = problems({ optimizer: "sgd", lr: -1, epochs: 3, foo: 1 }).problems;
  assert.deepEqual(many, [
    "train.lr must be number > 0 (one-cycle: max_lr), got -1",
    "train.foo is not a known key (valid: " + Object.keys(TRAIN_SPEC_KEYS).join(", ") + ")",
    "train.batchSize is required (integer ≥ 1)",
    'train.schedule is required ("constant" | "step" | "multistep" | "cosine" | "onecycle")',
    "train.augment is required (list of " + TRAIN_SPEC_KEYS.augment.type.slice(8) + ")",
    "train.seed is required (integer in [0, 2^32 − 1])",
  ]);
  assert.deepEqual(problems(null).problems, ["expected an object, got null"]);
  // checkTrainSpec (what trainModel calls) is the same validation.
  assert.throws(() => checkTrainSpec({ ...DEFAULT_TRAIN, optimizer: "adam" }), /momentum does not apply to optimizer "adam"[\s\S]*valid train keys/);
});

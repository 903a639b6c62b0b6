/**
 * Our own checkpoints, without tfjs-node: `<dir>/model.json` (topology, weight
 * manifest and user metadata) plus `<dir>/weights.bin`. Both are written
 * atomically; weights round-trip bit for bit.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { ensureDir, writeFileAtomic } from "../results/store";
import "./layers"; // registers our custom layer classes (TorchBatchNorm) for deserialisation

export interface CheckpointMeta {
  [key: string]: unknown;
}

export async function saveModel(model: tf.LayersModel, dir: string, meta: CheckpointMeta = {}): Promise<string> {
  ensureDir(dir);
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const buffers = data === undefined ? [] : Array.isArray(data) ? data : [data];
      const bytes = Buffer.concat(buffers.map((b) => Buffer.from(b)));
      // Weights first: model.json names them, so it must never point at a missing file.
      writeFileAtomic(path.join(dir, "weights.bin"), bytes);
      const json = {
        format: "minicifar-lab/layers-model",
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs }],
        userDefinedMetadata: meta,
        savedAt: new Date().toISOString(),
      };
      writeFileAtomic(path.join(dir, "model.json"), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON", weightDataBytes: bytes.length } };
    }),
  );
  return dir;
}

export async function loadModel(dir: string): Promise<{ model: tf.LayersModel; meta: CheckpointMeta }> {
  const jsonPath = path.join(dir, "model.json");
  const binPath = path.join(dir, "weights.bin");
  if (!fs.existsSync(jsonPath)) throw new Error(`no checkpoint at ${dir}: ${jsonPath} does not exist`);
  let json: {
    modelTopology?: object;
    weightsManifest?: { weights: tf.io.WeightsManifestEntry[] }[];
    userDefinedMetadata?: CheckpointMeta;
  };
  try {
    json = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
  } catch (err) {
    throw new Error(`checkpoint ${jsonPath} is not valid JSON: ${(err as Error).message}`);
  }
  if (!json.modelTopology || !json.weightsManifest) {
    throw new Error(`checkpoint ${jsonPath} lacks "modelTopology" or "weightsManifest"`);
  }
  if (!fs.existsSync(binPath)) throw new Error(`checkpoint ${dir} has no weights file ${binPath}`);
  const buf = fs.readFileSync(binPath);
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  const expected = weightSpecs.reduce((s, w) => s + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
  if (buf.length !== expected) {
    throw new Error(`checkpoint ${binPath} holds ${buf.length} bytes but model.json describes ${expected}`);
  }
  const weightData = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData }));
  return { model, meta: json.userDefinedMetadata ?? {} };
}

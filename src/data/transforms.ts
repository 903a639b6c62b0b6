/**
 * Train-time image transforms: seeded, composable, declared by name (TrainSpec.augment) and applied per image by
 * `batches()` (`batches.ts`) while it normalises, with no extra pass or tensor.
 *
 * Names (`parseTransforms`):
 *  - "crop<P>"   torchvision RandomCrop(32, padding=P), P in 1..32: the raw image is padded with 0 (black), then a
 *                32×32 window at a uniform offset in 0..2P is cut out ("crop4" is kuangliu's).
 *  - "hflip"     RandomHorizontalFlip(p = 0.5).
 *  - "cutout<L>" Cutout (DeVries & Taylor 2017, one hole of length L, L in 1..32): a centre (y, x) uniform over the
 *                32×32 image; rows y − ⌊L/2⌋ … y + ⌊L/2⌋ − 1 and the same columns, clipped at the borders, are set
 *                to 0 after normalisation (the dataset mean), as their reference code does (so an odd L gives an
 *                L − 1 hole, like theirs).
 *  - "none"      no transform (only on its own; the same as []).
 *
 * A list applies its transforms in order, each at most once: ["crop4", "hflip", "cutout16"] crops, flips, then cuts
 * out. Every image draws its random numbers in list order from one numpy-compatible RandomState per epoch
 * (crop: row offset then column offset, `randint(0, 2P + 1)` each; flip: `random_sample() < 0.5`; cutout:
 * `randint(0, 32)` for y then x), so the same seed and epoch give the same batches, and ["crop4", "hflip"] gives
 * exactly the batches it gave before cutout existed.
 */
import { RandomState } from "./random-state";
import { IMAGE_SIZE } from "./types";

export type Transform = { kind: "crop"; padding: number } | { kind: "hflip" } | { kind: "cutout"; size: number };

export const TRANSFORM_HELP = '"crop<P>" (random crop with zero padding P, 1..32), "hflip" (horizontal flip, p = 0.5), "cutout<L>" (one L×L hole, 1..32), or "none" alone';

/** The name of a transform, as `parseTransforms` reads it. */
export function transformName(t: Transform): string {
  return t.kind === "crop" ? `crop${t.padding}` : t.kind === "cutout" ? `cutout${t.size}` : "hflip";
}

/** Parse and check a transform list, e.g. ["crop4", "hflip", "cutout16"]; throws naming the bad entry and the valid names. */
export function parseTransforms(names: unknown): Transform[] {
  const bad = (why: string) => new Error(`augment: ${why}; valid: a list of ${TRANSFORM_HELP}, e.g. ["crop4", "hflip", "cutout16"]`);
  if (!Array.isArray(names)) throw bad(`expected a list of transform names, got ${JSON.stringify(names)}`);
  if (names.length === 1 && names[0] === "none") return [];
  const out: Transform[] = [];
  for (const n of names) {
    if (typeof n !== "string") throw bad(`${JSON.stringify(n)} is not a transform name`);
    if (n === "none") throw bad(`"none" must be the only entry, got ${JSON.stringify(names)}`);
    let t: Transform | undefined;
    let m: RegExpMatchArray | null;
    if (n === "hflip") t = { kind: "hflip" };
    else if ((m = /^crop([1-9]\d*)$/.exec(n)) && Number(m[1]) <= IMAGE_SIZE) t = { kind: "crop", padding: Number(m[1]) };
    else if ((m = /^cutout([1-9]\d*)$/.exec(n)) && Number(m[1]) <= IMAGE_SIZE) t = { kind: "cutout", size: Number(m[1]) };
    if (!t) throw bad(`unknown transform ${JSON.stringify(n)}`);
    if (out.some((o) => o.kind === t!.kind)) throw bad(`${t.kind} appears twice in ${JSON.stringify(names)}`);
    out.push(t);
  }
  return out;
}

/**
 * Where one image's pixels come from after its transforms: output pixel (y, x) is source pixel
 * (y + dy, x' + dx) with x' = flip ? 31 − x : x (raw 0 outside the image), as `augmentInto` renders it, and the
 * rectangle rows [y0, y1) × columns [x0, x1) of the output is a cutout hole (empty when y0 ≥ y1 or x0 ≥ x1).
 */
export interface Placement {
  dy: number;
  dx: number;
  flip: boolean;
  hole?: { y0: number; y1: number; x0: number; x1: number };
}

const clip = (v: number) => Math.min(Math.max(v, 0), IMAGE_SIZE);

/** Draw one image's random numbers, in list order, and compose the transforms into a Placement. */
export function drawPlacement(ts: readonly Transform[], rs: RandomState): Placement {
  const S = IMAGE_SIZE;
  const p: Placement = { dy: 0, dx: 0, flip: false };
  for (const t of ts) {
    if (t.kind === "crop") {
      // out(y, x) = prev(y + ey, x + ex): crop after a flip shifts the source the other way.
      const ey = t.padding > 0 ? rs.randint(0, 2 * t.padding + 1) - t.padding : 0;
      const ex = t.padding > 0 ? rs.randint(0, 2 * t.padding + 1) - t.padding : 0;
      p.dy += ey;
      p.dx += p.flip ? -ex : ex;
      if (p.hole) p.hole = { y0: clip(p.hole.y0 - ey), y1: clip(p.hole.y1 - ey), x0: clip(p.hole.x0 - ex), x1: clip(p.hole.x1 - ex) };
    } else if (t.kind === "hflip") {
      if (rs.randomSample() < 0.5) {
        p.flip = !p.flip;
        if (p.hole) p.hole = { ...p.hole, x0: S - p.hole.x1, x1: S - p.hole.x0 };
      }
    } else {
      const cy = rs.randint(0, S);
      const cx = rs.randint(0, S);
      const h = Math.floor(t.size / 2);
      p.hole = { y0: clip(cy - h), y1: clip(cy + h), x0: clip(cx - h), x1: clip(cx + h) };
    }
  }
  return p;
}

/** Set the hole of `p` to 0 in the normalised HWC float image at `dstOff`. */
export function applyHole(dst: Float32Array, dstOff: number, p: Placement): void {
  const h = p.hole;
  if (!h) return;
  for (let y = h.y0; y < h.y1; y++) {
    const row = dstOff + y * IMAGE_SIZE * 3;
    dst.fill(0, row + h.x0 * 3, row + h.x1 * 3);
  }
}

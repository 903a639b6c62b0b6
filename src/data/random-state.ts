/**
 * A port of numpy's legacy `np.random.RandomState` (MT19937) for the parts the lab needs.
 *
 * Bit-identical to numpy for: integer seeding (init_genrand), `random_sample`, `shuffle`,
 * `permutation`, `choice(n, k, replace=False)` and `randint(low, high)` (ranges up to 2^32).
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export class RandomState {
  private readonly mt = new Uint32Array(N);
  private mti = N + 1;

  /** `seed` must be an integer in [0, 2^32 - 1], as numpy requires. */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`RandomState: seed must be an integer between 0 and 2**32 - 1, got ${seed}`);
    }
    this.initGenrand(seed >>> 0);
  }

  private initGenrand(s: number): void {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1];
      mt[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) >>> 0;
    }
    this.mti = N;
  }

  private generate(): void {
    const mt = this.mt;
    let kk = 0;
    let y: number;
    for (; kk < N - M; kk++) {
      y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
      mt[kk] = mt[kk + M] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    for (; kk < N - 1; kk++) {
      y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
      mt[kk] = mt[kk + (M - N)] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    y = (mt[N - 1] & UPPER_MASK) | (mt[0] & LOWER_MASK);
    mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    this.mti = 0;
  }

  /** One raw 32-bit output (numpy `random_uint32` / genrand_int32). */
  nextUint32(): number {
    if (this.mti >= N) this.generate();
    let y = this.mt[this.mti++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A double in [0, 1) with 53 random bits, from two draws (numpy `random_sample`). */
  randomSample(): number;
  randomSample(size: number): Float64Array;
  randomSample(size?: number): number | Float64Array {
    if (size === undefined) return this.nextDouble();
    checkCount("randomSample", "size", size);
    const out = new Float64Array(size);
    for (let i = 0; i < size; i++) out[i] = this.nextDouble();
    return out;
  }

  private nextDouble(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /**
   * A uniform integer in [0, max] by masked rejection sampling (numpy legacy `random_interval`).
   * Supports max up to 2^32 - 1 (32-bit draws, as numpy does in that range).
   */
  randomInterval(max: number): number {
    if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) {
      throw new Error(`RandomState.randomInterval: max must be an integer in [0, 2**32 - 1], got ${max}`);
    }
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let value: number;
    do {
      value = (this.nextUint32() & mask) >>> 0;
    } while (value > max);
    return value;
  }

  /**
   * numpy `randint(low, high)`: a uniform integer in [low, high). With one argument, [0, low).
   * The range high - low must be in [1, 2^32].
   */
  randint(low: number, high?: number): number {
    if (high === undefined) {
      high = low;
      low = 0;
    }
    if (!Number.isInteger(low) || !Number.isInteger(high)) {
      throw new Error(`RandomState.randint: low and high must be integers, got ${low} and ${high}`);
    }
    if (high <= low) throw new Error(`RandomState.randint: low >= high (${low} >= ${high})`);
    const rng = high - 1 - low;
    if (rng > 0xffffffff) throw new Error(`RandomState.randint: range ${rng + 1} is larger than 2**32`);
    if (rng === 0xffffffff) return low + this.nextUint32();
    return low + this.randomInterval(rng);
  }

  /** In-place Fisher–Yates shuffle from the end, as numpy's legacy `shuffle` of a 1-D array. */
  shuffle<T extends { length: number; [i: number]: any }>(arr: T): T {
    for (let i = arr.length - 1; i >= 1; i--) {
      const j = this.randomInterval(i);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }

  /** numpy `permutation(n)`: a shuffled `arange(n)`. */
  permutation(n: number): Int32Array {
    checkCount("permutation", "n", n);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }

  /** numpy `choice(n, k, replace=False)` = `permutation(n)[:k]`. */
  choice(n: number, k: number, replace = false): Int32Array {
    checkCount("choice", "n", n);
    checkCount("choice", "k", k);
    if (replace) {
      // numpy: randint(0, n, size=k)
      if (n === 0) throw new Error("RandomState.choice: n must be > 0");
      const out = new Int32Array(k);
      for (let i = 0; i < k; i++) out[i] = this.randint(0, n);
      return out;
    }
    if (k > n) {
      throw new Error(`RandomState.choice: cannot take a larger sample (k=${k}) than the population (n=${n}) without replacement`);
    }
    return this.permutation(n).slice(0, k);
  }
}

function checkCount(fn: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
    throw new Error(`RandomState.${fn}: ${name} must be a non-negative integer, got ${v}`);
  }
}

/**
 * Mix integers into a 32-bit seed (for deriving per-epoch / per-stream seeds from a user seed).
 * Deterministic; not numpy-compatible (numpy has no such function).
 */
export function deriveSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    if (!Number.isFinite(p)) throw new Error(`deriveSeed: non-finite part ${p}`);
    const v = Math.floor(p);
    // feed low and high 32-bit halves
    const lo = v >>> 0;
    const hi = Math.floor(v / 4294967296) >>> 0;
    for (const w of [lo, hi]) {
      h = Math.imul(h ^ w, 0x01000193) >>> 0;
      h ^= h >>> 15;
      h = Math.imul(h, 0x2c1b3c6d) >>> 0;
      h ^= h >>> 12;
    }
  }
  return h >>> 0;
}

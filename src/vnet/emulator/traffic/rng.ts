/**
 * A small seeded pseudo-random generator for everything the emulator draws
 * at random: same seed, same sequence, on every platform. The generator is
 * sfc32 (Chris Doty-Humphrey's small fast counter) seeded through splitmix32,
 * so nearby seeds give unrelated streams.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Exponential with the given mean. */
  exp(mean: number): number;
  /** Poisson-distributed count with the given mean. */
  poisson(mean: number): number;
  /** Standard normal (mean 0, deviation 1). */
  normal(): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** Fill `out` with random bytes. */
  bytes(out: Uint8Array): Uint8Array;
  /** An independent generator derived from this one's next values. */
  fork(): Rng;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Mix numbers and strings into one 32-bit seed (FNV-1a over the parts, then avalanche). */
export function mixSeed(...parts: readonly (number | string)[]): number {
  let h = 0x811c9dc5;
  const add = (byte: number) => {
    h = Math.imul(h ^ (byte & 0xff), 0x01000193) >>> 0;
  };
  for (const p of parts) {
    if (typeof p === 'number') {
      const lo = p >>> 0;
      const hi = Math.floor(p / 0x100000000) >>> 0;
      for (const w of [lo, hi]) for (let i = 0; i < 4; i++) add(w >>> (8 * i));
    } else {
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        add(c);
        add(c >>> 8);
      }
    }
    add(0xff);
  }
  return splitmix32(h)();
}

/** A generator for `seed` (any number; it is reduced to 32 bits with its high part mixed in). */
export function createRng(seed: number): Rng {
  const init = splitmix32(mixSeed(seed));
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  let spare: number | undefined;
  const rng: Rng = {
    next: () => u32() / 0x100000000,
    int: (n) => {
      if (!(n >= 1)) return 0;
      if (n <= 0x100000000) return Math.floor((u32() / 0x100000000) * n);
      return Math.floor(((u32() * 0x100000000 + u32()) / 2 ** 64) * n);
    },
    exp: (mean) => -Math.log(1 - rng.next()) * mean,
    normal: () => {
      if (spare !== undefined) {
        const s = spare;
        spare = undefined;
        return s;
      }
      let u = 0;
      while (u === 0) u = rng.next();
      const v = rng.next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    poisson: (mean) => {
      if (!(mean > 0)) return 0;
      if (mean < 30) {
        // Knuth: multiply uniforms until the product drops below e^-mean.
        const limit = Math.exp(-mean);
        let k = 0;
        let p = rng.next();
        while (p > limit) {
          k++;
          p *= rng.next();
        }
        return k;
      }
      return poissonPtrs(rng, mean);
    },
    pick: (items) => items[rng.int(items.length)],
    bytes: (out) => {
      let i = 0;
      for (; i + 4 <= out.length; i += 4) {
        const v = u32();
        out[i] = v;
        out[i + 1] = v >>> 8;
        out[i + 2] = v >>> 16;
        out[i + 3] = v >>> 24;
      }
      if (i < out.length) {
        const v = u32();
        for (let j = 0; i < out.length; i++, j++) out[i] = v >>> (8 * j);
      }
      return out;
    },
    fork: () => createRng(u32() * 0x100000 + (u32() >>> 12)),
  };
  return rng;
}

/** Hörmann's transformed rejection with squeeze (PTRS, 1993), exact for large means. */
function poissonPtrs(rng: Rng, mean: number): number {
  const slam = Math.sqrt(mean);
  const logLam = Math.log(mean);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invAlpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  while (true) {
    const u = rng.next() - 0.5;
    const v = rng.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + Math.log(invAlpha) - Math.log(a / (us * us) + b) <= -mean + k * logLam - logGamma(k + 1)) return k;
  }
}

function logGamma(x: number): number {
  // Stirling series; accurate to ~1e-10 for x ≥ 10, with recursion below.
  if (x < 10) {
    let p = 1;
    while (x < 10) p *= x++;
    return logGamma(x) - Math.log(p);
  }
  const x2 = x * x;
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * x) - 1 / (360 * x * x2) + 1 / (1260 * x2 * x2 * x);
}

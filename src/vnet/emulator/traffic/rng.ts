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

// splitmix32: the generator that seeds sfc32 (one output per call of the state + golden ratio).
function splitmixOut(s: number): number {
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

const FNV_PRIME = 0x01000193;

function fnvNumber(h: number, p: number): number {
  const lo = p >>> 0;
  const hi = Math.floor(p / 0x100000000) >>> 0;
  h = Math.imul(h ^ (lo & 0xff), FNV_PRIME) >>> 0;
  h = Math.imul(h ^ ((lo >>> 8) & 0xff), FNV_PRIME) >>> 0;
  h = Math.imul(h ^ ((lo >>> 16) & 0xff), FNV_PRIME) >>> 0;
  h = Math.imul(h ^ (lo >>> 24), FNV_PRIME) >>> 0;
  h = Math.imul(h ^ (hi & 0xff), FNV_PRIME) >>> 0;
  h = Math.imul(h ^ ((hi >>> 8) & 0xff), FNV_PRIME) >>> 0;
  h = Math.imul(h ^ ((hi >>> 16) & 0xff), FNV_PRIME) >>> 0;
  h = Math.imul(h ^ (hi >>> 24), FNV_PRIME) >>> 0;
  return h;
}

function fnvString(h: number, p: string): number {
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), FNV_PRIME) >>> 0;
    h = Math.imul(h ^ (c >>> 8), FNV_PRIME) >>> 0;
  }
  return h;
}

/** Mix numbers and strings into one 32-bit seed (FNV-1a over the parts, then avalanche). */
export function mixSeed(...parts: readonly (number | string)[]): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    h = typeof p === 'number' ? fnvNumber(h, p) : fnvString(h, p);
    h = Math.imul(h ^ 0xff, FNV_PRIME) >>> 0;
  }
  return splitmixOut((h + 0x9e3779b9) >>> 0);
}

/** {@link mixSeed} of one number, without an argument array (hot paths). */
export function mixSeed1(n: number): number {
  const h = Math.imul(fnvNumber(0x811c9dc5, n) ^ 0xff, FNV_PRIME) >>> 0;
  return splitmixOut((h + 0x9e3779b9) >>> 0);
}

/** {@link mixSeed} of a number and two strings, without an argument array (hot paths). */
export function mixSeed3(n: number, s: string, t: string): number {
  let h = fnvNumber(0x811c9dc5, n);
  h = Math.imul(h ^ 0xff, FNV_PRIME) >>> 0;
  h = fnvString(h, s);
  h = Math.imul(h ^ 0xff, FNV_PRIME) >>> 0;
  h = fnvString(h, t);
  h = Math.imul(h ^ 0xff, FNV_PRIME) >>> 0;
  return splitmixOut((h + 0x9e3779b9) >>> 0);
}

/** {@link mixSeed} of a number and a string, without an argument array (hot paths). */
export function mixSeed2(n: number, s: string): number {
  let h = fnvNumber(0x811c9dc5, n);
  h = Math.imul(h ^ 0xff, FNV_PRIME) >>> 0;
  h = fnvString(h, s);
  h = Math.imul(h ^ 0xff, FNV_PRIME) >>> 0;
  return splitmixOut((h + 0x9e3779b9) >>> 0);
}

/**
 * sfc32 with the state in fields: a method call per draw and no closures, so
 * a generator per flow is cheap. The fields hold the state as signed 32-bit
 * integers (the same bits), which the engine keeps unboxed.
 */
class Sfc32 implements ReseedableRng {
  a = 0;
  b = 0;
  c = 0;
  d = 0;
  spare = 0;
  hasSpare = false;

  constructor(seed: number) {
    this.reseed(seed);
  }

  /** Start over as {@link createRng}(seed) would. */
  reseed(seed: number): this {
    this.hasSpare = false;
    this.spare = 0;
    let s = mixSeed1(seed);
    s = (s + 0x9e3779b9) >>> 0;
    this.a = splitmixOut(s) | 0;
    s = (s + 0x9e3779b9) >>> 0;
    this.b = splitmixOut(s) | 0;
    s = (s + 0x9e3779b9) >>> 0;
    this.c = splitmixOut(s) | 0;
    s = (s + 0x9e3779b9) >>> 0;
    this.d = splitmixOut(s) | 0;
    this.skip(12);
    return this;
  }

  /** Draw and discard `n` values. */
  private skip(n: number): void {
    let a = this.a;
    let b = this.b;
    let c = this.c;
    let d = this.d;
    for (let i = 0; i < n; i++) {
      const t = (((a + b) >>> 0) + d) >>> 0;
      d = (d + 1) >>> 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) >>> 0;
      c = ((((c << 21) | (c >>> 11)) >>> 0) + t) >>> 0;
    }
    this.a = a | 0;
    this.b = b | 0;
    this.c = c | 0;
    this.d = d | 0;
  }

  u32(): number {
    const a = this.a;
    const b = this.b;
    const c = this.c;
    const d = this.d;
    const t = (((a + b) >>> 0) + d) >>> 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    const r = ((c << 21) | (c >>> 11)) >>> 0;
    this.c = (r + t) | 0;
    return t;
  }

  next(): number {
    return this.u32() / 0x100000000;
  }

  int(n: number): number {
    if (!(n >= 1)) return 0;
    if (n <= 0x100000000) return Math.floor((this.u32() / 0x100000000) * n);
    const hi = this.u32();
    return Math.floor(((hi * 0x100000000 + this.u32()) / 2 ** 64) * n);
  }

  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    this.hasSpare = true;
    return r * Math.cos(2 * Math.PI * v);
  }

  poisson(mean: number): number {
    if (!(mean > 0)) return 0;
    if (mean < 30) {
      // Knuth: multiply uniforms until the product drops below e^-mean.
      const limit = Math.exp(-mean);
      let k = 0;
      let p = this.next();
      while (p > limit) {
        k++;
        p *= this.next();
      }
      return k;
    }
    return poissonPtrs(this, mean);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(out: Uint8Array): Uint8Array {
    // The state lives in locals for the loop, as signed 32-bit integers (the same bits): this is
    // where materialized payloads come from. The fields are written back inside the loop and a
    // last partial word is cut from one more draw there too: with nothing after the loop, code
    // optimised during a first long call (the payload pool) has no untried operations left to
    // fall back to the interpreter on, as it did on every later call.
    let a = this.a;
    let b = this.b;
    let c = this.c;
    let d = this.d;
    const n = out.length;
    for (let i = 0; i < n; i += 4) {
      const v = (a + b + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (((c << 21) | (c >>> 11)) + v) | 0;
      this.a = a;
      this.b = b;
      this.c = c;
      this.d = d;
      out[i] = v & 0xff;
      if (i + 1 < n) out[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) out[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) out[i + 3] = v >>> 24;
    }
    return out;
  }

  fork(): Rng {
    const hi = this.u32();
    return new Sfc32(hi * 0x100000 + (this.u32() >>> 12));
  }
}

/** A generator that can be started over with another seed: for hot paths that would otherwise build one per item. */
export interface ReseedableRng extends Rng {
  /** Start over with the stream of {@link createRng}(seed). */
  reseed(seed: number): ReseedableRng;
}

export function createReseedableRng(seed = 0): ReseedableRng {
  return new Sfc32(seed);
}

/** A generator for `seed` (any number; it is reduced to 32 bits with its high part mixed in). */
export function createRng(seed: number): Rng {
  return new Sfc32(seed);
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

/**
 * Sampling of the packets a session selects: 1 in N packets, or 1 in N flows
 * chosen by a hash of the five-tuple so that a sampled flow is copied whole
 * (both directions: the hash is symmetric). None of them allocates per
 * packet.
 */
import { flowHash, type PacketView } from '../wire/dissect.js';

/** Decides, packet by packet, whether a selected packet is copied. */
export interface Sampler {
  /** 1 in `oneIn` packets (or flows) is copied. */
  readonly oneIn: number;
  /** True when this packet is to be copied. */
  sample(view: PacketView, data: Uint8Array): boolean;
}

/** Copies every packet. */
export const EVERY_PACKET: Sampler = { oneIn: 1, sample: () => true };

/**
 * Deterministic 1-in-N: copies the 1st, (N+1)th, (2N+1)th… packet it is
 * asked about, so over k·N packets exactly k are copied.
 */
export class CountSampler implements Sampler {
  #left = 0;
  constructor(readonly oneIn: number) {
    checkOneIn(oneIn);
  }

  sample(): boolean {
    if (this.#left === 0) {
      this.#left = this.oneIn - 1;
      return true;
    }
    this.#left--;
    return false;
  }
}

/** Random 1-in-N from a seeded generator (xorshift32): the same seed gives the same choices. */
export class RandomSampler implements Sampler {
  #state: number;
  constructor(
    readonly oneIn: number,
    seed = 0x9e3779b9,
  ) {
    checkOneIn(oneIn);
    this.#state = seed | 0 || 0x9e3779b9;
  }

  sample(): boolean {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x;
    return (x >>> 0) % this.oneIn === 0;
  }
}

/**
 * Per-flow 1-in-N: a packet is copied when the hash of its five-tuple (with
 * the seed mixed in) falls in the sampled 1/N of the hash space, so every
 * packet of a sampled flow is copied and none of an unsampled one. Non-first
 * IP fragments carry no ports and hash by addresses and protocol only, so
 * they follow a different draw than the flow's first fragment.
 */
export class FlowSampler implements Sampler {
  readonly #seed: number;
  constructor(
    readonly oneIn: number,
    seed = 0,
  ) {
    checkOneIn(oneIn);
    this.#seed = seed | 0;
  }

  sample(view: PacketView, data: Uint8Array): boolean {
    return (fmix32(flowHash(view, data) ^ this.#seed) >>> 0) % this.oneIn === 0;
  }
}

/**
 * The sampler of a session's `sample` setting: none or `oneIn: 1` copies
 * every packet; `perFlow` picks flows; otherwise packets are counted (or
 * drawn at random from `seed` when `random` is set).
 */
export function createSampler(
  sample: { readonly oneIn: number; readonly perFlow?: boolean } | undefined,
  options: { readonly seed?: number; readonly random?: boolean } = {},
): Sampler {
  if (!sample || sample.oneIn === 1) return EVERY_PACKET;
  if (sample.perFlow) return new FlowSampler(sample.oneIn, options.seed);
  return options.random ? new RandomSampler(sample.oneIn, options.seed) : new CountSampler(sample.oneIn);
}

function checkOneIn(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`sampling rate must be an integer ≥ 1 (1 in N), got ${n}`);
}

/** MurmurHash3's 32-bit finaliser. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

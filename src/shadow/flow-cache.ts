/**
 * A direct-mapped cache of classification results per flow (IPv4 and IPv6),
 * as the flow caches of hardware mirrors keep them: the first packet of a
 * flow pays for the rules and the two route lookups, the rest pay for one
 * hash probe. Entries carry the epoch they were computed in; the engine bumps
 * the epoch whenever anything a decision depends on changes (routes
 * committed, IP sets replaced, sessions swapped, the clock crossing a second
 * when sessions depend on route age), so a stale decision is never used.
 */
import type { PacketView } from '../wire/dissect.js';
import { readWord } from './fact-table.js';

/** Marks IPv6 entries in `meta`. */
const V6 = 1 << 30;

export class FlowCache {
  readonly #mask: number;
  readonly #src: Int32Array;
  readonly #dst: Int32Array;
  /** Words 1–3 of IPv6 source and destination: `#src6[slot * 3 + k]`. */
  readonly #src6: Int32Array;
  readonly #dst6: Int32Array;
  readonly #ports: Int32Array;
  /** protocol | vnet index << 8 | V6 */
  readonly #meta: Int32Array;
  readonly #epoch: Int32Array;
  /** Session index (or -1) chosen for the flow. */
  readonly session: Int32Array;
  /** Route indexes of the source and destination at that epoch. */
  readonly srcRoute: Int32Array;
  readonly dstRoute: Int32Array;
  epoch = 1;
  hits = 0;
  misses = 0;

  /** 2^sizeLog2 slots (default 2^18: 256k flows in about 10 MiB). */
  constructor(sizeLog2 = 18) {
    const n = 1 << sizeLog2;
    this.#mask = n - 1;
    this.#src = new Int32Array(n);
    this.#dst = new Int32Array(n);
    this.#src6 = new Int32Array(n * 3);
    this.#dst6 = new Int32Array(n * 3);
    this.#ports = new Int32Array(n);
    this.#meta = new Int32Array(n);
    this.#epoch = new Int32Array(n);
    this.session = new Int32Array(n);
    this.srcRoute = new Int32Array(n);
    this.dstRoute = new Int32Array(n);
  }

  /** Slot of the IPv4 packet's flow; `hit` tells whether it holds a current decision. */
  slot(view: PacketView, vnetIndex: number): number {
    const ports = (view.srcPort << 16) | view.dstPort;
    const meta = view.protocol | (vnetIndex << 8);
    let h = Math.imul(view.src4 ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ view.dst4 ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ ports ^ (h >>> 16), 0x27d4eb2f);
    h ^= meta ^ (h >>> 15);
    return h & this.#mask;
  }

  /** True when slot `i` holds this IPv4 flow's decision for the current epoch. */
  hit(i: number, view: PacketView, vnetIndex: number): boolean {
    if (
      this.#epoch[i] === this.epoch &&
      this.#src[i] === (view.src4 | 0) &&
      this.#dst[i] === (view.dst4 | 0) &&
      this.#ports[i] === ((view.srcPort << 16) | view.dstPort) &&
      this.#meta[i] === (view.protocol | (vnetIndex << 8))
    ) {
      this.hits++;
      return true;
    }
    this.misses++;
    return false;
  }

  store(i: number, view: PacketView, vnetIndex: number, session: number, srcRoute: number, dstRoute: number): void {
    this.#epoch[i] = this.epoch;
    this.#src[i] = view.src4 | 0;
    this.#dst[i] = view.dst4 | 0;
    this.#ports[i] = (view.srcPort << 16) | view.dstPort;
    this.#meta[i] = view.protocol | (vnetIndex << 8);
    this.session[i] = session;
    this.srcRoute[i] = srcRoute;
    this.dstRoute[i] = dstRoute;
  }

  /** Slot of the IPv6 packet's flow (addresses read from `data`). */
  slot6(view: PacketView, data: Uint8Array, vnetIndex: number): number {
    const so = view.src6Offset;
    const dof = view.dst6Offset;
    const ports = (view.srcPort << 16) | view.dstPort;
    let h = Math.imul(readWord(data, so) ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ readWord(data, so + 4) ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ readWord(data, so + 8) ^ (h >>> 16), 0x27d4eb2f);
    h = Math.imul(h ^ readWord(data, so + 12) ^ (h >>> 15), 0x85ebca6b);
    h = Math.imul(h ^ readWord(data, dof) ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ readWord(data, dof + 4) ^ (h >>> 16), 0x27d4eb2f);
    h = Math.imul(h ^ readWord(data, dof + 8) ^ (h >>> 15), 0x85ebca6b);
    h = Math.imul(h ^ readWord(data, dof + 12) ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ ports ^ (h >>> 16), 0x27d4eb2f);
    h ^= view.protocol ^ (vnetIndex << 8) ^ (h >>> 15);
    return h & this.#mask;
  }

  /** True when slot `i` holds this IPv6 flow's decision for the current epoch. */
  hit6(i: number, view: PacketView, data: Uint8Array, vnetIndex: number): boolean {
    const so = view.src6Offset;
    const dof = view.dst6Offset;
    const k = i * 3;
    if (
      this.#epoch[i] === this.epoch &&
      this.#meta[i] === (view.protocol | (vnetIndex << 8) | V6) &&
      this.#ports[i] === ((view.srcPort << 16) | view.dstPort) &&
      this.#src[i] === readWord(data, so) &&
      this.#dst[i] === readWord(data, dof) &&
      this.#src6[k] === readWord(data, so + 4) &&
      this.#src6[k + 1] === readWord(data, so + 8) &&
      this.#src6[k + 2] === readWord(data, so + 12) &&
      this.#dst6[k] === readWord(data, dof + 4) &&
      this.#dst6[k + 1] === readWord(data, dof + 8) &&
      this.#dst6[k + 2] === readWord(data, dof + 12)
    ) {
      this.hits++;
      return true;
    }
    this.misses++;
    return false;
  }

  store6(i: number, view: PacketView, data: Uint8Array, vnetIndex: number, session: number, srcRoute: number, dstRoute: number): void {
    const so = view.src6Offset;
    const dof = view.dst6Offset;
    const k = i * 3;
    this.#epoch[i] = this.epoch;
    this.#meta[i] = view.protocol | (vnetIndex << 8) | V6;
    this.#ports[i] = (view.srcPort << 16) | view.dstPort;
    this.#src[i] = readWord(data, so);
    this.#dst[i] = readWord(data, dof);
    this.#src6[k] = readWord(data, so + 4);
    this.#src6[k + 1] = readWord(data, so + 8);
    this.#src6[k + 2] = readWord(data, so + 12);
    this.#dst6[k] = readWord(data, dof + 4);
    this.#dst6[k + 1] = readWord(data, dof + 8);
    this.#dst6[k + 2] = readWord(data, dof + 12);
    this.session[i] = session;
    this.srcRoute[i] = srcRoute;
    this.dstRoute[i] = dstRoute;
  }

  /** Forget every decision (O(1)). */
  invalidate(): void {
    this.epoch = (this.epoch + 1) | 0 || 1;
  }
}

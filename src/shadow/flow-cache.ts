/**
 * A direct-mapped cache of classification results per IPv4 flow, as the flow
 * caches of hardware mirrors keep them: the first packet of a flow pays for
 * the rules and the two route lookups, the rest pay for one hash probe.
 * Entries carry the epoch they were computed in; the engine bumps the epoch
 * whenever anything a decision depends on changes (routes committed, IP sets
 * replaced, sessions swapped, the clock crossing a second when sessions
 * depend on route age), so a stale decision is never used.
 */
import type { PacketView } from '../wire/dissect.js';

export class FlowCache {
  readonly #mask: number;
  readonly #src: Int32Array;
  readonly #dst: Int32Array;
  readonly #ports: Int32Array;
  /** protocol | vnet index << 8 */
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

  constructor(sizeLog2 = 16) {
    const n = 1 << sizeLog2;
    this.#mask = n - 1;
    this.#src = new Int32Array(n);
    this.#dst = new Int32Array(n);
    this.#ports = new Int32Array(n);
    this.#meta = new Int32Array(n);
    this.#epoch = new Int32Array(n);
    this.session = new Int32Array(n);
    this.srcRoute = new Int32Array(n);
    this.dstRoute = new Int32Array(n);
  }

  /** Slot of the packet's flow; `hit` tells whether it holds a current decision. */
  slot(view: PacketView, vnetIndex: number): number {
    const ports = (view.srcPort << 16) | view.dstPort;
    const meta = view.protocol | (vnetIndex << 8);
    let h = Math.imul(view.src4 ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ view.dst4 ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ ports ^ (h >>> 16), 0x27d4eb2f);
    h ^= meta ^ (h >>> 15);
    return h & this.#mask;
  }

  /** True when slot `i` holds this flow's decision for the current epoch. */
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

  /** Forget every decision (O(1)). */
  invalidate(): void {
    this.epoch = (this.epoch + 1) | 0 || 1;
  }
}

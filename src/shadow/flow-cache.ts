/**
 * A cache of classification results per flow (IPv4 and IPv6), as the flow
 * caches of hardware mirrors keep them: the first packet of a flow pays for
 * the rules and the two route lookups, the rest pay for one hash probe.
 *
 * Layout: one 64-byte entry (16 int32) per flow holds the key, the decision
 * and the flow's packet and byte counts since they were last folded into the
 * per-prefix statistics, so a hit reads and writes one cache line. It is
 * two-way set associative: a flow lives in one of the two entries of its
 * bucket; a new flow takes the first way and pushes the previous occupant to
 * the second. Entries carry the epoch they were computed in; the engine
 * bumps the epoch whenever anything a decision depends on changes (a
 * routing snapshot, IP sets replaced, sessions swapped, a statistics interval
 * closed, packet time passing an instant at which a session's route-age
 * condition changes its answer),
 * so a stale decision is never used; after routes are committed it may
 * instead forget only the decisions made with the routes that changed
 * ({@link forgetRoutes}).
 *
 * Counting: {@link count} adds a packet to its flow's entry; the counts go
 * to the `fold` callback (which adds them to the routes' statistics) when
 * the entry is replaced, when its byte count grows large, and for every
 * counted entry at {@link foldAll} and {@link invalidate}. Fold before the
 * routes the entries name change.
 */
import type { PacketView } from '../wire/dissect.js';
import { readWord } from './fact-table.js';

/** Marks IPv6 entries in the meta word. */
const V6 = 1 << 30;

/** int32 words per entry. */
export const FLOW_ENTRY_WORDS = 16;
// Word offsets inside an entry.
const EPOCH = 0;
const META = 1;
const PORTS = 2;
const SRC0 = 3;
const DST0 = 4;
const SRC1 = 5; // SRC1..SRC3, then DST1..DST3 (IPv6 only)
const DST1 = 8;
/** Session index chosen for the flow, or -1. */
export const FLOW_SESSION = 11;
/** Route index of the source / destination at that epoch (0: none). */
export const FLOW_SRC_ROUTE = 12;
export const FLOW_DST_ROUTE = 13;
/** Packets and bytes counted since the last fold. */
const PACKETS = 14;
const BYTES = 15;
/** Bytes an entry may hold before it is folded (keeps the int32 positive). */
const BYTES_LIMIT = 0x3fffffff;

/** The virtual network index of an entry (`entries[e + FLOW_META]`). */
export const FLOW_META = META;
export const flowVnetIndex = (meta: number): number => (meta >>> 8) & 0x3fffff;

/** Receives an entry's counts (`entries[at…]` still holds its key, session and routes). */
export type FlowFold = (entries: Int32Array, at: number, packets: number, bytes: number) => void;

export class FlowCache {
  readonly #buckets: number;
  /** The entries: `entries[e + FLOW_SESSION]` for an entry offset `e` returned by `find4`/`find6`/`store4`/`store6`. */
  readonly entries: Int32Array;
  /** Offset of the bucket the last missed lookup hashed to. */
  #missBase = 0;
  /** Entries that may hold counts (duplicates allowed: folding zeroes them). */
  #live = new Int32Array(4096);
  #nLive = 0;
  /**
   * The decisions filed since the last invalidate(), for forgetRoutes():
   * the entry each was filed in, its routes and network. Past the cache's
   * size (`#filedOverflow`) they are no longer listed.
   */
  readonly #filedAt: Int32Array;
  readonly #filedSrc: Int32Array;
  readonly #filedDst: Int32Array;
  readonly #filedVnet: Int32Array;
  #nFiled = 0;
  #filedOverflow = false;
  /** Bits of the changed routes (index mod 4096), for forgetRoutes(). */
  readonly #summary = new Int32Array(128);
  readonly #fold: FlowFold;
  epoch = 1;
  hits = 0;
  misses = 0;

  /** 2^sizeLog2 entries (default 2^18: 256k flows in 16 MiB); `fold` receives the counts of {@link count}. */
  constructor(sizeLog2 = 18, fold: FlowFold = () => {}) {
    this.#fold = fold;
    const n = 1 << sizeLog2;
    this.#buckets = n >>> 1;
    this.entries = new Int32Array(n * FLOW_ENTRY_WORDS);
    this.#filedAt = new Int32Array(n);
    this.#filedSrc = new Int32Array(n);
    this.#filedDst = new Int32Array(n);
    this.#filedVnet = new Int32Array(n);
  }

  #bucket(h: number): number {
    return (h & (this.#buckets - 1)) * (2 * FLOW_ENTRY_WORDS);
  }

  /**
   * Entry offset holding this IPv4 packet's flow with a decision of the
   * current epoch, or -1 (then {@link store4} files the decision).
   */
  find4(view: PacketView, vnetIndex: number): number {
    return this.find4At(view, vnetIndex, this.bucket4(view, vnetIndex));
  }

  /** The bucket (an offset into {@link entries}) where this IPv4 packet's flow lives, for {@link find4At}. */
  bucket4(view: PacketView, vnetIndex: number): number {
    const ports = (view.srcPort << 16) | view.dstPort;
    const meta = view.protocol | (vnetIndex << 8);
    let h = Math.imul((view.src4 | 0) ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (view.dst4 | 0) ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ ports ^ (h >>> 16), 0x27d4eb2f);
    h ^= meta ^ (h >>> 15);
    return this.#bucket(h);
  }

  /**
   * Read the bucket's two entries and answer something of them, so that
   * reading a batch's buckets in a tight loop before the batch's lookups
   * brings their cache lines in together rather than one miss at a time.
   */
  touch(bucket: number): number {
    const e = this.entries;
    return e[bucket] ^ e[bucket + FLOW_ENTRY_WORDS];
  }

  /** {@link find4} in the bucket {@link bucket4} answered. */
  find4At(view: PacketView, vnetIndex: number, b: number): number {
    const ports = (view.srcPort << 16) | view.dstPort;
    const meta = view.protocol | (vnetIndex << 8);
    const src = view.src4 | 0;
    const dst = view.dst4 | 0;
    const e = this.entries;
    const epoch = this.epoch;
    for (let w = b; w < b + 2 * FLOW_ENTRY_WORDS; w += FLOW_ENTRY_WORDS) {
      if (e[w + EPOCH] === epoch && e[w + SRC0] === src && e[w + DST0] === dst && e[w + PORTS] === ports && e[w + META] === meta) {
        this.hits++;
        return w;
      }
    }
    this.#missBase = b;
    this.misses++;
    return -1;
  }

  /** File the decision for the IPv4 flow last missed by {@link find4}; returns its entry offset. */
  store4(view: PacketView, vnetIndex: number, session: number, srcRoute: number, dstRoute: number): number {
    const w = this.#claim();
    const e = this.entries;
    e[w + EPOCH] = this.epoch;
    e[w + META] = view.protocol | (vnetIndex << 8);
    e[w + PORTS] = (view.srcPort << 16) | view.dstPort;
    e[w + SRC0] = view.src4 | 0;
    e[w + DST0] = view.dst4 | 0;
    return this.#decide(w, session, srcRoute, dstRoute);
  }

  /** Same as {@link find4} for an IPv6 packet (addresses read from `data`). */
  find6(view: PacketView, data: Uint8Array, vnetIndex: number): number {
    return this.find6At(view, data, vnetIndex, this.bucket6(view, data, vnetIndex));
  }

  /** The bucket where this IPv6 packet's flow lives, for {@link find6At}. */
  bucket6(view: PacketView, data: Uint8Array, vnetIndex: number): number {
    const so = view.src6Offset;
    const dof = view.dst6Offset;
    const ports = (view.srcPort << 16) | view.dstPort;
    const meta = view.protocol | (vnetIndex << 8) | V6;
    let h = Math.imul(readWord(data, so) ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ readWord(data, so + 4) ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ readWord(data, so + 8) ^ (h >>> 16), 0x27d4eb2f);
    h = Math.imul(h ^ readWord(data, so + 12) ^ (h >>> 15), 0x85ebca6b);
    h = Math.imul(h ^ readWord(data, dof) ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ readWord(data, dof + 4) ^ (h >>> 16), 0x27d4eb2f);
    h = Math.imul(h ^ readWord(data, dof + 8) ^ (h >>> 15), 0x85ebca6b);
    h = Math.imul(h ^ readWord(data, dof + 12) ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ ports ^ (h >>> 16), 0x27d4eb2f);
    h ^= meta ^ (h >>> 15);
    return this.#bucket(h);
  }

  /** {@link find6} in the bucket {@link bucket6} answered. */
  find6At(view: PacketView, data: Uint8Array, vnetIndex: number, b: number): number {
    const so = view.src6Offset;
    const dof = view.dst6Offset;
    const ports = (view.srcPort << 16) | view.dstPort;
    const meta = view.protocol | (vnetIndex << 8) | V6;
    const s0 = readWord(data, so);
    const s1 = readWord(data, so + 4);
    const s2 = readWord(data, so + 8);
    const s3 = readWord(data, so + 12);
    const d0 = readWord(data, dof);
    const d1 = readWord(data, dof + 4);
    const d2 = readWord(data, dof + 8);
    const d3 = readWord(data, dof + 12);
    const e = this.entries;
    const epoch = this.epoch;
    for (let w = b; w < b + 2 * FLOW_ENTRY_WORDS; w += FLOW_ENTRY_WORDS) {
      if (
        e[w + EPOCH] === epoch &&
        e[w + META] === meta &&
        e[w + PORTS] === ports &&
        e[w + SRC0] === s0 &&
        e[w + DST0] === d0 &&
        e[w + SRC1] === s1 &&
        e[w + SRC1 + 1] === s2 &&
        e[w + SRC1 + 2] === s3 &&
        e[w + DST1] === d1 &&
        e[w + DST1 + 1] === d2 &&
        e[w + DST1 + 2] === d3
      ) {
        this.hits++;
        return w;
      }
    }
    this.#missBase = b;
    this.misses++;
    return -1;
  }

  /** File the decision for the IPv6 flow last missed by {@link find6}; returns its entry offset. */
  store6(view: PacketView, data: Uint8Array, vnetIndex: number, session: number, srcRoute: number, dstRoute: number): number {
    const w = this.#claim();
    const e = this.entries;
    const so = view.src6Offset;
    const dof = view.dst6Offset;
    e[w + EPOCH] = this.epoch;
    e[w + META] = view.protocol | (vnetIndex << 8) | V6;
    e[w + PORTS] = (view.srcPort << 16) | view.dstPort;
    e[w + SRC0] = readWord(data, so);
    e[w + DST0] = readWord(data, dof);
    e[w + SRC1] = readWord(data, so + 4);
    e[w + SRC1 + 1] = readWord(data, so + 8);
    e[w + SRC1 + 2] = readWord(data, so + 12);
    e[w + DST1] = readWord(data, dof + 4);
    e[w + DST1 + 1] = readWord(data, dof + 8);
    e[w + DST1 + 2] = readWord(data, dof + 12);
    return this.#decide(w, session, srcRoute, dstRoute);
  }

  /** The decision part of a new entry, counts at zero. */
  #decide(w: number, session: number, srcRoute: number, dstRoute: number): number {
    const e = this.entries;
    const n = this.#nFiled;
    if (n < this.#filedAt.length) {
      this.#filedAt[n] = w;
      this.#filedSrc[n] = srcRoute;
      this.#filedDst[n] = dstRoute;
      this.#filedVnet[n] = flowVnetIndex(e[w + META]);
      this.#nFiled = n + 1;
    } else this.#filedOverflow = true;
    e[w + FLOW_SESSION] = session;
    e[w + FLOW_SRC_ROUTE] = srcRoute;
    e[w + FLOW_DST_ROUTE] = dstRoute;
    e[w + PACKETS] = 0;
    e[w + BYTES] = 0;
    return w;
  }

  /** Count one packet of `bytes` for the flow in entry `at`. */
  count(at: number, bytes: number): void {
    const e = this.entries;
    const p = e[at + PACKETS];
    if (p === 0) this.#addLive(at);
    const b = e[at + BYTES] + bytes;
    if (b > BYTES_LIMIT) {
      e[at + PACKETS] = 0;
      e[at + BYTES] = 0;
      this.#fold(e, at, p + 1, b);
    } else {
      e[at + PACKETS] = p + 1;
      e[at + BYTES] = b;
    }
  }

  /** Hand every entry's counts to `fold` and zero them. */
  foldAll(): void {
    const e = this.entries;
    const live = this.#live;
    const n = this.#nLive;
    this.#nLive = 0;
    for (let i = 0; i < n; i++) {
      const at = live[i];
      const p = e[at + PACKETS];
      if (p === 0) continue;
      const b = e[at + BYTES];
      e[at + PACKETS] = 0;
      e[at + BYTES] = 0;
      this.#fold(e, at, p, b);
    }
  }

  #addLive(at: number): void {
    if (this.#nLive === this.#live.length) {
      if (this.#live.length < 1 << 20) {
        const l = new Int32Array(this.#live.length * 2);
        l.set(this.#live);
        this.#live = l;
      } else this.foldAll();
    }
    this.#live[this.#nLive++] = at;
  }

  /** Fold entry `at`'s counts, if any, before it is overwritten. */
  #evict(at: number): void {
    const e = this.entries;
    const p = e[at + PACKETS];
    if (p === 0) return;
    const b = e[at + BYTES];
    e[at + PACKETS] = 0;
    e[at + BYTES] = 0;
    this.#fold(e, at, p, b);
  }

  /** The first way of the missed bucket, its current occupant (if any) moved to the second. */
  #claim(): number {
    const b = this.#missBase;
    const e = this.entries;
    if (e[b + EPOCH] === this.epoch) {
      const second = b + FLOW_ENTRY_WORDS;
      this.#evict(second);
      e.copyWithin(second, b, second);
      if (e[second + PACKETS] !== 0) this.#addLive(second);
    } else this.#evict(b);
    return b;
  }

  /** Forget every decision (the counts are folded first); O(entries counted since the last fold). */
  invalidate(): void {
    this.foldAll();
    this.epoch = (this.epoch + 1) | 0 || 1;
    this.#nFiled = 0;
    this.#filedOverflow = false;
  }

  /** Decisions filed since the last {@link invalidate} (what {@link forgetRoutes} reads through). */
  get decisionsFiled(): number {
    return this.#nFiled;
  }

  /**
   * Forget only the decisions made with a changed route: `changed[v]` lists,
   * for virtual network index `v`, the route indices whose lookups or facts
   * changed (0: no route). Reads the list of decisions filed since the last
   * {@link invalidate} in order (a 4,096-bit summary of the changed routes
   * answers most of them) and looks at the entries only of those made with
   * a changed route. When more decisions were filed than the list holds, it
   * forgets everything instead. Returns the number of decisions forgotten,
   * or -1 for everything.
   */
  forgetRoutes(changed: readonly (readonly number[] | undefined)[]): number {
    if (this.#filedOverflow) {
      this.invalidate();
      return -1;
    }
    const summary = this.#summary;
    summary.fill(0);
    const sets: (Set<number> | undefined)[] = [];
    for (let v = 0; v < changed.length; v++) {
      const routes = changed[v];
      if (routes === undefined || routes.length === 0) continue;
      sets[v] = new Set(routes);
      for (const r of routes) summary[(r >>> 5) & 127] |= 1 << (r & 31);
    }
    const e = this.entries;
    const epoch = this.epoch;
    const at = this.#filedAt;
    const srcs = this.#filedSrc;
    const dsts = this.#filedDst;
    const vnets = this.#filedVnet;
    let forgotten = 0;
    for (let i = 0; i < this.#nFiled; i++) {
      const src = srcs[i];
      const dst = dsts[i];
      if ((summary[(src >>> 5) & 127] & (1 << (src & 31))) === 0 && (summary[(dst >>> 5) & 127] & (1 << (dst & 31))) === 0) continue;
      const set = sets[vnets[i]];
      if (set === undefined || !(set.has(src) || set.has(dst))) continue;
      // Filed in its bucket's first way; a newer flow may since have pushed it to the second.
      const b = at[i];
      for (let w = b; w < b + 2 * FLOW_ENTRY_WORDS; w += FLOW_ENTRY_WORDS) {
        if (e[w + EPOCH] !== epoch || e[w + FLOW_SRC_ROUTE] !== src || e[w + FLOW_DST_ROUTE] !== dst) continue;
        if (flowVnetIndex(e[w + META]) !== vnets[i]) continue;
        this.#evict(w);
        e[w + EPOCH] = 0;
        forgotten++;
      }
    }
    return forgotten;
  }
}

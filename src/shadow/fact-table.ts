/**
 * The traffic shadowing engine's own copy of a virtual network's routing
 * table, built for per-packet longest-prefix match, and small static LPM
 * tables for prefix tags and IP sets.
 *
 * IPv4 lookups go through a DIR-24-8 table (one `Uint32Array` of 2^24 slots
 * indexed by the top 24 bits, plus 256-slot chunks for prefixes longer than
 * /24): one or two array reads per lookup. The 64 MiB first level is only
 * allocated once the table holds `dirThreshold` IPv4 routes; smaller tables
 * are searched length by length in per-length hash tables. IPv6 lookups probe
 * per-length hash tables, longest length first, over the 16 address bytes read
 * in place from the packet buffer.
 *
 * Routing facts are precomputed: every distinct condition a compiled policy
 * asks about the attributes of a route (origin AS, AS path, communities, peer,
 * next hop) gets a bit, and each group of routes sharing one best path's
 * attributes, peer and router carries the bitmask of the conditions it meets.
 * Classifying a packet then costs one LPM, one load and one AND.
 */
import { Afi, formatAddress, routeAttributes, parsePrefix, tryParseAddress, type PathSummary, type Prefix, type RouteAttributes, type RouteEvent } from '../core/index.js';

// ---------------------------------------------------------------------------
// Hash tables keyed by masked prefixes (open addressing, linear probing,
// backward-shift deletion so no tombstones build up under churn).

const EMPTY = -1;

/** int32 key → non-negative int value. */
class IntKeyMap {
  keys: Int32Array;
  vals: Int32Array;
  size = 0;
  #shift: number;

  constructor(capacity = 8) {
    let cap = 8;
    while (cap < capacity * 2) cap *= 2;
    this.keys = new Int32Array(cap);
    this.vals = new Int32Array(cap).fill(EMPTY);
    this.#shift = 32 - Math.log2(cap);
  }

  get(key: number): number {
    const keys = this.keys;
    const vals = this.vals;
    const m = keys.length - 1;
    let i = Math.imul(key, 0x9e3779b1) >>> this.#shift;
    while (true) {
      const v = vals[i];
      if (v === EMPTY) return EMPTY;
      if (keys[i] === key) return v;
      i = (i + 1) & m;
    }
  }

  set(key: number, value: number): void {
    if ((this.size + 1) * 2 > this.keys.length) this.#grow();
    const keys = this.keys;
    const vals = this.vals;
    const m = keys.length - 1;
    let i = Math.imul(key, 0x9e3779b1) >>> this.#shift;
    while (vals[i] !== EMPTY) {
      if (keys[i] === key) {
        vals[i] = value;
        return;
      }
      i = (i + 1) & m;
    }
    keys[i] = key;
    vals[i] = value;
    this.size++;
  }

  delete(key: number): boolean {
    const keys = this.keys;
    const vals = this.vals;
    const m = keys.length - 1;
    let i = Math.imul(key, 0x9e3779b1) >>> this.#shift;
    while (true) {
      if (vals[i] === EMPTY) return false;
      if (keys[i] === key) break;
      i = (i + 1) & m;
    }
    // Backward shift: move later members of the probe run into the hole.
    let hole = i;
    let j = (i + 1) & m;
    while (vals[j] !== EMPTY) {
      const home = Math.imul(keys[j], 0x9e3779b1) >>> this.#shift;
      if (((j - home) & m) >= ((j - hole) & m)) {
        keys[hole] = keys[j];
        vals[hole] = vals[j];
        hole = j;
      }
      j = (j + 1) & m;
    }
    vals[hole] = EMPTY;
    this.size--;
    return true;
  }

  #grow(): void {
    const oldK = this.keys;
    const oldV = this.vals;
    const cap = oldK.length * 2;
    this.keys = new Int32Array(cap);
    this.vals = new Int32Array(cap).fill(EMPTY);
    this.#shift = 32 - Math.log2(cap);
    this.size = 0;
    for (let i = 0; i < oldK.length; i++) if (oldV[i] !== EMPTY) this.set(oldK[i], oldV[i]);
  }
}

const hash4 = (a: number, b: number, c: number, d: number): number =>
  Math.imul(Math.imul(Math.imul(a, 0x9e3779b1) ^ b, 0x85ebca6b) ^ Math.imul(c, 0xc2b2ae35) ^ d, 0x27d4eb2f);

/** 128-bit key (four int32 words) → non-negative int value. */
class WideKeyMap {
  keys: Int32Array;
  vals: Int32Array;
  size = 0;
  #shift: number;

  constructor(capacity = 8) {
    let cap = 8;
    while (cap < capacity * 2) cap *= 2;
    this.keys = new Int32Array(cap * 4);
    this.vals = new Int32Array(cap).fill(EMPTY);
    this.#shift = 32 - Math.log2(cap);
  }

  get(a: number, b: number, c: number, d: number): number {
    const keys = this.keys;
    const vals = this.vals;
    const m = vals.length - 1;
    let i = hash4(a, b, c, d) >>> this.#shift;
    while (true) {
      const v = vals[i];
      if (v === EMPTY) return EMPTY;
      const k = i << 2;
      if (keys[k] === a && keys[k + 1] === b && keys[k + 2] === c && keys[k + 3] === d) return v;
      i = (i + 1) & m;
    }
  }

  set(a: number, b: number, c: number, d: number, value: number): void {
    if ((this.size + 1) * 2 > this.vals.length) this.#grow();
    const keys = this.keys;
    const vals = this.vals;
    const m = vals.length - 1;
    let i = hash4(a, b, c, d) >>> this.#shift;
    while (vals[i] !== EMPTY) {
      const k = i << 2;
      if (keys[k] === a && keys[k + 1] === b && keys[k + 2] === c && keys[k + 3] === d) {
        vals[i] = value;
        return;
      }
      i = (i + 1) & m;
    }
    const k = i << 2;
    keys[k] = a;
    keys[k + 1] = b;
    keys[k + 2] = c;
    keys[k + 3] = d;
    vals[i] = value;
    this.size++;
  }

  delete(a: number, b: number, c: number, d: number): boolean {
    const keys = this.keys;
    const vals = this.vals;
    const m = vals.length - 1;
    let i = hash4(a, b, c, d) >>> this.#shift;
    while (true) {
      if (vals[i] === EMPTY) return false;
      const k = i << 2;
      if (keys[k] === a && keys[k + 1] === b && keys[k + 2] === c && keys[k + 3] === d) break;
      i = (i + 1) & m;
    }
    let hole = i;
    let j = (i + 1) & m;
    while (vals[j] !== EMPTY) {
      const k = j << 2;
      const home = hash4(keys[k], keys[k + 1], keys[k + 2], keys[k + 3]) >>> this.#shift;
      if (((j - home) & m) >= ((j - hole) & m)) {
        const h = hole << 2;
        keys[h] = keys[k];
        keys[h + 1] = keys[k + 1];
        keys[h + 2] = keys[k + 2];
        keys[h + 3] = keys[k + 3];
        vals[hole] = vals[j];
        hole = j;
      }
      j = (j + 1) & m;
    }
    vals[hole] = EMPTY;
    this.size--;
    return true;
  }

  #grow(): void {
    const oldK = this.keys;
    const oldV = this.vals;
    const cap = oldV.length * 2;
    this.keys = new Int32Array(cap * 4);
    this.vals = new Int32Array(cap).fill(EMPTY);
    this.#shift = 32 - Math.log2(cap);
    this.size = 0;
    for (let i = 0; i < oldV.length; i++) {
      if (oldV[i] !== EMPTY) this.set(oldK[i * 4], oldK[i * 4 + 1], oldK[i * 4 + 2], oldK[i * 4 + 3], oldV[i]);
    }
  }
}

/** Network mask of an IPv4 prefix length as int32. */
export const mask4 = (len: number): number => (len === 0 ? 0 : (-1 << (32 - len)) | 0);

/** Word masks of IPv6 prefix lengths: MASK6[len * 4 + word]. */
const MASK6 = new Int32Array(129 * 4);
for (let len = 0; len <= 128; len++) {
  for (let w = 0; w < 4; w++) {
    const bits = Math.min(32, Math.max(0, len - w * 32));
    MASK6[len * 4 + w] = bits === 0 ? 0 : (-1 << (32 - bits)) | 0;
  }
}

/** Read a big-endian 32-bit word as int32 (no allocation). */
export const readWord = (d: Uint8Array, o: number): number => (d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3];

/** IPv4 prefixes of any length → value, longest match first. */
export class Prefix4Map {
  readonly #byLen: (IntKeyMap | undefined)[] = new Array(33);
  readonly #count = new Int32Array(33);
  /** Lengths present, longest first. */
  #lengths = new Int32Array(0);
  size = 0;

  get(addr: number, len: number): number {
    const m = this.#byLen[len];
    return m === undefined ? EMPTY : m.get(addr & mask4(len));
  }

  set(addr: number, len: number, value: number): void {
    let m = this.#byLen[len];
    if (m === undefined) m = this.#byLen[len] = new IntKeyMap();
    const before = m.size;
    m.set(addr & mask4(len), value);
    if (m.size !== before) {
      this.size++;
      if (this.#count[len]++ === 0) this.#relength();
    }
  }

  delete(addr: number, len: number): boolean {
    const m = this.#byLen[len];
    if (m === undefined || !m.delete(addr & mask4(len))) return false;
    this.size--;
    if (--this.#count[len] === 0) this.#relength();
    return true;
  }

  /** Value of the longest prefix containing `addr`, or -1. */
  lookup(addr: number): number {
    const lengths = this.#lengths;
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i];
      const v = this.#byLen[len]!.get(addr & mask4(len));
      if (v !== EMPTY) return v;
    }
    return EMPTY;
  }

  /** Value of the longest prefix strictly shorter than `len` containing `addr`, or -1. */
  covering(addr: number, len: number): number {
    for (let l = len - 1; l >= 0; l--) {
      if (this.#count[l] === 0) continue;
      const v = this.#byLen[l]!.get(addr & mask4(l));
      if (v !== EMPTY) return v;
    }
    return EMPTY;
  }

  clear(): void {
    this.#byLen.fill(undefined);
    this.#count.fill(0);
    this.#lengths = new Int32Array(0);
    this.size = 0;
  }

  #relength(): void {
    const out: number[] = [];
    for (let l = 32; l >= 0; l--) if (this.#count[l] > 0) out.push(l);
    this.#lengths = Int32Array.from(out);
  }
}

/** IPv6 prefixes of any length → value, longest match first. */
export class Prefix6Map {
  readonly #byLen: (WideKeyMap | undefined)[] = new Array(129);
  readonly #count = new Int32Array(129);
  #lengths = new Int32Array(0);
  /**
   * Per value of the first 16 address bits, the prefix lengths that may be
   * present there (bit l % 32 of word l >> 5, five words per bucket). Set on
   * insert, cleared only by clear(): a stale bit costs one probe, never a
   * wrong answer. Allocated once the map holds many lengths.
   */
  #lenBits: Int32Array | null = null;
  size = 0;

  /** Set `value` for `prefix` (16 address bytes at `address`). */
  set(address: Uint8Array, len: number, value: number): void {
    let m = this.#byLen[len];
    if (m === undefined) m = this.#byLen[len] = new WideKeyMap();
    const before = m.size;
    const k = len * 4;
    m.set(
      readWord(address, 0) & MASK6[k],
      readWord(address, 4) & MASK6[k + 1],
      readWord(address, 8) & MASK6[k + 2],
      readWord(address, 12) & MASK6[k + 3],
      value,
    );
    if (m.size !== before) {
      this.size++;
      if (this.#count[len]++ === 0) this.#relength();
      if (this.#lenBits !== null) this.#mark(readWord(address, 0) >>> 16, len);
      else if (this.#lengths.length > 4 && this.size >= 64) this.#buildLenBits();
    }
  }

  #mark(top: number, len: number): void {
    const bits = this.#lenBits!;
    const first = len >= 16 ? top : top & ~((1 << (16 - len)) - 1) & 0xffff;
    const n = len >= 16 ? 1 : 1 << (16 - len);
    const word = len >> 5;
    const bit = 1 << (len & 31);
    for (let b = first; b < first + n; b++) bits[b * 5 + word] |= bit;
  }

  #buildLenBits(): void {
    this.#lenBits = new Int32Array(65536 * 5);
    for (let len = 0; len <= 128; len++) {
      const m = this.#byLen[len];
      if (m === undefined || m.size === 0) continue;
      const keys = m.keys;
      const vals = m.vals;
      for (let i = 0; i < vals.length; i++) if (vals[i] !== EMPTY) this.#mark(keys[i * 4] >>> 16, len);
    }
  }

  get(address: Uint8Array, len: number): number {
    const m = this.#byLen[len];
    if (m === undefined) return EMPTY;
    const k = len * 4;
    return m.get(readWord(address, 0) & MASK6[k], readWord(address, 4) & MASK6[k + 1], readWord(address, 8) & MASK6[k + 2], readWord(address, 12) & MASK6[k + 3]);
  }

  delete(address: Uint8Array, len: number): boolean {
    const m = this.#byLen[len];
    const k = len * 4;
    if (
      m === undefined ||
      !m.delete(readWord(address, 0) & MASK6[k], readWord(address, 4) & MASK6[k + 1], readWord(address, 8) & MASK6[k + 2], readWord(address, 12) & MASK6[k + 3])
    )
      return false;
    this.size--;
    if (--this.#count[len] === 0) this.#relength();
    return true;
  }

  /** Value of the longest prefix strictly shorter than `len` containing `address`, or -1. */
  covering(address: Uint8Array, len: number): number {
    const a = readWord(address, 0);
    const b = readWord(address, 4);
    const c = readWord(address, 8);
    const d = readWord(address, 12);
    for (let l = len - 1; l >= 0; l--) {
      if (this.#count[l] === 0) continue;
      const k = l * 4;
      const v = this.#byLen[l]!.get(a & MASK6[k], b & MASK6[k + 1], c & MASK6[k + 2], d & MASK6[k + 3]);
      if (v !== EMPTY) return v;
    }
    return EMPTY;
  }

  /** Value of the longest prefix containing the address whose words are a, b, c, d; or -1. */
  lookupWords(a: number, b: number, c: number, d: number): number {
    const lb = this.#lenBits;
    const byLen = this.#byLen;
    if (lb !== null) {
      const base = (a >>> 16) * 5;
      for (let w = 4; w >= 0; w--) {
        let bits = lb[base + w];
        while (bits !== 0) {
          const hi = 31 - Math.clz32(bits);
          bits ^= 1 << hi;
          const len = (w << 5) | hi;
          const m = byLen[len];
          if (m === undefined) continue;
          const k = len << 2;
          const v = m.get(a & MASK6[k], b & MASK6[k + 1], c & MASK6[k + 2], d & MASK6[k + 3]);
          if (v !== EMPTY) return v;
        }
      }
      return EMPTY;
    }
    const lengths = this.#lengths;
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i];
      const k = len << 2;
      const v = byLen[len]!.get(a & MASK6[k], b & MASK6[k + 1], c & MASK6[k + 2], d & MASK6[k + 3]);
      if (v !== EMPTY) return v;
    }
    return EMPTY;
  }

  /** Value of the longest prefix containing the 16 bytes at `data[offset]`; or -1. */
  lookup(data: Uint8Array, offset: number): number {
    return this.lookupWords(readWord(data, offset), readWord(data, offset + 4), readWord(data, offset + 8), readWord(data, offset + 12));
  }

  clear(): void {
    this.#byLen.fill(undefined);
    this.#count.fill(0);
    this.#lengths = new Int32Array(0);
    this.#lenBits = null;
    this.size = 0;
  }

  #relength(): void {
    const out: number[] = [];
    for (let l = 128; l >= 0; l--) if (this.#count[l] > 0) out.push(l);
    this.#lengths = Int32Array.from(out);
  }
}

// ---------------------------------------------------------------------------

/**
 * A small, immutable longest-prefix-match table over IPv4 and IPv6 prefixes,
 * each carrying a value (an index chosen by the caller). Used for the
 * virtual network's prefix tags and for IP sets. Lookups allocate nothing.
 */
export class StaticPrefixTable {
  readonly #v4 = new Prefix4Map();
  readonly #v6 = new Prefix6Map();

  /** Later entries for the same prefix replace earlier ones. */
  constructor(entries: Iterable<{ readonly prefix: Prefix; readonly value: number }> = []) {
    for (const { prefix, value } of entries) {
      if (value < 0 || !Number.isInteger(value)) throw new RangeError(`StaticPrefixTable values must be integers ≥ 0, got ${value}`);
      if (prefix.afi === Afi.IPV4) this.#v4.set(readWord(prefix.address, 0), prefix.length, value);
      else this.#v6.set(prefix.address, prefix.length, value);
    }
  }

  get size(): number {
    return this.#v4.size + this.#v6.size;
  }

  /** Value of the longest IPv4 prefix containing `addr` (uint32 or int32), or -1. */
  lookup4(addr: number): number {
    return this.#v4.lookup(addr | 0);
  }

  /** Value of the longest IPv6 prefix containing the 16 bytes at `data[offset]`, or -1. */
  lookup6(data: Uint8Array, offset: number): number {
    return this.#v6.lookup(data, offset);
  }

  /** Same as {@link lookup6} with the address given as four big-endian words. */
  lookup6Words(a: number, b: number, c: number, d: number): number {
    return this.#v6.lookupWords(a, b, c, d);
  }

  /** Value for an address given as text or bytes (not for hot paths). */
  lookup(address: string | Uint8Array): number {
    const b = typeof address === 'string' ? tryParseAddress(address) : address;
    if (b === undefined) return EMPTY;
    return b.length === 4 ? this.lookup4(readWord(b, 0)) : b.length === 16 ? this.lookup6(b, 0) : EMPTY;
  }
}

// ---------------------------------------------------------------------------

/** A test of a best path's attributes, peer or router; see {@link RouteFactTable.acquireCondition}. */
export type PathPredicate = (path: PathSummary) => boolean;

/** One route of a {@link RouteFactTable}, for inspection (not for hot paths). */
export interface RouteFact {
  readonly index: number;
  readonly prefix: Prefix;
  readonly best: PathSummary;
  /** Clock time (ms) the current best path was installed. */
  readonly announcedAt: number;
}

export interface RouteFactTableOptions {
  /** Virtual network whose events the table accepts; events of others are counted and ignored. */
  readonly vnet: string;
  /**
   * Number of IPv4 routes from which the DIR-24-8 table (64 MiB) is built;
   * smaller tables use per-length hash tables. Default 4096; 0 builds it at
   * the first IPv4 route.
   */
  readonly dirThreshold?: number;
}

/** Counters of a {@link RouteFactTable}; `ignored` is keyed by kebab-case reason. */
export interface RouteFactTableStats {
  /** Changes applied by `commit`. */
  applied: number;
  commits: number;
  readonly ignored: Record<string, number>;
}

type PendingChange =
  | { readonly kind: 'set'; readonly prefix: Prefix; readonly best: PathSummary; readonly time: number }
  | { readonly kind: 'delete'; readonly prefix: Prefix }
  | { readonly kind: 'snapshot'; readonly entries: Iterable<SnapshotEntry>; readonly time: number }
  | { readonly kind: 'local'; readonly prefixes: readonly Prefix[] };

type SnapshotEntry = { readonly prefix: Prefix; readonly best: PathSummary };

/**
 * The best path of a local route: the network's own address space, routed
 * inside the network as a provider's implicit "local" route is. It carries
 * no attributes, so no routing-fact condition (origin AS, communities, peer,
 * next hop…) holds for it, and its announce time is 0, so it is never new.
 */
export const LOCAL_PATH: PathSummary = Object.freeze({
  router: 'local',
  peer: 'local',
  peerAs: 0,
  attributes: routeAttributes(),
});

const CHUNK = 0x80000000;
const NO_ROUTE = 0;

/**
 * A virtual network's routing table as the traffic shadowing engine sees it.
 * Changes are queued by {@link apply} / {@link load} and take effect only at
 * {@link commit}, which the engine calls between batches, so a batch is never
 * classified against a half-updated table.
 *
 * Route indexes are ≥ 1; 0 means no route. Hot-path readers use
 * {@link lookup4} / {@link lookup6} and the public arrays `routeGroup`,
 * `announcedAt` and `facts` (`facts[group * factWords + (bit >>> 5)]`); these
 * arrays may be replaced by a commit or a new condition, so read them from the
 * table for each packet rather than keeping them.
 *
 * Only the best path of each prefix is kept: a prefix's facts are those of
 * its best path (equal-cost siblings are not consulted).
 *
 * Local routes ({@link setLocal}: the network's CIDRs and subnets) make the
 * network's own addresses routed (`noRoute` does not hold for them) without
 * any routing fact; as with a provider's local route, an announcement or
 * withdrawal of exactly a local prefix does not replace it (counted in
 * `stats.ignored` as `local-prefix`), while more specific announced prefixes
 * win by longest match.
 */
export class RouteFactTable {
  readonly vnet: string;
  readonly stats: RouteFactTableStats = { applied: 0, commits: 0, ignored: {} };

  // Per route (index ≥ 1).
  /** Attribute group of route i (see `facts`). */
  routeGroup = new Int32Array(1024);
  /** Clock time (ms) when the current best path of route i was installed. */
  announcedAt = new Float64Array(1024);
  /** Distinct announce times of the routes set, ascending (`#nTimes` of them), and the latest one forgotten (-Infinity: none). */
  #times = new Float64Array(64);
  #nTimes = 0;
  /** Routes changed since the last takeChanges(), or all of them. */
  #changedRoutes: number[] = [];
  #changedAll = true;
  #timesForgotten = -Infinity;
  /** The same two facts side by side, for one memory access per packet: `routeMeta[2i]` = group of route i, `routeMeta[2i + 1]` = its `announcedAt`. */
  routeMeta = new Float64Array(2048);
  #routeLen = new Uint8Array(1024);
  /** Network address of IPv4 route i (its prefix is built on demand: no object per route). */
  #routeKey4 = new Int32Array(1024);
  /** Prefix of IPv6 route i; undefined for IPv4 routes. */
  #routePrefix: (Prefix | undefined)[] = [undefined];
  #routePath: (PathSummary | undefined)[] = [undefined];
  #freeRoutes: number[] = [];
  /** Indices freed in the current commit (see #freeRoute). */
  #freedLater: number[] = [];
  #nextRoute = 1;
  #routes4 = 0;
  #routes6 = 0;

  // Exact prefixes → route index (control plane, and lookups while small).
  readonly #exact4 = new Prefix4Map();
  readonly #exact6 = new Prefix6Map();

  // DIR-24-8.
  readonly #dirThreshold: number;
  #tbl24: Uint32Array | null = null;
  #tbl8 = new Uint32Array(0);
  /** True while a snapshot is loaded: the DIR-24-8 is built at the end of the commit. */
  #bulk = false;
  #freeChunks: number[] = [];
  #nextChunk = 0;

  // Attribute groups: routes whose best path shares attributes, peer and router.
  #groupIndex = new Map<RouteAttributes, number[]>();
  #groupPath: (PathSummary | undefined)[] = [];
  #groupRefs = new Int32Array(256);
  #freeGroups: number[] = [];
  /** Condition bits of each attribute group: `facts[group * factWords + word]`. */
  facts = new Uint32Array(256);
  /** 32-bit words per group in `facts`. */
  factWords = 1;

  // Conditions.
  #condKey: (string | undefined)[] = [];
  #condTest: (PathPredicate | undefined)[] = [];
  #condRefs: number[] = [];
  #condByKey = new Map<string, number>();

  #pending: PendingChange[] = [];
  #local: readonly Prefix[] = [];

  constructor(options: RouteFactTableOptions) {
    this.vnet = options.vnet;
    this.#dirThreshold = options.dirThreshold ?? 4096;
  }

  /** Number of routes installed (IPv4 + IPv6). */
  get size(): number {
    return this.#routes4 + this.#routes6;
  }

  /** Number of queued changes not yet committed. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Whether a queued change replaces the table or its local routes (route indices then change meaning at the next commit). */
  get pendingReset(): boolean {
    return this.#pending.some((c) => c.kind === 'snapshot' || c.kind === 'local');
  }

  // ---- feeding ----

  /**
   * Queue the effect of a routing event. Only `best-path-change` changes the
   * table (`best: null` withdraws the prefix); other event types carry
   * nothing the table keeps and are ignored silently. Events of another
   * virtual network, or with a prefix that does not parse, are counted in
   * `stats.ignored` (`other-vnet`, `bad-prefix`).
   */
  apply(event: RouteEvent): void {
    if (event.type !== 'best-path-change') return;
    if (event.vnet !== this.vnet) {
      this.#ignore('other-vnet');
      return;
    }
    let prefix: Prefix;
    try {
      prefix = parsePrefix(event.prefix, false);
    } catch {
      this.#ignore('bad-prefix');
      return;
    }
    if (event.best) this.#pending.push({ kind: 'set', prefix, best: event.best, time: event.time });
    else this.#pending.push({ kind: 'delete', prefix });
  }

  /**
   * Queue a snapshot (e.g. `VnetRib.entries()`) that replaces the whole
   * table at the next commit. `time` (ms) is taken as the announce time of
   * every route of the snapshot.
   */
  load(entries: Iterable<SnapshotEntry>, time: number): void {
    this.#pending.push({ kind: 'snapshot', entries: Array.isArray(entries) ? (entries as SnapshotEntry[]).slice() : [...entries], time });
  }

  /**
   * Queue the local routes (replacing those set before): the network's own
   * prefixes, routed without routing facts; see the class documentation.
   */
  setLocal(prefixes: readonly Prefix[]): void {
    this.#pending.push({ kind: 'local', prefixes: prefixes.map((p) => ({ afi: p.afi, length: p.length, address: p.address.slice() })) });
  }

  /** True when route `index` is a local route. */
  isLocal(index: number): boolean {
    return index > 0 && this.#routePath[index] === LOCAL_PATH;
  }

  /**
   * Replace the whole table with a snapshot now, reading `entries` as it
   * goes (nothing of the snapshot is kept but the table): what is queued is
   * committed first. For a table that is not being read by a batch, e.g.
   * when the engine starts; otherwise {@link load} and commit between batches.
   */
  replace(entries: Iterable<SnapshotEntry>, time: number): void {
    this.#pending.push({ kind: 'snapshot', entries, time });
    this.commit();
  }

  /** Apply every queued change, in order. Returns the number applied. */
  commit(): number {
    const q = this.#pending;
    if (q.length === 0) return 0;
    this.#pending = [];
    // Indices freed by the last commit may be given to new routes now.
    for (const r of this.#freedLater) this.#freeRoutes.push(r);
    this.#freedLater = [];
    // A commit that resets the table (a snapshot load) fills the exact maps
    // first and builds the DIR-24-8 once at the end, instead of per route.
    const bulk = q.some((c) => c.kind === 'snapshot');
    let spare: Uint32Array | null = null;
    let applied = 0;
    for (const c of q) {
      applied++;
      if (c.kind === 'set') this.#set(c.prefix, c.best, c.time);
      else if (c.kind === 'delete') this.#delete(c.prefix);
      else if (c.kind === 'local') this.#setLocal(c.prefixes);
      else {
        spare = this.#tbl24 ?? spare;
        this.#tbl24 = null;
        this.#bulk = true;
        this.#reset();
        for (const e of c.entries) {
          this.#set(e.prefix, e.best, c.time);
          applied++;
        }
      }
    }
    if (bulk) {
      this.#bulk = false;
      if (this.#routes4 >= this.#dirThreshold) this.#dirBuild(spare);
    }
    this.stats.applied += applied;
    this.stats.commits++;
    return q.length;
  }

  // ---- what commits changed (for the flow cache) ----

  /** Note that decisions made with route `r` (0: with no route) may no longer hold. */
  #changed(r: number): void {
    if (this.#changedAll) return;
    if (this.#changedRoutes.length >= MAX_CHANGED) {
      this.#changedAll = true;
      this.#changedRoutes = [];
      return;
    }
    this.#changedRoutes.push(r);
  }

  /**
   * What the commits since the last call changed, and forget it: `routes`,
   * the route indices whose lookups or facts may have changed (a route
   * whose facts changed or that was withdrawn, the route a new prefix took
   * addresses from, 0 when a new prefix took unrouted ones), so that a
   * decision made with neither the source's nor the destination's route
   * among them still holds; or `all`: any may have (a snapshot, local
   * routes, or more than 65,536 routes between calls).
   */
  takeChanges(): { readonly all: boolean; readonly routes: readonly number[] } {
    const out = { all: this.#changedAll, routes: this.#changedRoutes };
    this.#changedAll = false;
    this.#changedRoutes = [];
    return out;
  }

  // ---- announce times (for route-age conditions) ----

  /**
   * Note that a route was set with announce time `t`: the distinct times
   * are kept in order (appended in the usual case of a clock that moves
   * forward). Past 2^20 of them the older half is forgotten.
   */
  #noteTime(t: number): void {
    let n = this.#nTimes;
    const times = this.#times;
    if (n > 0 && times[n - 1] >= t) {
      if (times[n - 1] === t) return;
      // Earlier than the latest: insert in order (rare).
      const at = lowerBound(times, n, t);
      if (at < n && times[at] === t) return;
      if (n === times.length) this.#growTimes();
      this.#times.copyWithin(at + 1, at, n);
      this.#times[at] = t;
      this.#nTimes = n + 1;
      return;
    }
    if (n >= MAX_TIMES) {
      // Forget the older half: queries reaching before what is kept answer "unknown".
      const half = n >>> 1;
      this.#timesForgotten = times[half - 1];
      times.copyWithin(0, half, n);
      n -= half;
    } else if (n === times.length) this.#growTimes();
    this.#times[n] = t;
    this.#nTimes = n + 1;
  }

  #growTimes(): void {
    const bigger = new Float64Array(this.#times.length * 2);
    bigger.set(this.#times);
    this.#times = bigger;
  }

  /** The earliest announce time ≥ `t` of the routes set (and not replaced by a snapshot) so far, or Infinity. */
  firstAnnounceAtOrAfter(t: number): number {
    const at = lowerBound(this.#times, this.#nTimes, t);
    return at < this.#nTimes ? this.#times[at] : Infinity;
  }

  /**
   * The latest announce time < `t` of those routes, or -Infinity; Infinity
   * when times before `t` may have been forgotten (see {@link #noteTime}).
   */
  lastAnnounceBefore(t: number): number {
    if (t <= this.#timesForgotten) return Infinity;
    const at = lowerBound(this.#times, this.#nTimes, t);
    return at > 0 ? this.#times[at - 1] : this.#timesForgotten;
  }

  // ---- lookups (hot path) ----

  /** Route index of the longest IPv4 prefix containing `addr` (uint32), or 0. */
  lookup4(addr: number): number {
    const t = this.#tbl24;
    if (t !== null) {
      const v = t[addr >>> 8];
      return v < CHUNK ? v : this.#tbl8[((v - CHUNK) << 8) | (addr & 0xff)];
    }
    const r = this.#exact4.lookup(addr | 0);
    return r < 0 ? NO_ROUTE : r;
  }

  /** Route index of the longest IPv6 prefix containing the 16 bytes at `data[offset]`, or 0. */
  lookup6(data: Uint8Array, offset: number): number {
    const r = this.#exact6.lookup(data, offset);
    return r < 0 ? NO_ROUTE : r;
  }

  /** Same as {@link lookup6} with the address as four big-endian int32 words. */
  lookup6Words(a: number, b: number, c: number, d: number): number {
    const r = this.#exact6.lookupWords(a, b, c, d);
    return r < 0 ? NO_ROUTE : r;
  }

  /** Longest-prefix match for an address given as text or bytes (not for hot paths). */
  lookup(address: string | Uint8Array): RouteFact | undefined {
    const b = typeof address === 'string' ? tryParseAddress(address) : address;
    if (b === undefined) return undefined;
    const r = b.length === 4 ? this.lookup4(readWord(b, 0) >>> 0) : b.length === 16 ? this.lookup6(b, 0) : 0;
    return this.route(r);
  }

  /** The route with index `index`, or undefined. */
  route(index: number): RouteFact | undefined {
    const best = this.#routePath[index];
    if (index <= 0 || best === undefined) return undefined;
    return { index, prefix: this.prefixOf(index)!, best, announcedAt: this.announcedAt[index] };
  }

  /**
   * The prefix of route `index`: of an installed route, or of one withdrawn
   * since (whose index no other route has taken yet: not before the next
   * commit). Undefined for an index never used.
   */
  prefixOf(index: number): Prefix | undefined {
    if (index <= 0 || index >= this.#nextRoute) return undefined;
    return this.#routePrefix[index] ?? { afi: Afi.IPV4, length: this.#routeLen[index], address: numberBytes(this.#routeKey4[index]) };
  }

  /** Every installed route (not for hot paths). */
  *routes(): Iterable<RouteFact> {
    for (let i = 1; i < this.#nextRoute; i++) {
      const r = this.route(i);
      if (r) yield r;
    }
  }

  // ---- conditions ----

  /**
   * Get the bit of a condition on best paths: an identical `key` shares the
   * bit already allocated (its reference count grows); a new one gets a free
   * bit and is evaluated at once against every attribute group, then against
   * each new group as routes arrive. Existing bits never move, so a
   * classifier compiled earlier keeps working while a new one is built.
   */
  acquireCondition(key: string, test: PathPredicate): number {
    const known = this.#condByKey.get(key);
    if (known !== undefined) {
      this.#condRefs[known]++;
      return known;
    }
    let bit = this.#condKey.indexOf(undefined);
    if (bit < 0) bit = this.#condKey.length;
    this.#condKey[bit] = key;
    this.#condTest[bit] = test;
    this.#condRefs[bit] = 1;
    this.#condByKey.set(key, bit);
    if ((bit >>> 5) >= this.factWords) this.#resizeFacts(this.#groupRefs.length, (bit >>> 5) + 1);
    const w = this.factWords;
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    for (let g = 0; g < this.#groupPath.length; g++) {
      const p = this.#groupPath[g];
      if (p === undefined) continue;
      if (safeTest(test, p)) this.facts[g * w + word] |= mask;
      else this.facts[g * w + word] &= ~mask;
    }
    return bit;
  }

  /** Drop one reference to a condition bit; the bit is reused once unreferenced. */
  releaseCondition(bit: number): void {
    if (this.#condKey[bit] === undefined) return;
    if (--this.#condRefs[bit] > 0) return;
    this.#condByKey.delete(this.#condKey[bit]!);
    this.#condKey[bit] = undefined;
    this.#condTest[bit] = undefined;
  }

  /** Number of condition bits in use. */
  get conditions(): number {
    return this.#condByKey.size;
  }

  // ---- internals ----

  #ignore(reason: string): void {
    this.stats.ignored[reason] = (this.stats.ignored[reason] ?? 0) + 1;
  }

  #setLocal(prefixes: readonly Prefix[]): void {
    this.#changedAll = true;
    for (const p of this.#local) this.#delete(p, true);
    this.#local = prefixes;
    for (const p of prefixes) this.#set(p, LOCAL_PATH, 0, true);
  }

  #set(prefix: Prefix, best: PathSummary, time: number, local = false): void {
    const v4 = prefix.afi === Afi.IPV4;
    const key4 = v4 ? readWord(prefix.address, 0) & mask4(prefix.length) : 0;
    const existing = v4 ? this.#exact4.get(key4, prefix.length) : this.#exact6.get(prefix.address, prefix.length);
    if (existing > 0) {
      const old = this.#routePath[existing]!;
      if (old === LOCAL_PATH && !local) {
        this.#ignore('local-prefix');
        return;
      }
      if (old.attributes === best.attributes && old.peer === best.peer && old.router === best.router) {
        this.#routePath[existing] = best;
        return;
      }
      const g = this.#acquireGroup(best);
      this.#releaseGroup(this.routeGroup[existing]);
      this.routeGroup[existing] = g;
      this.#routePath[existing] = best;
      this.announcedAt[existing] = time;
      this.routeMeta[existing * 2] = g;
      this.routeMeta[existing * 2 + 1] = time;
      if (!local) this.#noteTime(time);
      this.#changed(existing);
      return;
    }
    // A new prefix takes addresses from the route that covered it (0: from the unrouted ones).
    if (!this.#bulk) {
      const cover = v4 ? this.#exact4.covering(key4, prefix.length) : this.#exact6.covering(prefix.address, prefix.length);
      this.#changed(cover > 0 ? cover : 0);
    }
    const r = this.#allocRoute();
    // The index may have meant a route withdrawn before: it means this one now.
    if (!this.#bulk) this.#changed(r);
    const g = (this.routeGroup[r] = this.#acquireGroup(best));
    this.announcedAt[r] = time;
    this.routeMeta[r * 2] = g;
    this.routeMeta[r * 2 + 1] = time;
    if (!local) this.#noteTime(time);
    this.#routeLen[r] = prefix.length;
    this.#routePath[r] = best;
    if (v4) {
      this.#routePrefix[r] = undefined;
      this.#routeKey4[r] = key4;
      this.#exact4.set(key4, prefix.length, r);
      this.#routes4++;
      if (this.#tbl24 !== null) this.#dirInsert(key4 >>> 0, prefix.length, r);
      else if (this.#routes4 >= this.#dirThreshold && !this.#bulk) this.#dirBuild(null);
    } else {
      this.#routePrefix[r] = { afi: Afi.IPV6, length: prefix.length, address: prefix.address.slice() };
      this.#exact6.set(prefix.address, prefix.length, r);
      this.#routes6++;
    }
  }

  #delete(prefix: Prefix, local = false): void {
    const v4 = prefix.afi === Afi.IPV4;
    if (v4) {
      const key4 = readWord(prefix.address, 0) & mask4(prefix.length);
      const r = this.#exact4.get(key4, prefix.length);
      if (r <= 0) {
        this.#ignore('withdraw-unknown-prefix');
        return;
      }
      if ((this.#routePath[r] === LOCAL_PATH) !== local) {
        this.#ignore('local-prefix');
        return;
      }
      this.#exact4.delete(key4, prefix.length);
      if (this.#tbl24 !== null) {
        const cover = this.#exact4.covering(key4, prefix.length);
        this.#dirDelete(key4 >>> 0, prefix.length, r, cover < 0 ? NO_ROUTE : cover);
      }
      this.#routes4--;
      this.#changed(r);
      this.#freeRoute(r);
    } else {
      const r = this.#exact6.get(prefix.address, prefix.length);
      if (r <= 0) {
        this.#ignore('withdraw-unknown-prefix');
        return;
      }
      if ((this.#routePath[r] === LOCAL_PATH) !== local) {
        this.#ignore('local-prefix');
        return;
      }
      this.#exact6.delete(prefix.address, prefix.length);
      this.#routes6--;
      this.#changed(r);
      this.#freeRoute(r);
    }
  }

  #reset(): void {
    // The snapshot's routes bring their own times, and any route may have changed.
    this.#nTimes = 0;
    this.#changedAll = true;
    this.#exact4.clear();
    this.#exact6.clear();
    if (this.#tbl24 !== null) this.#tbl24.fill(0);
    this.#freeChunks = [];
    this.#nextChunk = 0;
    for (let r = 1; r < this.#nextRoute; r++) if (this.#routePath[r] !== undefined) this.#releaseGroup(this.routeGroup[r]);
    this.#routePrefix = [undefined];
    this.#routePath = [undefined];
    this.#freeRoutes = [];
    this.#freedLater = [];
    this.#nextRoute = 1;
    this.#routes4 = 0;
    this.#routes6 = 0;
    // A snapshot replaces the announced routes; the local ones stay.
    for (const p of this.#local) this.#set(p, LOCAL_PATH, 0, true);
  }

  #allocRoute(): number {
    const free = this.#freeRoutes.pop();
    if (free !== undefined) return free;
    const r = this.#nextRoute++;
    if (r >= this.routeGroup.length) {
      const cap = this.routeGroup.length * 2;
      const g = new Int32Array(cap);
      g.set(this.routeGroup);
      this.routeGroup = g;
      const t = new Float64Array(cap);
      t.set(this.announcedAt);
      this.announcedAt = t;
      const m = new Float64Array(cap * 2);
      m.set(this.routeMeta);
      this.routeMeta = m;
      const l = new Uint8Array(cap);
      l.set(this.#routeLen);
      this.#routeLen = l;
      const k = new Int32Array(cap);
      k.set(this.#routeKey4);
      this.#routeKey4 = k;
    }
    return r;
  }

  #freeRoute(r: number): void {
    this.#releaseGroup(this.routeGroup[r]);
    this.#routePath[r] = undefined;
    // The prefix stays readable (prefixOf) until the index is reused. Reusable from the next commit on: until then the index still means the withdrawn route to whoever holds it (the flow cache's counts).
    this.#freedLater.push(r);
  }

  #acquireGroup(p: PathSummary): number {
    let list = this.#groupIndex.get(p.attributes);
    if (list === undefined) {
      list = [];
      this.#groupIndex.set(p.attributes, list);
    }
    for (const g of list) {
      const q = this.#groupPath[g]!;
      if (q.peer === p.peer && q.router === p.router) {
        this.#groupRefs[g]++;
        return g;
      }
    }
    let g = this.#freeGroups.pop();
    if (g === undefined) {
      g = this.#groupPath.length;
      this.#groupPath.push(undefined);
      if (g >= this.#groupRefs.length) this.#resizeFacts(this.#groupRefs.length * 2, this.factWords);
    }
    this.#groupPath[g] = p;
    this.#groupRefs[g] = 1;
    list.push(g);
    const w = this.factWords;
    for (let i = 0; i < w; i++) this.facts[g * w + i] = 0;
    for (let bit = 0; bit < this.#condTest.length; bit++) {
      const t = this.#condTest[bit];
      if (t !== undefined && safeTest(t, p)) this.facts[g * w + (bit >>> 5)] |= 1 << (bit & 31);
    }
    return g;
  }

  #releaseGroup(g: number): void {
    if (--this.#groupRefs[g] > 0) return;
    const p = this.#groupPath[g]!;
    const list = this.#groupIndex.get(p.attributes)!;
    list.splice(list.indexOf(g), 1);
    if (list.length === 0) this.#groupIndex.delete(p.attributes);
    this.#groupPath[g] = undefined;
    this.#freeGroups.push(g);
  }

  #resizeFacts(groups: number, words: number): void {
    const refs = new Int32Array(groups);
    refs.set(this.#groupRefs.subarray(0, Math.min(groups, this.#groupRefs.length)));
    this.#groupRefs = refs;
    const facts = new Uint32Array(groups * words);
    const ow = this.factWords;
    const og = this.facts.length / ow;
    for (let g = 0; g < og; g++) for (let i = 0; i < ow; i++) facts[g * words + i] = this.facts[g * ow + i];
    this.facts = facts;
    this.factWords = words;
  }

  // ---- DIR-24-8 ----

  /** Build the DIR-24-8 from every IPv4 route, shortest prefixes first so that each slot is simply overwritten by longer ones. */
  #dirBuild(reuse: Uint32Array | null): void {
    let t24: Uint32Array;
    if (reuse !== null) {
      t24 = reuse;
      t24.fill(NO_ROUTE);
    } else t24 = new Uint32Array(1 << 24);
    this.#tbl24 = t24;
    this.#tbl8 = new Uint32Array(256 * 64);
    this.#freeChunks = [];
    this.#nextChunk = 0;
    // Routes by prefix length (counting sort).
    const lens = this.#routeLen;
    const count = new Int32Array(34);
    const n = this.#nextRoute;
    for (let r = 1; r < n; r++) if (this.#routePath[r] !== undefined && this.#routePrefix[r] === undefined) count[lens[r] + 1]++;
    for (let l = 1; l < 34; l++) count[l] += count[l - 1];
    const order = new Int32Array(count[33]);
    const addrs = new Int32Array(count[33]);
    const keys = this.#routeKey4;
    for (let r = 1; r < n; r++) {
      if (this.#routePath[r] === undefined || this.#routePrefix[r] !== undefined) continue;
      const at = count[lens[r]]++;
      order[at] = r;
      addrs[at] = keys[r];
    }
    for (let k = 0; k < order.length; k++) {
      const r = order[k];
      const len = lens[r];
      const addr = addrs[k] >>> 0;
      if (len <= 24) {
        const start = addr >>> 8;
        t24.fill(r, start, start + (1 << (24 - len)));
        continue;
      }
      const i = addr >>> 8;
      let v = t24[i];
      if (v < CHUNK) {
        const c = this.#newChunk(v);
        v = t24[i] = CHUNK + c;
      }
      const base = ((v - CHUNK) << 8) | (addr & 0xff);
      this.#tbl8.fill(r, base, base + (1 << (32 - len)));
    }
  }

  #newChunk(fill: number): number {
    let c = this.#freeChunks.pop();
    if (c === undefined) {
      c = this.#nextChunk++;
      if ((c + 1) * 256 > this.#tbl8.length) {
        const t = new Uint32Array(this.#tbl8.length * 2);
        t.set(this.#tbl8);
        this.#tbl8 = t;
      }
    }
    this.#tbl8.fill(fill, c * 256, c * 256 + 256);
    return c;
  }

  #dirInsert(addr: number, len: number, r: number): void {
    const t24 = this.#tbl24!;
    const lens = this.#routeLen;
    if (len <= 24) {
      const start = addr >>> 8;
      const end = start + (1 << (24 - len));
      for (let i = start; i < end; i++) {
        const v = t24[i];
        if (v >= CHUNK) {
          const t8 = this.#tbl8;
          const base = (v - CHUNK) << 8;
          for (let j = base; j < base + 256; j++) {
            const cur = t8[j];
            if (cur === NO_ROUTE || lens[cur] < len) t8[j] = r;
          }
        } else if (v === NO_ROUTE || lens[v] < len) t24[i] = r;
      }
      return;
    }
    const i = addr >>> 8;
    let v = t24[i];
    if (v < CHUNK) {
      const c = this.#newChunk(v);
      v = t24[i] = CHUNK + c;
    }
    const t8 = this.#tbl8;
    const base = (v - CHUNK) << 8;
    const start = base + (addr & 0xff);
    const end = start + (1 << (32 - len));
    for (let j = start; j < end; j++) {
      const cur = t8[j];
      if (cur === NO_ROUTE || lens[cur] < len) t8[j] = r;
    }
  }

  /** Remove route `r` (`addr/len`): its slots fall back to `cover`, the covering less-specific route or 0. */
  #dirDelete(addr: number, len: number, r: number, cover: number): void {
    const t24 = this.#tbl24!;
    if (len <= 24) {
      const start = addr >>> 8;
      const end = start + (1 << (24 - len));
      for (let i = start; i < end; i++) {
        const v = t24[i];
        if (v >= CHUNK) {
          const t8 = this.#tbl8;
          const base = (v - CHUNK) << 8;
          for (let j = base; j < base + 256; j++) if (t8[j] === r) t8[j] = cover;
        } else if (v === r) t24[i] = cover;
      }
      return;
    }
    const i = addr >>> 8;
    const v = t24[i];
    if (v < CHUNK) return;
    const t8 = this.#tbl8;
    const base = (v - CHUNK) << 8;
    const start = base + (addr & 0xff);
    const end = start + (1 << (32 - len));
    for (let j = start; j < end; j++) if (t8[j] === r) t8[j] = cover;
    // Fold the chunk back when nothing longer than /24 is left in it.
    const first = t8[base];
    if (first !== NO_ROUTE && this.#routeLen[first] > 24) return;
    for (let j = base + 1; j < base + 256; j++) if (t8[j] !== first) return;
    t24[i] = first;
    this.#freeChunks.push(v - CHUNK);
  }
}

function safeTest(test: PathPredicate, p: PathSummary): boolean {
  try {
    return test(p);
  } catch {
    return false;
  }
}

function numberBytes(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** Canonical text of an address for comparisons (e.g. peers, next hops), or the input when it does not parse. */
export function canonicalAddress(s: string): string {
  const b = tryParseAddress(s);
  return b === undefined ? s : formatAddress(b);
}

/** Changed routes a fact table lists between takeChanges() calls before it answers "all". */
const MAX_CHANGED = 65536;

/** Distinct announce times a fact table keeps (see RouteFactTable.#noteTime). */
const MAX_TIMES = 1 << 20;

/** Index of the first of `xs[0, n)` (ascending) that is ≥ `t`; `n` when none. */
function lowerBound(xs: Float64Array, n: number, t: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

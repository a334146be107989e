/**
 * The routing information bases of one virtual network: an Adj-RIB-In per
 * peer and the Loc-RIB (RFC 4271 §3.2), with best-path selection and a
 * longest-prefix-match index.
 *
 * Storage is shaped for full tables. There is one immutable path record per
 * route, and it is itself the {@link PathSummary} that events and queries
 * hand out. Records live in one table per family: an array of Maps indexed
 * by prefix length, an IPv4 prefix keyed by its leading bits as a small
 * integer, an IPv6 prefix by its leading 16-bit words as a short string. A
 * prefix with one path stores the record itself; only contested prefixes
 * hold a ranked array. That table is at once every peer's Adj-RIB-In (a
 * peer's routes are the records it is the source of), the Loc-RIB (the
 * ranked candidates) and the LPM index (a lookup probes at most one Map per
 * prefix length present). Per-peer work — a session going down, a graceful
 * restart sweep — walks the table once; per-route work touches one Map entry.
 */
import { Afi, type Prefix, formatAddress, tryParseAddress } from '../../core/prefix.js';
import { InvalidAddressError } from '../../core/errors.js';
import type { Clock, Timer } from '../../core/clock.js';
import type { PathSummary, RouteAttributes, RouteEvent, WithdrawReason } from '../../core/types.js';
import { AttributeStore } from './attribute-store.js';
import { PATH_SOURCE, rankPaths, type DecisionPeer } from './decision.js';
import { RibError, RibErrorCode } from './errors.js';

/** A BGP neighbour feeding a virtual network's RIBs. */
export interface RibPeer {
  /** Unique within the vnet, e.g. `${router}|${address}`. */
  readonly id: string;
  readonly router: string;
  /** Peer IP address as text. */
  readonly address: string;
  readonly asn: number;
  /** BGP identifier, dotted quad. */
  readonly bgpId: string;
  readonly ibgp: boolean;
}

/** A Loc-RIB entry: the paths for one prefix, best first. */
export interface LocRibEntry {
  readonly prefix: Prefix;
  readonly best: PathSummary;
  /** The equal-cost set installed, best included (at most `ecmpMax`). */
  readonly ecmp: PathSummary[];
  /** Every candidate, best first. */
  readonly paths: PathSummary[];
}

/** One route of a peer's Adj-RIB-In. */
export interface AdjRibInRoute {
  readonly prefix: Prefix;
  readonly pathId?: number;
  readonly attributes: RouteAttributes;
  readonly stale: boolean;
}

export interface RibStats {
  /** Prefixes in the Loc-RIB. */
  prefixes: number;
  /** Paths across every Adj-RIB-In. */
  paths: number;
  /** Attribute sets in the store (shared by every vnet using the same store). */
  attributeSets: number;
  peers: number;
  /** Events whose listener threw. */
  listenerErrors: number;
}

export interface VnetRibOptions {
  vnet: string;
  clock: Clock;
  /**
   * Receives every route event, synchronously and in order. Omit when nobody
   * listens. A listener that throws does not disturb the RIB: the error is
   * counted (`stats().listenerErrors`) and passed to `onListenerError`.
   */
  emit?: (e: RouteEvent) => void;
  onListenerError?: (err: unknown, event: RouteEvent) => void;
  /** Largest equal-cost set installed; default 8. */
  ecmpMax?: number;
  store?: AttributeStore;
}

/** ECMP paths installed per prefix unless configured otherwise. */
export const DEFAULT_ECMP_MAX = 8;

type Key = number | string;

class PeerState implements DecisionPeer {
  readonly id: string;
  readonly router: string;
  readonly address: string;
  readonly asn: number;
  bgpId: string;
  ibgp: boolean;
  bgpIdNum: number;
  readonly addressKey: string;
  readonly count: [number, number] = [0, 0];
  stale = 0;
  staleTimer: Timer | undefined;

  constructor(p: RibPeer) {
    this.id = p.id;
    this.router = p.router;
    this.address = p.address;
    this.asn = p.asn;
    this.bgpId = p.bgpId;
    this.ibgp = p.ibgp;
    this.bgpIdNum = bgpIdNumber(p.bgpId);
    const a = tryParseAddress(p.address);
    if (!a) throw new RibError(RibErrorCode.INVALID_PEER, 'address', `peer ${JSON.stringify(p.id)}: address ${JSON.stringify(p.address)} is not an IP address`);
    // Family first, then the bytes: IPv4 peers sort before IPv6 ones, each numerically.
    this.addressKey = String.fromCharCode(a.length, ...a);
  }
}

function bgpIdNumber(s: string): number {
  const a = tryParseAddress(s);
  if (!a || a.length !== 4) throw new RibError(RibErrorCode.INVALID_PEER, 'bgpId', `BGP identifier ${JSON.stringify(s)} is not a dotted quad`);
  return ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;
}

/**
 * A route as held by both RIBs and handed out as its {@link PathSummary}.
 * Immutable: a replaced or newly stale route gets a new record, so a record
 * carried by an earlier event never changes under its reader.
 */
class RibPath implements PathSummary {
  readonly router: string;
  readonly peer: string;
  readonly peerAs: number;
  readonly pathId: number | undefined;
  readonly attributes: RouteAttributes;
  readonly stale: boolean;
  readonly [PATH_SOURCE]: PeerState;

  constructor(src: PeerState, attributes: RouteAttributes, pathId: number | undefined, stale: boolean) {
    this.router = src.router;
    this.peer = src.address;
    this.peerAs = src.asn;
    this.pathId = pathId;
    this.attributes = attributes;
    this.stale = stale;
    this[PATH_SOURCE] = src;
  }
}

/** Several paths for one prefix, ranked best first; the first `ecmp` are installed. Never mutated. */
class RankedPaths {
  constructor(
    readonly paths: readonly RibPath[],
    readonly ecmp: number,
  ) {}
}

/** A Loc-RIB slot: the single path, or the ranked set. */
type LocSlot = RibPath | RankedPaths;

const AFI_INDEX = (afi: Afi): 0 | 1 => (afi === Afi.IPV4 ? 0 : 1);

/** Prefix key for IPv4: the leading `len` bits as a signed 32-bit integer (a Smi for every length up to 31). */
function v4Key(addr: number, len: number): number {
  return len === 0 ? 0 : addr >> (32 - len);
}

function v6Key(b: Uint8Array, len: number): string {
  const n = (len + 15) >> 4;
  let s = '';
  for (let i = 0; i < n; i++) {
    let w = (b[2 * i] << 8) | b[2 * i + 1];
    const bits = len - 16 * i;
    if (bits < 16) w &= (0xffff << (16 - bits)) & 0xffff;
    s += String.fromCharCode(w);
  }
  return s;
}

function keyToPrefix(ai: 0 | 1, len: number, key: Key): Prefix {
  if (ai === 0) {
    const n = len === 0 ? 0 : ((key as number) << (32 - len)) >>> 0;
    return { afi: Afi.IPV4, length: len, address: new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]) };
  }
  const s = key as string;
  const address = new Uint8Array(16);
  for (let i = 0; i < s.length; i++) {
    const w = s.charCodeAt(i);
    address[2 * i] = w >> 8;
    address[2 * i + 1] = w & 0xff;
  }
  return { afi: Afi.IPV6, length: len, address };
}

function keyToText(ai: 0 | 1, len: number, key: Key): string {
  if (ai === 0) {
    const n = len === 0 ? 0 : ((key as number) << (32 - len)) >>> 0;
    return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}/${len}`;
  }
  return `${formatAddress(keyToPrefix(1, len, key).address)}/${len}`;
}

function bestOf(slot: LocSlot | undefined): RibPath | null {
  if (slot === undefined) return null;
  return slot instanceof RibPath ? slot : slot.paths[0];
}

function ecmpCount(slot: LocSlot | undefined): number {
  if (slot === undefined) return 0;
  return slot instanceof RibPath ? 1 : slot.ecmp;
}

function ecmpAt(slot: LocSlot, i: number): RibPath {
  return slot instanceof RibPath ? slot : slot.paths[i];
}

/** Same route for the events' purposes: a path turning stale or fresh again is not a best-path change. */
function samePath(a: RibPath, b: RibPath): boolean {
  return a === b || (a[PATH_SOURCE] === b[PATH_SOURCE] && a.pathId === b.pathId && a.attributes === b.attributes);
}

function sameInstalled(a: LocSlot | undefined, b: LocSlot | undefined): boolean {
  const n = ecmpCount(a);
  if (n !== ecmpCount(b)) return false;
  for (let i = 0; i < n; i++) if (!samePath(ecmpAt(a!, i), ecmpAt(b!, i))) return false;
  return true;
}

/** The path of `peer` (with ADD-PATH identifier `pathId`) in a slot: that peer's Adj-RIB-In route. */
function findPath(slot: LocSlot | undefined, peer: PeerState, pathId: number | undefined): RibPath | undefined {
  if (slot === undefined) return undefined;
  if (slot instanceof RibPath) return slot[PATH_SOURCE] === peer && slot.pathId === pathId ? slot : undefined;
  for (const p of slot.paths) if (p[PATH_SOURCE] === peer && p.pathId === pathId) return p;
  return undefined;
}

/**
 * The RIB set of one virtual network. Every change is reported through
 * `emit`, synchronously: first the `route-announce` / `route-withdraw` of
 * the peer's route, then a `best-path-change` if the best path or the
 * installed equal-cost set of the prefix changed.
 */
export class VnetRib {
  readonly vnet: string;
  readonly store: AttributeStore;
  readonly ecmpMax: number;
  #clock: Clock;
  #emit: ((e: RouteEvent) => void) | undefined;
  #seq = 0;
  #peers = new Map<string, PeerState>();
  readonly #loc: [Array<Map<Key, LocSlot> | undefined>, Array<Map<Key, LocSlot> | undefined>] = [new Array(33), new Array(129)];
  #prefixes = 0;
  #listenerErrors = 0;
  #paths = 0;

  constructor(options: VnetRibOptions) {
    this.vnet = options.vnet;
    this.#clock = options.clock;
    const emit = options.emit;
    const onError = options.onListenerError;
    this.#emit =
      emit &&
      ((e: RouteEvent) => {
        try {
          emit(e);
        } catch (err) {
          this.#listenerErrors++;
          onError?.(err, e);
        }
      });
    this.store = options.store ?? new AttributeStore();
    const ecmpMax = options.ecmpMax ?? DEFAULT_ECMP_MAX;
    if (!Number.isInteger(ecmpMax) || ecmpMax < 1) throw new RibError(RibErrorCode.INVALID_OPTION, 'ecmpMax', `ecmpMax must be a positive integer, got ${ecmpMax}`);
    this.ecmpMax = ecmpMax;
  }

  /** Next event sequence number of this vnet, for events other producers add to its stream. */
  nextSeq(): number {
    return ++this.#seq;
  }

  /**
   * Register a peer. Registering an id again with the same router, address
   * and AS keeps its routes (a session re-established during graceful
   * restart) and takes the new BGP identifier; with a different router,
   * address or AS its old routes are withdrawn first (reason `peer-down`).
   */
  addPeer(p: RibPeer): void {
    const cur = this.#peers.get(p.id);
    if (cur && cur.router === p.router && cur.address === p.address && cur.asn === p.asn) {
      cur.bgpIdNum = bgpIdNumber(p.bgpId);
      cur.bgpId = p.bgpId;
      cur.ibgp = p.ibgp;
      return;
    }
    const next = new PeerState(p);
    if (cur) this.removePeer(cur.id);
    this.#peers.set(p.id, next);
  }

  /** Withdraw every route of the peer (reason `peer-down`) and forget it. Unknown ids are ignored. */
  removePeer(id: string): void {
    const peer = this.#peers.get(id);
    if (!peer) return;
    peer.staleTimer?.cancel();
    peer.staleTimer = undefined;
    this.#dropRoutes(peer, 'peer-down', false, undefined);
    this.#peers.delete(id);
  }

  hasPeer(id: string): boolean {
    return this.#peers.has(id);
  }

  /**
   * The session with the peer ended. Without options every route of the
   * peer is withdrawn (reason `peer-down`). With `staleForMs` (graceful
   * restart, RFC 4724 §4.2) its routes are kept but marked stale — a stale
   * path loses to any fresh one — and those still stale after `staleForMs`
   * are withdrawn (reason `stale-expired`). The peer stays registered;
   * an unknown id is ignored.
   */
  peerDown(peerId: string, opts?: { staleForMs?: number }): void {
    const peer = this.#peers.get(peerId);
    if (!peer) return;
    peer.staleTimer?.cancel();
    peer.staleTimer = undefined;
    const keep = opts?.staleForMs;
    if (keep === undefined) {
      this.#dropRoutes(peer, 'peer-down', false, undefined);
      return;
    }
    this.#markStale(peer);
    if (peer.stale > 0) {
      peer.staleTimer = this.#clock.setTimer(Math.max(0, keep), () => {
        peer.staleTimer = undefined;
        this.#dropRoutes(peer, 'stale-expired', true, undefined);
      });
    }
  }

  /**
   * End-of-RIB from the peer (RFC 4724 §4.1): routes it re-announced are
   * fresh again; the ones of that family (both families when `afi` is
   * omitted) still stale are withdrawn now (reason `stale-expired`).
   */
  endOfRib(peerId: string, afi?: Afi): void {
    const peer = this.#peers.get(peerId);
    if (!peer || peer.stale === 0) return;
    this.#dropRoutes(peer, 'stale-expired', true, afi);
    if (peer.stale === 0) {
      peer.staleTimer?.cancel();
      peer.staleTimer = undefined;
    }
  }

  /**
   * A route from `peerId`. A route from the same peer for the same prefix
   * (and ADD-PATH identifier) is replaced implicitly (RFC 4271 §3.1).
   * `attrs` need not be interned: an equal interned set is used in its place.
   */
  announce(peerId: string, prefix: Prefix, attrs: RouteAttributes, pathId?: number): void {
    const peer = this.#peer(peerId);
    const ai = checkPrefix(prefix);
    const len = prefix.length;
    const a = prefix.address;
    const key = ai === 0 ? v4Key(((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0, len) : v6Key(a, len);
    const tables = this.#loc[ai];
    let m = tables[len];
    if (m === undefined) m = tables[len] = new Map();
    const slot = m.get(key);
    const old = findPath(slot, peer, pathId);
    const interned = this.store.adopt(attrs);
    const emit = this.#emit;
    if (old !== undefined && old.attributes === interned && !old.stale) {
      this.store.release(interned);
      if (emit) emit(this.#peerEvent('route-announce', peer, keyToText(ai, len, key), pathId, interned, true));
      return;
    }
    const rec = new RibPath(peer, interned, pathId, false);
    if (old) {
      if (old.stale) peer.stale--;
    } else {
      peer.count[ai]++;
      this.#paths++;
    }
    const text = emit ? keyToText(ai, len, key) : '';
    if (emit) emit(this.#peerEvent('route-announce', peer, text, pathId, interned, old !== undefined));
    this.#update(m, slot, key, old, rec, text);
    if (old) this.store.release(old.attributes);
  }

  /**
   * Withdraw a route. Returns false, and reports nothing, when the peer had
   * no such route (or is unknown).
   */
  withdraw(peerId: string, prefix: Prefix, reason: WithdrawReason = 'withdrawn', pathId?: number): boolean {
    const peer = this.#peers.get(peerId);
    if (!peer) return false;
    const ai = checkPrefix(prefix);
    const len = prefix.length;
    const a = prefix.address;
    const key = ai === 0 ? v4Key(((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0, len) : v6Key(a, len);
    const m = this.#loc[ai][len];
    if (m === undefined) return false;
    const slot = m.get(key);
    const old = findPath(slot, peer, pathId);
    if (old === undefined) return false;
    this.#removed(peer, ai, len, key, m, slot!, old, reason);
    return true;
  }

  /** Routes in the peer's Adj-RIB-In, of one family or both. */
  adjRibInCount(peerId: string, afi?: Afi): number {
    const peer = this.#peers.get(peerId);
    if (!peer) return 0;
    return afi === undefined ? peer.count[0] + peer.count[1] : peer.count[AFI_INDEX(afi)];
  }

  /** The peer's Adj-RIB-In, IPv4 then IPv6, shorter prefixes first. */
  *adjRibIn(peerId: string): Iterable<AdjRibInRoute> {
    const peer = this.#peers.get(peerId);
    if (!peer) return;
    for (const ai of [0, 1] as const) {
      if (peer.count[ai] === 0) continue;
      const tables = this.#loc[ai];
      for (let len = 0; len < tables.length; len++) {
        const m = tables[len];
        if (m === undefined || m.size === 0) continue;
        for (const [key, slot] of m) {
          if (slot instanceof RibPath) {
            if (slot[PATH_SOURCE] === peer) yield adjRoute(keyToPrefix(ai, len, key), slot);
          } else {
            for (const p of slot.paths) if (p[PATH_SOURCE] === peer) yield adjRoute(keyToPrefix(ai, len, key), p);
          }
        }
      }
    }
  }

  /** Longest-prefix match for an address (text, or 4 or 16 bytes). */
  lookup(address: string | Uint8Array): LocRibEntry | undefined {
    const b = typeof address === 'string' ? tryParseAddress(address) : address;
    if (b === undefined || (b.length !== 4 && b.length !== 16)) {
      throw new InvalidAddressError(typeof address === 'string' ? address : `<${address.length} bytes>`);
    }
    if (b.length === 4) {
      const n = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
      const tables = this.#loc[0];
      for (let len = 32; len >= 0; len--) {
        const m = tables[len];
        if (m === undefined || m.size === 0) continue;
        const key = v4Key(n, len);
        const slot = m.get(key);
        if (slot !== undefined) return this.#entry(0, len, key, slot);
      }
      return undefined;
    }
    const tables = this.#loc[1];
    for (let len = 128; len >= 0; len--) {
      const m = tables[len];
      if (m === undefined || m.size === 0) continue;
      const key = v6Key(b, len);
      const slot = m.get(key);
      if (slot !== undefined) return this.#entry(1, len, key, slot);
    }
    return undefined;
  }

  /** The Loc-RIB entry for exactly this prefix. */
  get(prefix: Prefix): LocRibEntry | undefined {
    const ai = checkPrefix(prefix);
    const a = prefix.address;
    const key = ai === 0 ? v4Key(((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0, prefix.length) : v6Key(a, prefix.length);
    const slot = this.#loc[ai][prefix.length]?.get(key);
    return slot === undefined ? undefined : this.#entry(ai, prefix.length, key, slot);
  }

  /**
   * Loc-RIB entries, IPv4 then IPv6, shorter prefixes first. `within`
   * keeps the prefix itself and its more-specifics.
   */
  *entries(filter?: { afi?: Afi; within?: Prefix }): Iterable<LocRibEntry> {
    const within = filter?.within;
    let only: 0 | 1 | undefined = filter?.afi === undefined ? undefined : AFI_INDEX(filter.afi);
    if (within) {
      const wi = checkPrefix(within);
      if (only !== undefined && only !== wi) return;
      only = wi;
    }
    for (const ai of [0, 1] as const) {
      if (only !== undefined && ai !== only) continue;
      const tables = this.#loc[ai];
      for (let len = within ? within.length : 0; len < tables.length; len++) {
        const m = tables[len];
        if (m === undefined || m.size === 0) continue;
        if (within === undefined) {
          for (const [key, slot] of m) yield this.#entry(ai, len, key, slot);
        } else if (ai === 0) {
          yield* this.#v4Within(m, len, within);
        } else {
          const wkey = v6Key(within.address, within.length);
          for (const [key, slot] of m) if (v6KeyWithin(key as string, wkey, within.length)) yield this.#entry(1, len, key, slot);
        }
      }
    }
  }

  stats(): RibStats {
    return { prefixes: this.#prefixes, paths: this.#paths, attributeSets: this.store.size, peers: this.#peers.size, listenerErrors: this.#listenerErrors };
  }

  *#v4Within(m: Map<Key, LocSlot>, len: number, within: Prefix): Iterable<LocRibEntry> {
    const w = within.address;
    const wn = ((w[0] << 24) | (w[1] << 16) | (w[2] << 8) | w[3]) >>> 0;
    const span = len - within.length;
    if (span < 31 && 2 ** span <= m.size) {
      // Fewer candidate keys than entries: probe each one.
      const step = 2 ** (32 - len);
      for (let i = 0; i < 2 ** span; i++) {
        const key = v4Key(wn + i * step, len);
        const slot = m.get(key);
        if (slot !== undefined) yield this.#entry(0, len, key, slot);
      }
      return;
    }
    const wk = v4Key(wn, within.length);
    for (const [key, slot] of m) {
      if (within.length === 0 || (key as number) >> span === wk) yield this.#entry(0, len, key, slot);
    }
  }

  #peer(id: string): PeerState {
    const p = this.#peers.get(id);
    if (!p) throw new RibError(RibErrorCode.UNKNOWN_PEER, 'peerId', `vnet ${this.vnet}: no peer ${JSON.stringify(id)} (addPeer first)`);
    return p;
  }

  #entry(ai: 0 | 1, len: number, key: Key, slot: LocSlot): LocRibEntry {
    const prefix = keyToPrefix(ai, len, key);
    if (slot instanceof RibPath) return { prefix, best: slot, ecmp: [slot], paths: [slot] };
    return { prefix, best: slot.paths[0], ecmp: slot.paths.slice(0, slot.ecmp), paths: slot.paths.slice() };
  }

  /** Remove a peer's route: bookkeeping, events, Loc-RIB update. */
  #removed(peer: PeerState, ai: 0 | 1, len: number, key: Key, m: Map<Key, LocSlot>, slot: LocSlot, old: RibPath, reason: WithdrawReason): void {
    peer.count[ai]--;
    this.#paths--;
    if (old.stale) peer.stale--;
    const emit = this.#emit;
    const text = emit ? keyToText(ai, len, key) : '';
    if (emit) emit(this.#peerEvent('route-withdraw', peer, text, old.pathId, reason, false));
    this.#update(m, slot, key, old, undefined, text);
    this.store.release(old.attributes);
  }

  /**
   * Withdraw the peer's routes (only the stale ones with `onlyStale`), of
   * one family or both.
   */
  #dropRoutes(peer: PeerState, reason: WithdrawReason, onlyStale: boolean, afi: Afi | undefined): void {
    const left = () => (onlyStale ? peer.stale : peer.count[0] + peer.count[1]);
    for (const ai of [0, 1] as const) {
      if (afi !== undefined && AFI_INDEX(afi) !== ai) continue;
      const tables = this.#loc[ai];
      for (let len = 0; len < tables.length && peer.count[ai] > 0 && left() > 0; len++) {
        const m = tables[len];
        if (m === undefined || m.size === 0) continue;
        // Deleting or updating the entry being visited is safe while iterating a Map.
        for (const [key, slot] of m) {
          if (slot instanceof RibPath) {
            if (slot[PATH_SOURCE] === peer && (!onlyStale || slot.stale)) this.#removed(peer, ai, len, key, m, slot, slot, reason);
          } else {
            for (const p of slot.paths) {
              if (p[PATH_SOURCE] !== peer || (onlyStale && !p.stale)) continue;
              this.#removed(peer, ai, len, key, m, m.get(key)!, p, reason);
            }
          }
          if (peer.count[ai] === 0 || left() === 0) break;
        }
      }
    }
  }

  #markStale(peer: PeerState): void {
    for (const ai of [0, 1] as const) {
      const tables = this.#loc[ai];
      for (let len = 0; len < tables.length && peer.stale < peer.count[0] + peer.count[1]; len++) {
        const m = tables[len];
        if (m === undefined || m.size === 0) continue;
        for (const [key, slot] of m) {
          for (const p of slot instanceof RibPath ? [slot] : slot.paths) {
            if (p[PATH_SOURCE] !== peer || p.stale) continue;
            peer.stale++;
            this.#update(m, m.get(key)!, key, p, new RibPath(peer, p.attributes, p.pathId, true), this.#emit ? keyToText(ai, len, key) : '');
          }
        }
      }
    }
  }

  /**
   * Replace `old` by `rec` among the prefix's Loc-RIB candidates (either may
   * be absent), rerun the decision and report a best-path change.
   */
  #update(m: Map<Key, LocSlot>, slot: LocSlot | undefined, key: Key, old: RibPath | undefined, rec: RibPath | undefined, text: string): void {
    let next: LocSlot | undefined;
    if (slot === undefined) {
      next = rec;
    } else if (slot instanceof RibPath) {
      if (slot === old) next = rec;
      else if (rec === undefined) next = slot;
      else next = this.#rank([slot, rec]);
    } else {
      const paths = slot.paths.filter((p) => p !== old);
      if (rec !== undefined) paths.push(rec);
      next = paths.length === 1 ? paths[0] : this.#rank(paths);
    }
    if (next === undefined) {
      if (slot !== undefined) {
        m.delete(key);
        this.#prefixes--;
      }
    } else {
      if (slot === undefined) this.#prefixes++;
      m.set(key, next);
    }
    const emit = this.#emit;
    if (emit && !sameInstalled(slot, next)) {
      emit({
        type: 'best-path-change',
        seq: ++this.#seq,
        time: this.#clock.now(),
        vnet: this.vnet,
        prefix: text,
        best: bestOf(next),
        previous: bestOf(slot),
        ecmp: ecmpCount(next),
      });
    }
  }

  #rank(paths: RibPath[]): RankedPaths {
    const { ordered, ecmp } = rankPaths(paths, this.ecmpMax);
    return new RankedPaths(ordered, ecmp);
  }

  #peerEvent(
    type: 'route-announce' | 'route-withdraw',
    peer: PeerState,
    prefix: string,
    pathId: number | undefined,
    detail: RouteAttributes | WithdrawReason,
    replaced: boolean,
  ): RouteEvent {
    const base = {
      seq: ++this.#seq,
      time: this.#clock.now(),
      vnet: this.vnet,
      router: peer.router,
      peer: peer.address,
      peerAs: peer.asn,
      prefix,
      ...(pathId !== undefined ? { pathId } : {}),
    };
    return type === 'route-announce'
      ? { type, ...base, attributes: detail as RouteAttributes, replaced }
      : { type, ...base, reason: detail as WithdrawReason };
  }
}

function adjRoute(prefix: Prefix, p: RibPath): AdjRibInRoute {
  return { prefix, ...(p.pathId !== undefined ? { pathId: p.pathId } : {}), attributes: p.attributes, stale: p.stale };
}

/** Validates a prefix handed to the RIB; returns the family index. */
function checkPrefix(p: Prefix): 0 | 1 {
  const ai = p.afi === Afi.IPV4 ? 0 : p.afi === Afi.IPV6 ? 1 : -1;
  if (ai < 0) throw new RibError(RibErrorCode.INVALID_PREFIX, 'prefix.afi', `prefix family ${String(p.afi)} is neither IPv4 (1) nor IPv6 (2)`);
  const bytes = ai === 0 ? 4 : 16;
  if (!(p.address instanceof Uint8Array) || p.address.length !== bytes) {
    throw new RibError(RibErrorCode.INVALID_PREFIX, 'prefix.address', `prefix address must be ${bytes} bytes for its family`);
  }
  if (!Number.isInteger(p.length) || p.length < 0 || p.length > bytes * 8) {
    throw new RibError(RibErrorCode.INVALID_PREFIX, 'prefix.length', `prefix length ${p.length} is outside 0..${bytes * 8}`);
  }
  return ai as 0 | 1;
}

/** True when the IPv6 key `k` lies within the prefix whose key is `w` and length `wlen`. */
function v6KeyWithin(k: string, w: string, wlen: number): boolean {
  const full = wlen >> 4;
  for (let i = 0; i < full; i++) if (k.charCodeAt(i) !== w.charCodeAt(i)) return false;
  const rem = wlen & 15;
  if (rem === 0) return true;
  const mask = (0xffff << (16 - rem)) & 0xffff;
  return (k.charCodeAt(full) & mask) === w.charCodeAt(full);
}

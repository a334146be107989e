import type { RouteAttributes } from '../../core/types.js';
import { RibError, RibErrorCode } from './errors.js';

interface Entry {
  readonly attrs: RouteAttributes;
  readonly key: string;
  refs: number;
  /** Sweep generation the entry was created in; unreferenced entries survive one sweep. */
  gen: number;
}

/**
 * Keys built by {@link AttributeStore.internValue} start with a character that
 * no latin1 string (the session layer's raw attribute bytes) can contain, so
 * the two key spaces never collide.
 */
const VALUE_KEY_TAG = '\u0100';

/** A sweep runs after this many new sets (or half the store's size, if larger). */
const SWEEP_MIN = 4096;

/**
 * Interns {@link RouteAttributes}: every route carrying the same attributes
 * shares one deeply frozen object, so a full table costs one attribute set
 * per distinct UPDATE rather than one per route.
 *
 * Holders count their references with {@link retain} / {@link release}; a set
 * whose count drops to zero is forgotten. A set interned and never retained
 * (say, its routes were all rejected) is dropped by a later {@link sweep},
 * which also runs by itself once enough of them accumulate.
 */
export class AttributeStore {
  #byKey = new Map<string, Entry>();
  #byAttrs = new Map<RouteAttributes, Entry>();
  #gen = 0;
  /** Sets created since the last sweep. */
  #created = 0;

  /** Number of distinct attribute sets held. */
  get size(): number {
    return this.#byAttrs.size;
  }

  /**
   * The shared attribute set for `key` (a caller-chosen identity, e.g. the
   * raw attribute bytes as latin1 plus the next hop), built by `make` the
   * first time. The result is frozen; compare attribute sets by identity.
   */
  intern(key: string, make: () => RouteAttributes): RouteAttributes {
    const hit = this.#byKey.get(key);
    if (hit) return hit.attrs;
    const made = make();
    const known = this.#byAttrs.get(made);
    if (known) return known.attrs;
    const attrs = deepFreeze(made);
    const entry: Entry = { attrs, key, refs: 0, gen: this.#gen };
    this.#byKey.set(key, entry);
    this.#byAttrs.set(attrs, entry);
    // Sweeping costs O(size), so wait for that many creations: amortised O(1) per intern.
    if (++this.#created > Math.max(SWEEP_MIN, this.#byAttrs.size >> 1)) this.sweep();
    return attrs;
  }

  /**
   * The shared attribute set equal in value to `attrs` (which may be any
   * object, e.g. one decoded from MRT). Returns `attrs` itself when it is
   * already interned here.
   */
  internValue(attrs: RouteAttributes): RouteAttributes {
    if (this.#byAttrs.has(attrs)) return attrs;
    return this.intern(canonicalKey(attrs), () => copyAttributes(attrs));
  }

  /** True when `attrs` is an attribute set held by this store. */
  has(attrs: RouteAttributes): boolean {
    return this.#byAttrs.has(attrs);
  }

  /** References counted for `attrs` (0 when unknown). */
  refs(attrs: RouteAttributes): number {
    return this.#byAttrs.get(attrs)?.refs ?? 0;
  }

  /** Count one more holder of an interned set. */
  retain(attrs: RouteAttributes): void {
    const e = this.#byAttrs.get(attrs);
    if (!e) throw new RibError(RibErrorCode.NOT_INTERNED, 'attributes', 'retain() of attributes that were not interned by this store');
    e.refs++;
  }

  /** Drop one holder; the set is forgotten when none remain. Unknown sets are ignored. */
  release(attrs: RouteAttributes): void {
    const e = this.#byAttrs.get(attrs);
    if (!e || e.refs === 0) return;
    if (--e.refs === 0) this.#forget(e);
  }

  /** Intern by value and retain in one step; returns the shared set. */
  adopt(attrs: RouteAttributes): RouteAttributes {
    let e = this.#byAttrs.get(attrs);
    if (!e) e = this.#byAttrs.get(this.internValue(attrs))!;
    e.refs++;
    return e.attrs;
  }

  /**
   * Forget sets nobody retained that were interned before the previous sweep
   * (a set interned just now is left alone so its caller can still retain it).
   * Returns how many were dropped.
   */
  sweep(): number {
    let dropped = 0;
    for (const e of this.#byAttrs.values()) {
      if (e.refs === 0 && e.gen < this.#gen) {
        this.#forget(e);
        dropped++;
      }
    }
    this.#gen++;
    this.#created = 0;
    return dropped;
  }

  #forget(e: Entry): void {
    this.#byAttrs.delete(e.attrs);
    if (this.#byKey.get(e.key) === e) this.#byKey.delete(e.key);
  }
}

function deepFreeze(a: RouteAttributes): RouteAttributes {
  if (Object.isFrozen(a)) return a;
  for (const s of a.asPath) {
    Object.freeze(s.asns);
    Object.freeze(s);
  }
  Object.freeze(a.asPath);
  Object.freeze(a.communities);
  Object.freeze(a.extendedCommunities);
  for (const l of a.largeCommunities) Object.freeze(l);
  Object.freeze(a.largeCommunities);
  Object.freeze(a.clusterList);
  // Typed arrays cannot be frozen; the opaque records around them can.
  for (const u of a.unknown) Object.freeze(u);
  Object.freeze(a.unknown);
  if (a.aggregator) Object.freeze(a.aggregator);
  return Object.freeze(a);
}

function copyAttributes(a: RouteAttributes): RouteAttributes {
  return {
    origin: a.origin,
    asPath: a.asPath.map((s) => ({ type: s.type, asns: [...s.asns] })),
    nextHop: a.nextHop,
    nextHopLinkLocal: a.nextHopLinkLocal,
    med: a.med,
    localPref: a.localPref,
    atomicAggregate: a.atomicAggregate,
    aggregator: a.aggregator ? { asn: a.aggregator.asn, address: a.aggregator.address } : null,
    communities: [...a.communities],
    extendedCommunities: [...a.extendedCommunities],
    largeCommunities: a.largeCommunities.map((l) => [l[0], l[1], l[2]] as const),
    originatorId: a.originatorId,
    clusterList: [...a.clusterList],
    unknown: a.unknown.map((u) => ({ flags: u.flags, code: u.code, value: u.value.slice() })),
  };
}

function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return s;
}

/** A string equal for two attribute sets exactly when they are equal in value. */
export function canonicalKey(a: RouteAttributes): string {
  let k = VALUE_KEY_TAG + a.origin + '|';
  for (const s of a.asPath) k += s.type + ':' + s.asns.join(',') + ' ';
  k += '|' + (a.nextHop ?? '-') + '|' + (a.nextHopLinkLocal ?? '-');
  k += '|' + (a.med ?? '-') + '|' + (a.localPref ?? '-') + '|' + (a.atomicAggregate ? 1 : 0);
  k += '|' + (a.aggregator ? `${a.aggregator.asn}@${a.aggregator.address}` : '-');
  k += '|' + a.communities.join(',') + '|' + a.extendedCommunities.join(',');
  k += '|' + a.largeCommunities.map((l) => l.join(':')).join(',');
  k += '|' + (a.originatorId ?? '-') + '|' + a.clusterList.join(',') + '|';
  for (const u of a.unknown) k += `${u.flags}/${u.code}/${hex(u.value)},`;
  return k;
}

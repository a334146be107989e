/**
 * The BGP decision process, RFC 4271 §9.1.2.2, over the candidate paths of
 * one prefix. Kept free of RIB storage so it can be read against the RFC.
 */
import { AsPathSegmentType, type RouteAttributes } from '../../core/types.js';

/**
 * LOCAL_PREF assumed when a path carries none (eBGP-learned routes never
 * do). 100 is the value BIRD, FRR, GoBGP and Cisco use by default.
 */
export const DEFAULT_LOCAL_PREF = 100;

/** MED assumed when absent: RFC 4271 §9.1.2.2 (c) says the lowest value, 0. */
export const DEFAULT_MED = 0;

/** Neighbour AS of a path with no AS outside confederation segments (a route of the local AS). */
export const LOCAL_NEIGHBOR_AS = -1;

/** What the decision needs to know about the peer a path came from. */
export interface DecisionPeer {
  readonly ibgp: boolean;
  /** BGP identifier as an unsigned 32-bit number. */
  readonly bgpIdNum: number;
  /** Peer address bytes as a string whose order is the numeric order (IPv4 before IPv6). */
  readonly addressKey: string;
}

/**
 * Key of a path's source peer. A symbol, so the peer's internals stay out of
 * JSON and structured clones of the path when it travels in an event.
 */
export const PATH_SOURCE: unique symbol = Symbol('shadownet.rib.pathSource');

/** A candidate path as the decision sees it. */
export interface Candidate {
  readonly attributes: RouteAttributes;
  readonly stale: boolean;
  readonly pathId: number | undefined;
  readonly [PATH_SOURCE]: DecisionPeer;
}

/**
 * AS_PATH length for the decision: an AS_SET counts 1 however many ASes it
 * holds (RFC 4271 §9.1.2.2 (a)), confederation segments count 0 (RFC 5065 §5.3).
 */
export function asPathLength(a: RouteAttributes): number {
  let n = 0;
  for (const s of a.asPath) {
    if (s.type === AsPathSegmentType.AS_SEQUENCE) n += s.asns.length;
    else if (s.type === AsPathSegmentType.AS_SET) n += 1;
  }
  return n;
}

/**
 * The neighbouring AS MEDs are compared within (RFC 4271 §9.1.2.2 (c)): the
 * first AS of the path once leading confederation segments are skipped;
 * {@link LOCAL_NEIGHBOR_AS} when there is none.
 */
export function neighborAs(a: RouteAttributes): number {
  for (const s of a.asPath) {
    if (s.type === AsPathSegmentType.AS_CONFED_SEQUENCE || s.type === AsPathSegmentType.AS_CONFED_SET) continue;
    return s.asns.length > 0 ? s.asns[0] : LOCAL_NEIGHBOR_AS;
  }
  return LOCAL_NEIGHBOR_AS;
}

function ipv4Number(s: string): number {
  const p = s.split('.');
  if (p.length !== 4) return 0;
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

/** BGP identifier for the tie-break: ORIGINATOR_ID when present (RFC 4456 §9), else the peer's. */
function routerId(c: Candidate): number {
  const o = c.attributes.originatorId;
  return o === null ? c[PATH_SOURCE].bgpIdNum : ipv4Number(o);
}

/** Steps (f)–(g) and a final, deterministic order among ADD-PATH paths of one peer. */
export function compareTieBreak(a: Candidate, b: Candidate): number {
  const ra = routerId(a);
  const rb = routerId(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  const pa = a[PATH_SOURCE].addressKey;
  const pb = b[PATH_SOURCE].addressKey;
  if (pa !== pb) return pa < pb ? -1 : 1;
  return (a.pathId ?? -1) - (b.pathId ?? -1);
}

/**
 * The paths that survive every step up to and including "eBGP over iBGP",
 * i.e. the set equal in cost to the best. Steps, in the RFC's order:
 * stale paths (RFC 4724 graceful restart) lose to fresh ones; highest
 * LOCAL_PREF; shortest AS_PATH; lowest ORIGIN; MED per neighbour AS; eBGP
 * over iBGP. There is no IGP cost step: next hops are not resolved here.
 *
 * MED is not transitive, so it is applied the way the RFC describes: group
 * the remaining paths by neighbour AS and drop each path whose MED is above
 * its group's lowest. The outcome does not depend on the order of `paths`.
 */
export function equalCostSet<C extends Candidate>(paths: readonly C[]): C[] {
  let s: C[] = paths.slice();
  let fresh = 0;
  for (const p of s) if (!p.stale) fresh++;
  if (fresh > 0 && fresh < s.length) s = s.filter((p) => !p.stale);

  let bestLp = -Infinity;
  for (const p of s) bestLp = Math.max(bestLp, p.attributes.localPref ?? DEFAULT_LOCAL_PREF);
  s = s.filter((p) => (p.attributes.localPref ?? DEFAULT_LOCAL_PREF) === bestLp);

  if (s.length > 1) {
    let shortest = Infinity;
    for (const p of s) shortest = Math.min(shortest, asPathLength(p.attributes));
    s = s.filter((p) => asPathLength(p.attributes) === shortest);
  }

  if (s.length > 1) {
    let lowest = Infinity;
    for (const p of s) lowest = Math.min(lowest, p.attributes.origin);
    s = s.filter((p) => p.attributes.origin === lowest);
  }

  if (s.length > 1) {
    const minMed = new Map<number, number>();
    for (const p of s) {
      const nas = neighborAs(p.attributes);
      const med = p.attributes.med ?? DEFAULT_MED;
      const cur = minMed.get(nas);
      if (cur === undefined || med < cur) minMed.set(nas, med);
    }
    if (minMed.size < s.length) s = s.filter((p) => (p.attributes.med ?? DEFAULT_MED) === minMed.get(neighborAs(p.attributes)));
  }

  if (s.length > 1) {
    let ebgp = 0;
    for (const p of s) if (!p[PATH_SOURCE].ibgp) ebgp++;
    if (ebgp > 0 && ebgp < s.length) s = s.filter((p) => !p[PATH_SOURCE].ibgp);
  }

  return s;
}

/**
 * Orders every candidate, best first. The first group is {@link equalCostSet}
 * sorted by the tie-break; the rest follow as the best of what remains, group
 * by group, so the order is the one the decision would take if better paths
 * went away. `ecmp` is the size of the first group, capped at `ecmpMax`.
 */
export function rankPaths<C extends Candidate>(paths: readonly C[], ecmpMax: number): { ordered: C[]; ecmp: number } {
  const ordered: C[] = [];
  let rest: C[] = paths.slice();
  let ecmp = 0;
  while (rest.length > 0) {
    const group = rest.length === 1 ? rest : equalCostSet(rest).sort(compareTieBreak);
    if (ordered.length === 0) ecmp = Math.max(1, Math.min(group.length, ecmpMax));
    for (const p of group) ordered.push(p);
    if (group.length === rest.length) break;
    const taken = new Set<C>(group);
    rest = rest.filter((p) => !taken.has(p));
  }
  return { ordered, ecmp };
}

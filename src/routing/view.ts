/**
 * JSON views of routing state, as the API, the CLI (`--json`) and scripts see
 * them. Attributes are rendered in the notation operators use (communities as
 * `65000:100`, AS paths as `65001 65002 {65003,65004}`).
 */
import { originName, type PathSummary, type RouteAttributes, type RouteEvent } from '../core/index.js';
import { formatAsPath, formatCommunity, formatLargeCommunity } from '../wire/bgp/index.js';

export interface RouteAttributesJson {
  origin: string;
  asPath: string;
  asPathSegments: { type: 'set' | 'sequence' | 'confed-sequence' | 'confed-set'; asns: number[] }[];
  nextHop: string | null;
  nextHopLinkLocal?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: true;
  aggregator?: { asn: number; address: string };
  communities?: string[];
  extendedCommunities?: string[];
  largeCommunities?: string[];
  originatorId?: string;
  clusterList?: string[];
  unknown?: { code: number; flags: number; value: string }[];
}

export interface PathJson {
  router: string;
  peer: string;
  peerAs: number;
  pathId?: number;
  stale?: true;
  attributes: RouteAttributesJson;
}

export interface RouteView {
  vnet: string;
  prefix: string;
  best: PathJson;
  /** Number of equal-cost paths installed. */
  ecmp: number;
  /** Every candidate path, best first. */
  paths: PathJson[];
}

const SEGMENT_NAMES = { 1: 'set', 2: 'sequence', 3: 'confed-sequence', 4: 'confed-set' } as const;

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export function attributesToJson(a: RouteAttributes): RouteAttributesJson {
  const out: RouteAttributesJson = {
    origin: originName(a.origin),
    asPath: formatAsPath(a.asPath),
    asPathSegments: a.asPath.map((s) => ({ type: SEGMENT_NAMES[s.type] ?? 'sequence', asns: [...s.asns] })),
    nextHop: a.nextHop,
  };
  if (a.nextHopLinkLocal) out.nextHopLinkLocal = a.nextHopLinkLocal;
  if (a.med !== null) out.med = a.med;
  if (a.localPref !== null) out.localPref = a.localPref;
  if (a.atomicAggregate) out.atomicAggregate = true;
  if (a.aggregator) out.aggregator = { ...a.aggregator };
  if (a.communities.length) out.communities = a.communities.map(formatCommunity);
  if (a.extendedCommunities.length) out.extendedCommunities = [...a.extendedCommunities];
  if (a.largeCommunities.length) out.largeCommunities = a.largeCommunities.map(formatLargeCommunity);
  if (a.originatorId) out.originatorId = a.originatorId;
  if (a.clusterList.length) out.clusterList = [...a.clusterList];
  if (a.unknown.length) out.unknown = a.unknown.map((u) => ({ code: u.code, flags: u.flags, value: hex(u.value) }));
  return out;
}

export function pathToJson(p: PathSummary): PathJson {
  const out: PathJson = { router: p.router, peer: p.peer, peerAs: p.peerAs, attributes: attributesToJson(p.attributes) };
  if (p.pathId !== undefined) out.pathId = p.pathId;
  if (p.stale) out.stale = true;
  return out;
}

/** A RouteEvent as JSON (attributes rendered as in {@link attributesToJson}). */
export function routeEventToJson(e: RouteEvent): Record<string, unknown> {
  switch (e.type) {
    case 'route-announce':
      return { ...e, attributes: attributesToJson(e.attributes) };
    case 'best-path-change':
      return { ...e, best: e.best && pathToJson(e.best), previous: e.previous && pathToJson(e.previous) };
    default:
      return { ...e };
  }
}


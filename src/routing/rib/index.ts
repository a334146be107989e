/** Routing information bases: per-vnet Adj-RIBs-In and Loc-RIB, best path, attribute interning. */
export { AttributeStore, canonicalKey } from './attribute-store.js';
export {
  VnetRib,
  DEFAULT_ECMP_MAX,
  type RibPeer,
  type LocRibEntry,
  type AdjRibInRoute,
  type RibStats,
  type VnetRibOptions,
} from './vnet-rib.js';
export { DEFAULT_LOCAL_PREF, DEFAULT_MED, LOCAL_NEIGHBOR_AS, asPathLength, neighborAs, equalCostSet, rankPaths, compareTieBreak } from './decision.js';
export { RibError, RibErrorCode } from './errors.js';

/**
 * Types every component shares. Routing facts travel as {@link RouteEvent}s
 * on the bus; their attributes are {@link RouteAttributes}, interned by the
 * RII so that routes carrying the same attributes share one object.
 */

export const Origin = { IGP: 0, EGP: 1, INCOMPLETE: 2 } as const;
export type Origin = (typeof Origin)[keyof typeof Origin];
export const originName = (o: number): string =>
  o === 0 ? 'igp' : o === 1 ? 'egp' : o === 2 ? 'incomplete' : `UNKNOWN_${o}`;

/** AS_PATH segment types (RFC 4271 §4.3, RFC 5065 for confederations). */
export const AsPathSegmentType = { AS_SET: 1, AS_SEQUENCE: 2, AS_CONFED_SEQUENCE: 3, AS_CONFED_SET: 4 } as const;
export type AsPathSegmentType = (typeof AsPathSegmentType)[keyof typeof AsPathSegmentType];

export interface AsPathSegment {
  readonly type: AsPathSegmentType;
  readonly asns: readonly number[];
}

/** An attribute shadownet does not interpret, kept byte-exact. */
export interface OpaqueAttribute {
  readonly flags: number;
  readonly code: number;
  readonly value: Uint8Array;
}

/**
 * The path attributes of a route, normalised for decisions and display.
 * Instances are interned and immutable: compare by identity.
 */
export interface RouteAttributes {
  readonly origin: Origin;
  /** AS_PATH after AS4_PATH reconciliation (RFC 6793 §4.2.3): always 4-octet ASNs. */
  readonly asPath: readonly AsPathSegment[];
  /** NEXT_HOP, or the global next hop of MP_REACH_NLRI; null when absent. */
  readonly nextHop: string | null;
  /** IPv6 link-local next hop when MP_REACH carried two. */
  readonly nextHopLinkLocal: string | null;
  readonly med: number | null;
  readonly localPref: number | null;
  readonly atomicAggregate: boolean;
  readonly aggregator: { readonly asn: number; readonly address: string } | null;
  /** RFC 1997 communities as unsigned 32-bit numbers (high 16 bits = ASN). */
  readonly communities: readonly number[];
  /** RFC 4360 extended communities, each 8 bytes as 16 lowercase hex digits. */
  readonly extendedCommunities: readonly string[];
  /** RFC 8092 large communities as [global admin, local 1, local 2]. */
  readonly largeCommunities: readonly (readonly [number, number, number])[];
  readonly originatorId: string | null;
  readonly clusterList: readonly string[];
  /** Optional attributes not interpreted; transitive ones are passed on with the partial bit set. */
  readonly unknown: readonly OpaqueAttribute[];
}

export const SessionState = {
  IDLE: 'idle',
  CONNECT: 'connect',
  ACTIVE: 'active',
  OPEN_SENT: 'open-sent',
  OPEN_CONFIRM: 'open-confirm',
  ESTABLISHED: 'established',
} as const;
export type SessionState = (typeof SessionState)[keyof typeof SessionState];

/** Why a route left an Adj-RIB-In. */
export type WithdrawReason =
  | 'withdrawn'
  | 'treat-as-withdraw'
  | 'peer-down'
  | 'stale-expired'
  | 'route-refresh-cleared';

/** Why a route was refused before it reached the RIB. */
export type RejectReason = 'outside-accepted-ranges' | 'max-prefix' | 'afi-not-negotiated';

/** A path as the best-path events and queries present it. */
export interface PathSummary {
  readonly router: string;
  readonly peer: string;
  readonly peerAs: number;
  readonly pathId?: number;
  readonly attributes: RouteAttributes;
  /** True while held only because of graceful restart. */
  readonly stale?: boolean;
}

interface EventBase {
  /** Per-vnet sequence number: events of one vnet are totally ordered. */
  readonly seq: number;
  /** Clock time (ms since epoch) when the RII produced the event. */
  readonly time: number;
  readonly vnet: string;
}

interface PeerEventBase extends EventBase {
  readonly router: string;
  /** Peer address as configured. */
  readonly peer: string;
  readonly peerAs: number;
}

export type RouteEvent =
  | (PeerEventBase & {
      readonly type: 'route-announce';
      readonly prefix: string;
      readonly pathId?: number;
      readonly attributes: RouteAttributes;
      /** True when it replaced a route from the same peer for the same prefix. */
      readonly replaced: boolean;
    })
  | (PeerEventBase & {
      readonly type: 'route-withdraw';
      readonly prefix: string;
      readonly pathId?: number;
      readonly reason: WithdrawReason;
    })
  | (PeerEventBase & {
      readonly type: 'route-rejected';
      readonly prefix: string;
      readonly reason: RejectReason;
    })
  | (EventBase & {
      readonly type: 'best-path-change';
      readonly prefix: string;
      /** The new best path, or null when the prefix left the Loc-RIB. */
      readonly best: PathSummary | null;
      readonly previous: PathSummary | null;
      /** Number of equal-cost paths installed (0 when none). */
      readonly ecmp: number;
    })
  | (PeerEventBase & {
      readonly type: 'session-state';
      readonly from: SessionState;
      readonly to: SessionState;
      /** kebab-case reason, e.g. `hold-timer-expired`, `notification-received`. */
      readonly reason: string;
      readonly notification?: { readonly code: number; readonly subcode: number; readonly data: string };
    });

export type RouteEventType = RouteEvent['type'];

/** Bus topic for a virtual network's routing events. Subscribe to `routing.events.>` for all. */
export const routeEventTopic = (vnet: string): string => `routing.events.${vnet}`;

/**
 * Route attributes with every field at its "absent" value, overridden by
 * `fields`; `asSequence` is a shorthand for an AS_PATH of one AS_SEQUENCE.
 * For code that originates routes (appliances, replays) and for tests.
 */
export function routeAttributes(fields: Partial<RouteAttributes> & { asSequence?: readonly number[] } = {}): RouteAttributes {
  const { asSequence, ...rest } = fields;
  return {
    origin: Origin.IGP,
    asPath: asSequence ? [{ type: AsPathSegmentType.AS_SEQUENCE, asns: asSequence }] : [],
    nextHop: null,
    nextHopLinkLocal: null,
    med: null,
    localPref: null,
    atomicAggregate: false,
    aggregator: null,
    communities: [],
    extendedCommunities: [],
    largeCommunities: [],
    originatorId: null,
    clusterList: [],
    unknown: [],
    ...rest,
  };
}

/**
 * BGP-4 message and attribute model (RFC 4271 and its extensions). These are
 * wire-faithful values: what a message says, before any session state is
 * applied. Normalised route attributes live in core (`RouteAttributes`).
 */
import type { Afi, AsPathSegment, Prefix } from '../../core/index.js';

/** RFC 4271 §4.1 message types, plus RFC 2918 ROUTE-REFRESH. */
export const MessageType = { OPEN: 1, UPDATE: 2, NOTIFICATION: 3, KEEPALIVE: 4, ROUTE_REFRESH: 5 } as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const Safi = { UNICAST: 1, MULTICAST: 2, FLOWSPEC: 133 } as const;
export type Safi = (typeof Safi)[keyof typeof Safi];

/** Header is 19 bytes; a message is at most 4096 bytes (RFC 4271 §4.1) unless RFC 8654 is negotiated. */
export const HEADER_LENGTH = 19;
export const MAX_MESSAGE_LENGTH = 4096;
export const MAX_EXTENDED_MESSAGE_LENGTH = 65535;

/** AS_TRANS (RFC 6793 §9). */
export const AS_TRANS = 23456;

export const CapabilityCode = {
  MULTIPROTOCOL: 1,
  ROUTE_REFRESH: 2,
  EXTENDED_NEXT_HOP: 5,
  EXTENDED_MESSAGE: 6,
  GRACEFUL_RESTART: 64,
  FOUR_OCTET_AS: 65,
  ADD_PATH: 69,
  ENHANCED_ROUTE_REFRESH: 70,
  LONG_LIVED_GRACEFUL_RESTART: 71,
  FQDN: 73,
  ROUTE_REFRESH_CISCO: 128,
} as const;

export type Capability =
  | { readonly type: 'multiprotocol'; readonly afi: number; readonly safi: number }
  /** `cisco` marks the pre-standard code 128 form, kept so it re-encodes as it came. */
  | { readonly type: 'route-refresh'; readonly cisco?: boolean }
  | { readonly type: 'four-octet-as'; readonly asn: number }
  | {
      readonly type: 'graceful-restart';
      /** R bit: the sender has restarted. */
      readonly restarting: boolean;
      /** N bit (RFC 8538). */
      readonly notification: boolean;
      /** Seconds, 12 bits. */
      readonly restartTime: number;
      readonly families: readonly { readonly afi: number; readonly safi: number; readonly forwardingPreserved: boolean }[];
    }
  | {
      readonly type: 'add-path';
      /** sendReceive: 1 = receive, 2 = send, 3 = both (RFC 7911 §4). */
      readonly families: readonly { readonly afi: number; readonly safi: number; readonly sendReceive: number }[];
    }
  | { readonly type: 'enhanced-route-refresh' }
  | { readonly type: 'extended-message' }
  /** Any other capability, kept byte-exact. */
  | { readonly type: 'unknown'; readonly code: number; readonly value: Uint8Array };

export interface OpenMessage {
  readonly type: 'open';
  readonly version: number;
  /** The 2-octet My Autonomous System field (AS_TRANS when the real ASN needs 4 octets). */
  readonly myAs: number;
  readonly holdTime: number;
  /** BGP Identifier, dotted quad. */
  readonly bgpId: string;
  readonly capabilities: readonly Capability[];
  /** Optional parameters other than capabilities (type != 2), kept byte-exact. */
  readonly otherParameters?: readonly { readonly type: number; readonly value: Uint8Array }[];
}

/** A prefix carried in NLRI; `pathId` present when ADD-PATH (RFC 7911) applies. */
export interface NlriPrefix extends Prefix {
  readonly pathId?: number;
}

export const AttrFlag = { OPTIONAL: 0x80, TRANSITIVE: 0x40, PARTIAL: 0x20, EXTENDED_LENGTH: 0x10 } as const;

/** Path attribute type codes (IANA "BGP Path Attributes"). */
export const AttrCode = {
  ORIGIN: 1,
  AS_PATH: 2,
  NEXT_HOP: 3,
  MULTI_EXIT_DISC: 4,
  LOCAL_PREF: 5,
  ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7,
  COMMUNITIES: 8,
  ORIGINATOR_ID: 9,
  CLUSTER_LIST: 10,
  MP_REACH_NLRI: 14,
  MP_UNREACH_NLRI: 15,
  EXTENDED_COMMUNITIES: 16,
  AS4_PATH: 17,
  AS4_AGGREGATOR: 18,
  LARGE_COMMUNITY: 32,
} as const;
export type AttrCode = (typeof AttrCode)[keyof typeof AttrCode];

/**
 * One path attribute as it stood on the wire. `flags` is kept so an attribute
 * re-encodes byte-exact (including the extended-length bit).
 */
export type PathAttribute =
  | { readonly type: 'origin'; readonly flags: number; readonly value: number }
  | { readonly type: 'as-path'; readonly flags: number; readonly segments: readonly AsPathSegment[]; readonly asnBytes: 2 | 4 }
  | { readonly type: 'next-hop'; readonly flags: number; readonly nextHop: string }
  | { readonly type: 'med'; readonly flags: number; readonly value: number }
  | { readonly type: 'local-pref'; readonly flags: number; readonly value: number }
  | { readonly type: 'atomic-aggregate'; readonly flags: number }
  | { readonly type: 'aggregator'; readonly flags: number; readonly asn: number; readonly address: string; readonly asnBytes: 2 | 4 }
  | { readonly type: 'communities'; readonly flags: number; readonly communities: readonly number[] }
  | { readonly type: 'originator-id'; readonly flags: number; readonly id: string }
  | { readonly type: 'cluster-list'; readonly flags: number; readonly ids: readonly string[] }
  | {
      readonly type: 'mp-reach';
      readonly flags: number;
      readonly afi: number;
      readonly safi: number;
      /** Raw next-hop bytes (4, 16 or 32 for global + link-local). */
      readonly nextHop: Uint8Array;
      readonly nlri: readonly NlriPrefix[];
      /** Set when the AFI/SAFI is not one shadownet decodes: NLRI kept raw. */
      readonly rawNlri?: Uint8Array;
    }
  | {
      readonly type: 'mp-unreach';
      readonly flags: number;
      readonly afi: number;
      readonly safi: number;
      readonly withdrawn: readonly NlriPrefix[];
      readonly rawWithdrawn?: Uint8Array;
    }
  | { readonly type: 'extended-communities'; readonly flags: number; readonly communities: readonly Uint8Array[] }
  | { readonly type: 'as4-path'; readonly flags: number; readonly segments: readonly AsPathSegment[] }
  | { readonly type: 'as4-aggregator'; readonly flags: number; readonly asn: number; readonly address: string }
  | {
      readonly type: 'large-communities';
      readonly flags: number;
      readonly communities: readonly (readonly [number, number, number])[];
    }
  /** Any other attribute, kept byte-exact. */
  | { readonly type: 'unknown'; readonly flags: number; readonly code: number; readonly value: Uint8Array };

/** RFC 7606 §2 error-handling actions, weakest first. */
export const ErrorAction = {
  ATTRIBUTE_DISCARD: 'attribute-discard',
  TREAT_AS_WITHDRAW: 'treat-as-withdraw',
  AFI_SAFI_DISABLE: 'afi-safi-disable',
  SESSION_RESET: 'session-reset',
} as const;
export type ErrorAction = (typeof ErrorAction)[keyof typeof ErrorAction];

/** A problem in an UPDATE that RFC 7606 says need not reset the session. */
export interface UpdateIssue {
  readonly action: 'attribute-discard' | 'treat-as-withdraw';
  /** Attribute type code concerned, when one is. */
  readonly attrCode?: number;
  /** NOTIFICATION code/subcode that RFC 4271 would have sent (for logs and counters). */
  readonly code: number;
  readonly subcode: number;
  /** kebab-case reason, e.g. `origin-bad-value`. */
  readonly reason: string;
  /** Offset in the message body where the problem was found. */
  readonly offset: number;
}

export interface UpdateMessage {
  readonly type: 'update';
  /** IPv4 unicast withdrawn routes field. */
  readonly withdrawn: readonly NlriPrefix[];
  /** Attributes in wire order (after attribute-discard has dropped any). */
  readonly attributes: readonly PathAttribute[];
  /** IPv4 unicast NLRI field. */
  readonly nlri: readonly NlriPrefix[];
  /** Non-fatal problems found while decoding; empty for a clean UPDATE. */
  readonly issues: readonly UpdateIssue[];
}

export interface NotificationMessage {
  readonly type: 'notification';
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
}

export interface KeepaliveMessage {
  readonly type: 'keepalive';
}

export interface RouteRefreshMessage {
  readonly type: 'route-refresh';
  readonly afi: number;
  readonly safi: number;
  /** RFC 7313 message subtype (0 = normal request, 1 = BoRR, 2 = EoRR). */
  readonly subtype: number;
}

export interface UnknownMessage {
  readonly type: 'unknown';
  readonly code: number;
  readonly body: Uint8Array;
}

export type BgpMessage =
  | OpenMessage
  | UpdateMessage
  | NotificationMessage
  | KeepaliveMessage
  | RouteRefreshMessage
  | UnknownMessage;

/**
 * What decoding an UPDATE depends on from the session: negotiated at OPEN
 * time. Defaults: 2-octet ASNs, no ADD-PATH, 4096-byte messages.
 */
export interface DecodeContext {
  /** Both sides advertised the 4-octet AS capability (RFC 6793). */
  readonly fourOctetAs?: boolean;
  /** AFI/SAFI pairs for which NLRI carry a path identifier (RFC 7911), as `${afi}/${safi}`. */
  readonly addPathReceive?: ReadonlySet<string>;
  /** RFC 8654 extended messages negotiated. */
  readonly extendedMessage?: boolean;
  /**
   * MRT TABLE_DUMP_V2 RIB entries abbreviate MP_REACH_NLRI to the next-hop
   * length and next hop only (RFC 6396 §4.3.4).
   */
  readonly mpReachNextHopOnly?: boolean;
  /**
   * What to do with a message type this codec does not know. `reject` (the
   * default, for live sessions) throws Bad Message Type (RFC 4271 §6.1);
   * `keep` decodes it to `{ type: 'unknown' }` so readers of files can skip it.
   */
  readonly unknownMessageTypes?: 'reject' | 'keep';
  /**
   * Apply the OPEN checks of RFC 4271 §6.2 (version, hold time, BGP
   * Identifier, optional parameter types) while decoding. Default true;
   * readers of recorded OPENs (BMP, MRT) may turn it off.
   */
  readonly checkOpen?: boolean;
}

export type { Afi };

function nameIn(registry: Record<string, number>): (code: number) => string {
  const names = new Map<number, string>();
  for (const [k, v] of Object.entries(registry)) if (!names.has(v)) names.set(v, k);
  return (code) => names.get(code) ?? `UNKNOWN_${code}`;
}

/** `UPDATE`, `KEEPALIVE`, … or `UNKNOWN_<n>`. */
export const messageTypeName = nameIn(MessageType);
/** `FOUR_OCTET_AS`, … or `UNKNOWN_<n>`. */
export const capabilityCodeName = nameIn(CapabilityCode);
/** `AS_PATH`, `LARGE_COMMUNITY`, … or `UNKNOWN_<n>`. */
export const attrCodeName = nameIn(AttrCode);

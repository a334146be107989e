/**
 * From wire attributes to the normalised {@link RouteAttributes} every
 * component uses, and back for sending; plus the textual forms operators
 * know from bgpdump and BIRD.
 */
import { AS_TRANS, AttrCode, AttrFlag } from './types.js';
import type { DecodeContext, NlriPrefix, PathAttribute } from './types.js';
import { AsPathSegmentType, Origin } from '../../core/types.js';
import type { AsPathSegment, OpaqueAttribute, RouteAttributes } from '../../core/types.js';
import { formatAddress, parseAddress } from '../../core/prefix.js';
import { BgpEncodeError } from './errors.js';

const isConfed = (s: AsPathSegment): boolean =>
  s.type === AsPathSegmentType.AS_CONFED_SEQUENCE || s.type === AsPathSegmentType.AS_CONFED_SET;

/** RFC 4271 §9.1.2.2 a) path length: a set counts 1, confederation segments 0 (RFC 5065 §5.3). */
export function asPathLength(segments: readonly AsPathSegment[]): number {
  let n = 0;
  for (const s of segments) {
    if (s.type === AsPathSegmentType.AS_SEQUENCE) n += s.asns.length;
    else if (s.type === AsPathSegmentType.AS_SET) n += 1;
  }
  return n;
}

/**
 * RFC 6793 §4.2.3: rebuild the real path from AS_PATH (2-octet, AS_TRANS where
 * needed) and AS4_PATH. Returns AS_PATH unchanged when AS4_PATH must be ignored.
 */
export function mergeAs4Path(asPath: readonly AsPathSegment[], as4Path: readonly AsPathSegment[]): readonly AsPathSegment[] {
  // RFC 6793 §6: confederation segments in AS4_PATH are discarded.
  const as4 = as4Path.filter((s) => !isConfed(s));
  let keep = asPathLength(asPath) - asPathLength(as4);
  // RFC 6793 §4.2.3: an AS4_PATH longer than AS_PATH is ignored.
  if (keep < 0) return asPath;
  const out: AsPathSegment[] = [];
  for (const s of asPath) {
    if (keep === 0 && !isConfed(s)) break;
    if (isConfed(s)) out.push(s);
    else if (s.type === AsPathSegmentType.AS_SET) {
      out.push(s);
      keep -= 1;
    } else if (s.asns.length <= keep) {
      out.push(s);
      keep -= s.asns.length;
    } else {
      out.push({ type: s.type, asns: s.asns.slice(0, keep) });
      keep = 0;
    }
  }
  for (const s of as4) {
    const last = out[out.length - 1];
    // Join the leading part and AS4_PATH into one sequence where they meet.
    if (last && last.type === AsPathSegmentType.AS_SEQUENCE && s.type === AsPathSegmentType.AS_SEQUENCE && out.length > 0 && s === as4[0]) {
      out[out.length - 1] = { type: AsPathSegmentType.AS_SEQUENCE, asns: [...last.asns, ...s.asns] };
    } else out.push(s);
  }
  return out;
}

const hex = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return s;
};

/**
 * Normalise wire attributes. On a 2-octet session AS4_PATH and AS4_AGGREGATOR
 * are reconciled per RFC 6793 §4.2.3; on a 4-octet session they are ignored
 * (RFC 6793 §4.1: a NEW speaker never sends them to another NEW speaker).
 */
export function toRouteAttributes(attrs: readonly PathAttribute[], ctx: DecodeContext = {}): RouteAttributes {
  let origin: Origin = Origin.INCOMPLETE;
  let asPath: readonly AsPathSegment[] = [];
  let as4Path: readonly AsPathSegment[] | null = null;
  let nextHop: string | null = null;
  let nextHopLinkLocal: string | null = null;
  let mpNextHop: string | null = null;
  let med: number | null = null;
  let localPref: number | null = null;
  let atomicAggregate = false;
  let aggregator: { asn: number; address: string } | null = null;
  let as4Aggregator: { asn: number; address: string } | null = null;
  let communities: readonly number[] = [];
  let extendedCommunities: readonly string[] = [];
  let largeCommunities: readonly (readonly [number, number, number])[] = [];
  let originatorId: string | null = null;
  let clusterList: readonly string[] = [];
  const unknown: OpaqueAttribute[] = [];
  for (const a of attrs) {
    switch (a.type) {
      case 'origin':
        origin = a.value as Origin;
        break;
      case 'as-path':
        asPath = a.segments;
        break;
      case 'as4-path':
        as4Path = a.segments;
        break;
      case 'next-hop':
        nextHop = a.nextHop;
        break;
      case 'med':
        med = a.value;
        break;
      case 'local-pref':
        localPref = a.value;
        break;
      case 'atomic-aggregate':
        atomicAggregate = true;
        break;
      case 'aggregator':
        aggregator = { asn: a.asn, address: a.address };
        break;
      case 'as4-aggregator':
        as4Aggregator = { asn: a.asn, address: a.address };
        break;
      case 'communities':
        communities = a.communities;
        break;
      case 'extended-communities':
        extendedCommunities = a.communities.map(hex);
        break;
      case 'large-communities':
        largeCommunities = a.communities;
        break;
      case 'originator-id':
        originatorId = a.id;
        break;
      case 'cluster-list':
        clusterList = a.ids;
        break;
      case 'mp-reach': {
        const nh = a.nextHop;
        // RFC 2545 §3: 32 bytes are a global address followed by a link-local one.
        if (nh.length === 4) mpNextHop = formatAddress(nh, 0, 4);
        else if (nh.length === 16 || nh.length === 32) {
          mpNextHop = formatAddress(nh, 0, 16);
          if (nh.length === 32) nextHopLinkLocal = formatAddress(nh, 16, 16);
        }
        break;
      }
      case 'mp-unreach':
        break;
      case 'unknown':
        if ((a.flags & AttrFlag.OPTIONAL) !== 0) unknown.push({ flags: a.flags, code: a.code, value: a.value });
        break;
    }
  }
  if (!ctx.fourOctetAs) {
    // RFC 6793 §4.2.3: an AGGREGATOR whose ASN is not AS_TRANS means a 2-octet speaker
    // aggregated after the last 4-octet one: AS4_AGGREGATOR and AS4_PATH are ignored.
    if (aggregator && aggregator.asn !== AS_TRANS) {
      as4Path = null;
    } else if (aggregator && as4Aggregator) {
      aggregator = as4Aggregator;
    }
    if (as4Path) asPath = mergeAs4Path(asPath, as4Path);
  }
  // MP_REACH's next hop wins for the routes it carries; NEXT_HOP serves the NLRI field.
  const hop = mpNextHop ?? nextHop;
  return {
    origin,
    asPath,
    nextHop: hop,
    nextHopLinkLocal,
    med,
    localPref,
    atomicAggregate,
    aggregator,
    communities,
    extendedCommunities,
    largeCommunities,
    originatorId,
    clusterList,
    unknown,
  };
}

const WELL_KNOWN = AttrFlag.TRANSITIVE;
const OPT_TRANS = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE;

function needs4(segments: readonly AsPathSegment[]): boolean {
  for (const s of segments) for (const a of s.asns) if (a > 0xffff) return true;
  return false;
}

function hexToBytes(s: string): Uint8Array {
  if (!/^[0-9a-fA-F]{16}$/.test(s)) throw new BgpEncodeError(`extended community ${JSON.stringify(s)} is not 16 hex digits`);
  const b = new Uint8Array(8);
  for (let i = 0; i < 8; i++) b[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return b;
}

/**
 * Wire attributes for sending `ra`. IPv4 (`afi` 1) uses NEXT_HOP; IPv6 uses
 * MP_REACH_NLRI with `nlri` (global + link-local next hop when present). On a
 * 2-octet session ASNs above 65535 become AS_TRANS and AS4_PATH /
 * AS4_AGGREGATOR carry the real ones (RFC 6793 §4.2.2). Unknown optional
 * transitive attributes pass on with the Partial bit set (RFC 4271 §5);
 * unknown non-transitive ones are dropped.
 */
export function fromRouteAttributes(
  ra: RouteAttributes,
  opts: { readonly fourOctetAs: boolean; readonly afi: 1 | 2; readonly nlri?: readonly NlriPrefix[] },
): PathAttribute[] {
  const out: PathAttribute[] = [{ type: 'origin', flags: WELL_KNOWN, value: ra.origin }];
  const asnBytes = opts.fourOctetAs ? 4 : 2;
  out.push({ type: 'as-path', flags: WELL_KNOWN, segments: ra.asPath, asnBytes });
  if (opts.afi === 1 && ra.nextHop && !ra.nextHop.includes(':')) out.push({ type: 'next-hop', flags: WELL_KNOWN, nextHop: ra.nextHop });
  if (ra.med !== null) out.push({ type: 'med', flags: AttrFlag.OPTIONAL, value: ra.med });
  if (ra.localPref !== null) out.push({ type: 'local-pref', flags: WELL_KNOWN, value: ra.localPref });
  if (ra.atomicAggregate) out.push({ type: 'atomic-aggregate', flags: WELL_KNOWN });
  if (ra.aggregator) out.push({ type: 'aggregator', flags: OPT_TRANS, asn: ra.aggregator.asn, address: ra.aggregator.address, asnBytes });
  if (ra.communities.length > 0) out.push({ type: 'communities', flags: OPT_TRANS, communities: ra.communities });
  if (ra.originatorId) out.push({ type: 'originator-id', flags: AttrFlag.OPTIONAL, id: ra.originatorId });
  if (ra.clusterList.length > 0) out.push({ type: 'cluster-list', flags: AttrFlag.OPTIONAL, ids: ra.clusterList });
  if (opts.afi === 2 || (ra.nextHop && ra.nextHop.includes(':'))) {
    let g = ra.nextHop ? parseAddress(ra.nextHop) : new Uint8Array(16);
    if (g.length === 4) {
      // An IPv4 next hop for IPv6 routes travels IPv4-mapped (RFC 4291 §2.5.5.2).
      const mapped = new Uint8Array(16);
      mapped[10] = mapped[11] = 0xff;
      mapped.set(g, 12);
      g = mapped;
    }
    let nh = g;
    if (ra.nextHopLinkLocal) {
      nh = new Uint8Array(32);
      nh.set(g);
      nh.set(parseAddress(ra.nextHopLinkLocal), 16);
    }
    out.push({ type: 'mp-reach', flags: AttrFlag.OPTIONAL, afi: opts.afi, safi: 1, nextHop: nh, nlri: opts.nlri ?? [] });
  }
  if (ra.extendedCommunities.length > 0) {
    out.push({ type: 'extended-communities', flags: OPT_TRANS, communities: ra.extendedCommunities.map(hexToBytes) });
  }
  if (!opts.fourOctetAs) {
    if (needs4(ra.asPath)) {
      // RFC 6793 §4.2.2: AS4_PATH carries no confederation segments.
      out.push({ type: 'as4-path', flags: OPT_TRANS, segments: ra.asPath.filter((s) => !isConfed(s)) });
    }
    if (ra.aggregator && ra.aggregator.asn > 0xffff) {
      out.push({ type: 'as4-aggregator', flags: OPT_TRANS, asn: ra.aggregator.asn, address: ra.aggregator.address });
    }
  }
  if (ra.largeCommunities.length > 0) out.push({ type: 'large-communities', flags: OPT_TRANS, communities: ra.largeCommunities });
  for (const u of ra.unknown) {
    if ((u.flags & AttrFlag.OPTIONAL) === 0 || (u.flags & AttrFlag.TRANSITIVE) === 0) continue;
    if (u.code === AttrCode.MP_REACH_NLRI || u.code === AttrCode.MP_UNREACH_NLRI) continue;
    out.push({ type: 'unknown', flags: (u.flags | AttrFlag.PARTIAL) & ~AttrFlag.EXTENDED_LENGTH, code: u.code, value: u.value });
  }
  return out;
}

/** "65001 65002 {65003,65004}"; confederation segments as "(…)" and "[…]" (bgpdump style). */
export function formatAsPath(segments: readonly AsPathSegment[]): string {
  const parts: string[] = [];
  for (const s of segments) {
    if (s.asns.length === 0) continue;
    switch (s.type) {
      case AsPathSegmentType.AS_SEQUENCE:
        parts.push(s.asns.join(' '));
        break;
      case AsPathSegmentType.AS_SET:
        parts.push(`{${s.asns.join(',')}}`);
        break;
      case AsPathSegmentType.AS_CONFED_SEQUENCE:
        parts.push(`(${s.asns.join(' ')})`);
        break;
      case AsPathSegmentType.AS_CONFED_SET:
        parts.push(`[${s.asns.join(',')}]`);
        break;
    }
  }
  return parts.join(' ');
}

/** RFC 1997 community as "asn:value". */
export function formatCommunity(n: number): string {
  return `${n >>> 16}:${n & 0xffff}`;
}

/** RFC 8092 large community as "global:local1:local2". */
export function formatLargeCommunity(t: readonly [number, number, number]): string {
  return `${t[0]}:${t[1]}:${t[2]}`;
}

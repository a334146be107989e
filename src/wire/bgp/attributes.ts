/**
 * Path attributes (RFC 4271 §4.3, §5) with the revised error handling of
 * RFC 7606: a problem in one attribute becomes an {@link UpdateIssue}
 * (attribute-discard or treat-as-withdraw) where the RFC allows, and a
 * BgpDecodeError with action session-reset only where it does not.
 */
import { BgpEncodeError, NotificationCode, UpdateSubcode } from './errors.js';
import { fail, readU16, readU32, writeU16, writeU32 } from './header.js';
import { decodeNlriRun, encodeNlriRun, nlriRunLength, runHasPathIds } from './nlri.js';
import type { NlriErrorSite } from './nlri.js';
import { AttrCode, AttrFlag } from './types.js';
import type { DecodeContext, PathAttribute, UpdateIssue } from './types.js';
import type { AsPathSegment, AsPathSegmentType } from '../../core/types.js';
import { parseAddress } from '../../core/prefix.js';

const UPDATE_ERR = NotificationCode.UPDATE_MESSAGE;
const OPT = AttrFlag.OPTIONAL;
const TRANS = AttrFlag.TRANSITIVE;

/** Optional and Transitive bits each known attribute must carry (RFC 4271 §5, RFC 4760, 4360, 6793, 8092, 4456). */
const EXPECTED_FLAGS: Record<number, number> = {
  [AttrCode.ORIGIN]: TRANS,
  [AttrCode.AS_PATH]: TRANS,
  [AttrCode.NEXT_HOP]: TRANS,
  [AttrCode.MULTI_EXIT_DISC]: OPT,
  [AttrCode.LOCAL_PREF]: TRANS,
  [AttrCode.ATOMIC_AGGREGATE]: TRANS,
  [AttrCode.AGGREGATOR]: OPT | TRANS,
  [AttrCode.COMMUNITIES]: OPT | TRANS,
  [AttrCode.ORIGINATOR_ID]: OPT,
  [AttrCode.CLUSTER_LIST]: OPT,
  [AttrCode.MP_REACH_NLRI]: OPT,
  [AttrCode.MP_UNREACH_NLRI]: OPT,
  [AttrCode.EXTENDED_COMMUNITIES]: OPT | TRANS,
  [AttrCode.AS4_PATH]: OPT | TRANS,
  [AttrCode.AS4_AGGREGATOR]: OPT | TRANS,
  [AttrCode.LARGE_COMMUNITY]: OPT | TRANS,
};

/**
 * Attributes whose own specification says a malformed instance is simply
 * dropped: ATOMIC_AGGREGATE and AGGREGATOR (RFC 7606 §7.6, §7.7), AS4_PATH and
 * AS4_AGGREGATOR (RFC 6793 §6).
 */
const DISCARD_WHEN_MALFORMED = new Set<number>([
  AttrCode.ATOMIC_AGGREGATE,
  AttrCode.AGGREGATOR,
  AttrCode.AS4_PATH,
  AttrCode.AS4_AGGREGATOR,
]);

/** Thrown inside attribute decoding for a problem RFC 7606 lets the session survive. */
class AttrIssue {
  constructor(
    readonly subcode: number,
    readonly reason: string,
    readonly at: number,
    readonly action?: UpdateIssue['action'],
  ) {}
}

const mpSite: NlriErrorSite = { field: 'update.attributes.mp-nlri', subcode: UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR };

function mpMalformed(what: string, at: number): never {
  // RFC 7606 §7.11 / §5.3: a malformed MP_REACH_NLRI or MP_UNREACH_NLRI leaves the NLRI
  // unlocatable, so the session is reset (Optional Attribute Error, RFC 4760 §7).
  return fail(what, UPDATE_ERR, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, 'update.attributes.mp', at);
}

/** AFI/SAFI pairs whose NLRI are decoded into prefixes; others stay raw. */
const decodable = (afi: number, safi: number): afi is 1 | 2 => (afi === 1 || afi === 2) && (safi === 1 || safi === 2);

const familyKey = (afi: number, safi: number): string => `${afi}/${safi}`;

function decodeSegments(buf: Uint8Array, v: number, len: number, asnBytes: 2 | 4): AsPathSegment[] {
  const end = v + len;
  const segments: AsPathSegment[] = [];
  let o = v;
  while (o < end) {
    // RFC 7606 §7.2: a segment header that does not fit, a zero count, an unknown
    // type or a count that overruns the attribute make the AS_PATH malformed.
    if (o + 2 > end) throw new AttrIssue(UpdateSubcode.MALFORMED_AS_PATH, 'as-path-segment-truncated', o);
    const type = buf[o];
    const count = buf[o + 1];
    if (type < 1 || type > 4) throw new AttrIssue(UpdateSubcode.MALFORMED_AS_PATH, 'as-path-bad-segment-type', o);
    if (count === 0) throw new AttrIssue(UpdateSubcode.MALFORMED_AS_PATH, 'as-path-empty-segment', o + 1);
    o += 2;
    if (o + count * asnBytes > end) throw new AttrIssue(UpdateSubcode.MALFORMED_AS_PATH, 'as-path-segment-overrun', o - 1);
    const asns = new Array<number>(count);
    for (let i = 0; i < count; i++) {
      asns[i] = asnBytes === 4 ? readU32(buf, o) : readU16(buf, o);
      o += asnBytes;
    }
    segments.push({ type: type as AsPathSegmentType, asns });
  }
  return segments;
}

function segmentsLength(segments: readonly AsPathSegment[], asnBytes: 2 | 4): number {
  let n = 0;
  for (const s of segments) {
    const chunks = Math.max(1, Math.ceil(s.asns.length / 255));
    n += chunks * 2 + s.asns.length * asnBytes;
  }
  return n;
}

function encodeSegments(segments: readonly AsPathSegment[], asnBytes: 2 | 4, buf: Uint8Array, offset: number): void {
  let o = offset;
  for (const s of segments) {
    if (s.asns.length > 255 && s.type !== 2 && s.type !== 3) {
      throw new BgpEncodeError(`AS_PATH set segment of ${s.asns.length} ASNs cannot be split; at most 255 fit`);
    }
    // RFC 4271 §5.1.2: a sequence longer than 255 continues in further segments of the same type.
    for (let start = 0; start === 0 || start < s.asns.length; start += 255) {
      const part = Math.min(255, s.asns.length - start);
      buf[o] = s.type;
      buf[o + 1] = part;
      o += 2;
      for (let i = 0; i < part; i++) {
        const asn = s.asns[start + i];
        if (asnBytes === 2) writeU16(buf, o, asn > 0xffff ? 23456 : asn);
        else writeU32(buf, o, asn);
        o += asnBytes;
      }
    }
  }
}

function ipv4At(buf: Uint8Array, o: number): string {
  return `${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}`;
}

function writeIpv4(buf: Uint8Array, o: number, s: string, what: string): void {
  const a = parseAddress(s);
  if (a.length !== 4) throw new BgpEncodeError(`${what} ${s} is not an IPv4 address`);
  buf.set(a, o);
}

/**
 * Decode the value of one attribute in [v, v+len). Throws AttrIssue for a
 * problem the session survives, BgpDecodeError for one it does not.
 */
function decodeValue(code: number, flags: number, buf: Uint8Array, v: number, len: number, ctx: DecodeContext): PathAttribute {
  const lengthIs = (n: number, reason: string): void => {
    if (len !== n) throw new AttrIssue(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, reason, v);
  };
  const multipleOf = (n: number, reason: string): void => {
    if (len === 0 || len % n !== 0) throw new AttrIssue(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, reason, v);
  };
  switch (code) {
    case AttrCode.ORIGIN: {
      // RFC 7606 §7.1: wrong length or an undefined value → treat-as-withdraw.
      lengthIs(1, 'origin-bad-length');
      const value = buf[v];
      if (value > 2) throw new AttrIssue(UpdateSubcode.INVALID_ORIGIN_ATTRIBUTE, 'origin-bad-value', v);
      return { type: 'origin', flags, value };
    }
    case AttrCode.AS_PATH: {
      const asnBytes = ctx.fourOctetAs ? 4 : 2;
      return { type: 'as-path', flags, segments: decodeSegments(buf, v, len, asnBytes), asnBytes };
    }
    case AttrCode.NEXT_HOP:
      // RFC 7606 §7.3: NEXT_HOP of a length other than 4 → treat-as-withdraw.
      lengthIs(4, 'next-hop-bad-length');
      return { type: 'next-hop', flags, nextHop: ipv4At(buf, v) };
    case AttrCode.MULTI_EXIT_DISC:
      // RFC 7606 §7.4.
      lengthIs(4, 'med-bad-length');
      return { type: 'med', flags, value: readU32(buf, v) };
    case AttrCode.LOCAL_PREF:
      // RFC 7606 §7.5.
      lengthIs(4, 'local-pref-bad-length');
      return { type: 'local-pref', flags, value: readU32(buf, v) };
    case AttrCode.ATOMIC_AGGREGATE:
      // RFC 7606 §7.6: wrong length → attribute-discard.
      lengthIs(0, 'atomic-aggregate-bad-length');
      return { type: 'atomic-aggregate', flags };
    case AttrCode.AGGREGATOR: {
      // RFC 7606 §7.7: 6 bytes on a 2-octet session, 8 on a 4-octet one; else attribute-discard.
      const asnBytes = ctx.fourOctetAs ? 4 : 2;
      lengthIs(asnBytes + 4, 'aggregator-bad-length');
      const asn = asnBytes === 4 ? readU32(buf, v) : readU16(buf, v);
      return { type: 'aggregator', flags, asn, address: ipv4At(buf, v + asnBytes), asnBytes };
    }
    case AttrCode.COMMUNITIES: {
      // RFC 7606 §7.8: not a non-zero multiple of 4 → treat-as-withdraw.
      multipleOf(4, 'communities-bad-length');
      const communities = new Array<number>(len / 4);
      for (let i = 0; i < communities.length; i++) communities[i] = readU32(buf, v + i * 4);
      return { type: 'communities', flags, communities };
    }
    case AttrCode.ORIGINATOR_ID:
      // RFC 7606 §7.9.
      lengthIs(4, 'originator-id-bad-length');
      return { type: 'originator-id', flags, id: ipv4At(buf, v) };
    case AttrCode.CLUSTER_LIST: {
      // RFC 7606 §7.10.
      multipleOf(4, 'cluster-list-bad-length');
      const ids: string[] = [];
      for (let o = v; o < v + len; o += 4) ids.push(ipv4At(buf, o));
      return { type: 'cluster-list', flags, ids };
    }
    case AttrCode.MP_REACH_NLRI:
      return decodeMpReach(flags, buf, v, len, ctx);
    case AttrCode.MP_UNREACH_NLRI: {
      // RFC 4760 §4: AFI (2), SAFI (1), withdrawn routes.
      if (len < 3) mpMalformed(`MP_UNREACH_NLRI of ${len} bytes is shorter than AFI+SAFI`, v);
      const afi = readU16(buf, v);
      const safi = buf[v + 2];
      if (!decodable(afi, safi)) return { type: 'mp-unreach', flags, afi, safi, withdrawn: [], rawWithdrawn: buf.slice(v + 3, v + len) };
      const addPath = ctx.addPathReceive?.has(familyKey(afi, safi)) ?? false;
      return { type: 'mp-unreach', flags, afi, safi, withdrawn: decodeNlriRun(buf, v + 3, v + len, afi, addPath, mpSite) };
    }
    case AttrCode.EXTENDED_COMMUNITIES: {
      // RFC 7606 §7.14: not a non-zero multiple of 8 → treat-as-withdraw.
      multipleOf(8, 'extended-communities-bad-length');
      const communities: Uint8Array[] = [];
      for (let o = v; o < v + len; o += 8) communities.push(buf.slice(o, o + 8));
      return { type: 'extended-communities', flags, communities };
    }
    case AttrCode.AS4_PATH:
      return { type: 'as4-path', flags, segments: decodeSegments(buf, v, len, 4) };
    case AttrCode.AS4_AGGREGATOR:
      lengthIs(8, 'as4-aggregator-bad-length');
      return { type: 'as4-aggregator', flags, asn: readU32(buf, v), address: ipv4At(buf, v + 4) };
    case AttrCode.LARGE_COMMUNITY: {
      // RFC 8092 §6: not a non-zero multiple of 12 → treat-as-withdraw.
      multipleOf(12, 'large-communities-bad-length');
      const communities: (readonly [number, number, number])[] = [];
      for (let o = v; o < v + len; o += 12) communities.push([readU32(buf, o), readU32(buf, o + 4), readU32(buf, o + 8)] as const);
      return { type: 'large-communities', flags, communities };
    }
    default:
      if ((flags & OPT) === 0) {
        // RFC 4271 §6.3: a well-known attribute we do not recognise. RFC 7606 §2 prefers
        // keeping the session: the routes are withdrawn instead.
        throw new AttrIssue(UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, 'unrecognized-well-known-attribute', v - 3);
      }
      return { type: 'unknown', flags, code, value: buf.slice(v, v + len) };
  }
}

function decodeMpReach(flags: number, buf: Uint8Array, v: number, len: number, ctx: DecodeContext): PathAttribute {
  const end = v + len;
  // RFC 6396 §4.3.4: TABLE_DUMP_V2 abbreviates MP_REACH_NLRI to next-hop length + next hop.
  // Some writers store the full attribute anyway; the first byte tells which.
  if (ctx.mpReachNextHopOnly && len >= 1 && buf[v] === len - 1) {
    const nhLen = buf[v];
    const afi = nhLen === 4 ? 1 : 2;
    return { type: 'mp-reach', flags, afi, safi: 1, nextHop: buf.slice(v + 1, end), nlri: [] };
  }
  // RFC 4760 §3: AFI (2), SAFI (1), next-hop length (1), next hop, reserved (1), NLRI.
  if (len < 5) mpMalformed(`MP_REACH_NLRI of ${len} bytes is too short`, v);
  const afi = readU16(buf, v);
  const safi = buf[v + 2];
  const nhLen = buf[v + 3];
  const nh = v + 4;
  if (nh + nhLen + 1 > end) mpMalformed(`MP_REACH_NLRI next hop length ${nhLen} overruns the attribute`, v + 3);
  if (decodable(afi, safi)) {
    // RFC 7606 §7.11: a next-hop length that does not fit the AFI makes the attribute malformed.
    // IPv4 may use an IPv6 next hop (RFC 8950); IPv6 has a global and optional link-local (RFC 2545 §3).
    const ok = afi === 1 ? nhLen === 4 || nhLen === 16 || nhLen === 32 : nhLen === 16 || nhLen === 32;
    if (!ok) mpMalformed(`MP_REACH_NLRI next hop length ${nhLen} is wrong for AFI ${afi}`, v + 3);
  }
  const nextHop = buf.slice(nh, nh + nhLen);
  const nlriStart = nh + nhLen + 1;
  if (!decodable(afi, safi)) return { type: 'mp-reach', flags, afi, safi, nextHop, nlri: [], rawNlri: buf.slice(nlriStart, end) };
  const addPath = ctx.addPathReceive?.has(familyKey(afi, safi)) ?? false;
  return { type: 'mp-reach', flags, afi, safi, nextHop, nlri: decodeNlriRun(buf, nlriStart, end, afi, addPath, mpSite) };
}

/** Attribute codes seen in a block, including ones dropped for errors (for mandatory-attribute checks). */
export interface DecodedAttributes {
  attributes: PathAttribute[];
  issues: UpdateIssue[];
  /** Every code that appeared, well-formed or not. */
  present: Set<number>;
}

/**
 * Decode a path attribute block in [offset, offset+length). Issue offsets are
 * relative to `base` (the UPDATE body start; 0 for a free-standing block).
 */
export function decodeAttributeBlock(buf: Uint8Array, offset: number, length: number, ctx: DecodeContext, base = 0): DecodedAttributes {
  const end = offset + length;
  const attributes: PathAttribute[] = [];
  const issues: UpdateIssue[] = [];
  const present = new Set<number>();
  let o = offset;
  while (o < end) {
    const start = o;
    // RFC 7606 §4: an attribute header or length that runs past the attribute block
    // → treat-as-withdraw; nothing after it can be parsed.
    if (o + 3 > end) {
      issues.push({ action: 'treat-as-withdraw', code: UPDATE_ERR, subcode: UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason: 'attribute-header-overrun', offset: o - base });
      break;
    }
    const flags = buf[o];
    const code = buf[o + 1];
    const ext = (flags & AttrFlag.EXTENDED_LENGTH) !== 0;
    if (ext && o + 4 > end) {
      issues.push({ action: 'treat-as-withdraw', attrCode: code, code: UPDATE_ERR, subcode: UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason: 'attribute-header-overrun', offset: o - base });
      break;
    }
    const len = ext ? readU16(buf, o + 2) : buf[o + 2];
    const v = o + (ext ? 4 : 3);
    if (v + len > end) {
      if (code === AttrCode.MP_REACH_NLRI || code === AttrCode.MP_UNREACH_NLRI) {
        mpMalformed(`${code === AttrCode.MP_REACH_NLRI ? 'MP_REACH' : 'MP_UNREACH'}_NLRI length ${len} overruns the attribute block`, o + 2);
      }
      issues.push({ action: 'treat-as-withdraw', attrCode: code, code: UPDATE_ERR, subcode: UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, reason: 'attribute-length-overrun', offset: o + 2 - base });
      break;
    }
    o = v + len;
    const isMp = code === AttrCode.MP_REACH_NLRI || code === AttrCode.MP_UNREACH_NLRI;
    if (present.has(code)) {
      // RFC 7606 §3(g): MP_REACH_NLRI / MP_UNREACH_NLRI more than once → Malformed Attribute
      // List (session reset); any other repeated attribute: keep the first, discard the rest.
      if (isMp) fail(`attribute ${code} appears more than once`, UPDATE_ERR, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, 'update.attributes', start);
      issues.push({ action: 'attribute-discard', attrCode: code, code: UPDATE_ERR, subcode: UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason: 'duplicate-attribute', offset: start - base });
      continue;
    }
    present.add(code);
    const discard = DISCARD_WHEN_MALFORMED.has(code);
    const expected = EXPECTED_FLAGS[code];
    let flagIssue = false;
    if (expected !== undefined && (flags & (OPT | TRANS)) !== expected) {
      // RFC 7606 §3(c): Optional/Transitive bits contradicting the type make the attribute
      // malformed → treat-as-withdraw (attribute-discard where its own rules say so).
      issues.push({ action: discard ? 'attribute-discard' : 'treat-as-withdraw', attrCode: code, code: UPDATE_ERR, subcode: UpdateSubcode.ATTRIBUTE_FLAGS_ERROR, reason: 'attribute-flags-conflict', offset: start - base });
      if (discard) continue;
      flagIssue = true;
    }
    try {
      attributes.push(decodeValue(code, flags, buf, v, len, ctx));
    } catch (e) {
      if (!(e instanceof AttrIssue)) throw e;
      if (!flagIssue || discard) {
        issues.push({ action: e.action ?? (discard ? 'attribute-discard' : 'treat-as-withdraw'), attrCode: code, code: UPDATE_ERR, subcode: e.subcode, reason: e.reason, offset: e.at - base });
      }
    }
  }
  return { attributes, issues, present };
}

function valueLength(a: PathAttribute, ctx: DecodeContext): number {
  switch (a.type) {
    case 'origin':
      return 1;
    case 'as-path':
      return segmentsLength(a.segments, a.asnBytes);
    case 'next-hop':
    case 'med':
    case 'local-pref':
    case 'originator-id':
      return 4;
    case 'atomic-aggregate':
      return 0;
    case 'aggregator':
      return a.asnBytes + 4;
    case 'communities':
      return a.communities.length * 4;
    case 'cluster-list':
      return a.ids.length * 4;
    case 'mp-reach':
      if (ctx.mpReachNextHopOnly) return 1 + a.nextHop.length;
      return 5 + a.nextHop.length + (a.rawNlri ? a.rawNlri.length : nlriRunLength(a.nlri, runHasPathIds(a.nlri, ctx.addPathReceive?.has(familyKey(a.afi, a.safi)) ?? false)));
    case 'mp-unreach':
      return 3 + (a.rawWithdrawn ? a.rawWithdrawn.length : nlriRunLength(a.withdrawn, runHasPathIds(a.withdrawn, ctx.addPathReceive?.has(familyKey(a.afi, a.safi)) ?? false)));
    case 'extended-communities':
      return a.communities.length * 8;
    case 'as4-path':
      return segmentsLength(a.segments, 4);
    case 'as4-aggregator':
      return 8;
    case 'large-communities':
      return a.communities.length * 12;
    case 'unknown':
      return a.value.length;
  }
}

const CODE_OF: Record<Exclude<PathAttribute['type'], 'unknown'>, number> = {
  origin: AttrCode.ORIGIN,
  'as-path': AttrCode.AS_PATH,
  'next-hop': AttrCode.NEXT_HOP,
  med: AttrCode.MULTI_EXIT_DISC,
  'local-pref': AttrCode.LOCAL_PREF,
  'atomic-aggregate': AttrCode.ATOMIC_AGGREGATE,
  aggregator: AttrCode.AGGREGATOR,
  communities: AttrCode.COMMUNITIES,
  'originator-id': AttrCode.ORIGINATOR_ID,
  'cluster-list': AttrCode.CLUSTER_LIST,
  'mp-reach': AttrCode.MP_REACH_NLRI,
  'mp-unreach': AttrCode.MP_UNREACH_NLRI,
  'extended-communities': AttrCode.EXTENDED_COMMUNITIES,
  'as4-path': AttrCode.AS4_PATH,
  'as4-aggregator': AttrCode.AS4_AGGREGATOR,
  'large-communities': AttrCode.LARGE_COMMUNITY,
};

/** The type code of an attribute value. */
export const attributeCode = (a: PathAttribute): number => (a.type === 'unknown' ? a.code : CODE_OF[a.type]);

/** Codec for one path attribute (flags, type, length, value). */
export const attributeCodec = {
  encodingLength(a: PathAttribute, ctx: DecodeContext = {}): number {
    const len = valueLength(a, ctx);
    return len + ((a.flags & AttrFlag.EXTENDED_LENGTH) !== 0 || len > 255 ? 4 : 3);
  },

  encode(a: PathAttribute, buf?: Uint8Array, offset = 0, ctx: DecodeContext = {}): Uint8Array {
    const len = valueLength(a, ctx);
    if (len > 0xffff) throw new BgpEncodeError(`attribute ${attributeCode(a)} value is ${len} bytes; at most 65535 fit`);
    const ext = (a.flags & AttrFlag.EXTENDED_LENGTH) !== 0 || len > 255;
    buf ??= new Uint8Array(offset + len + (ext ? 4 : 3));
    buf[offset] = ext ? a.flags | AttrFlag.EXTENDED_LENGTH : a.flags;
    buf[offset + 1] = attributeCode(a);
    let o = offset + 2;
    if (ext) {
      writeU16(buf, o, len);
      o += 2;
    } else buf[o++] = len;
    switch (a.type) {
      case 'origin':
        buf[o] = a.value;
        break;
      case 'as-path':
        encodeSegments(a.segments, a.asnBytes, buf, o);
        break;
      case 'as4-path':
        encodeSegments(a.segments, 4, buf, o);
        break;
      case 'next-hop':
        writeIpv4(buf, o, a.nextHop, 'NEXT_HOP');
        break;
      case 'med':
      case 'local-pref':
        writeU32(buf, o, a.value);
        break;
      case 'atomic-aggregate':
        break;
      case 'aggregator':
        if (a.asnBytes === 4) writeU32(buf, o, a.asn);
        else writeU16(buf, o, a.asn > 0xffff ? 23456 : a.asn);
        writeIpv4(buf, o + a.asnBytes, a.address, 'AGGREGATOR address');
        break;
      case 'as4-aggregator':
        writeU32(buf, o, a.asn);
        writeIpv4(buf, o + 4, a.address, 'AS4_AGGREGATOR address');
        break;
      case 'communities':
        for (let i = 0; i < a.communities.length; i++) writeU32(buf, o + i * 4, a.communities[i]);
        break;
      case 'originator-id':
        writeIpv4(buf, o, a.id, 'ORIGINATOR_ID');
        break;
      case 'cluster-list':
        for (let i = 0; i < a.ids.length; i++) writeIpv4(buf, o + i * 4, a.ids[i], 'CLUSTER_LIST id');
        break;
      case 'mp-reach':
        if (ctx.mpReachNextHopOnly) {
          buf[o] = a.nextHop.length;
          buf.set(a.nextHop, o + 1);
          break;
        }
        writeU16(buf, o, a.afi);
        buf[o + 2] = a.safi;
        buf[o + 3] = a.nextHop.length;
        buf.set(a.nextHop, o + 4);
        o += 4 + a.nextHop.length;
        buf[o++] = 0;
        if (a.rawNlri) buf.set(a.rawNlri, o);
        else encodeNlriRun(a.nlri, buf, o, runHasPathIds(a.nlri, ctx.addPathReceive?.has(familyKey(a.afi, a.safi)) ?? false));
        break;
      case 'mp-unreach':
        writeU16(buf, o, a.afi);
        buf[o + 2] = a.safi;
        o += 3;
        if (a.rawWithdrawn) buf.set(a.rawWithdrawn, o);
        else encodeNlriRun(a.withdrawn, buf, o, runHasPathIds(a.withdrawn, ctx.addPathReceive?.has(familyKey(a.afi, a.safi)) ?? false));
        break;
      case 'extended-communities':
        for (let i = 0; i < a.communities.length; i++) {
          if (a.communities[i].length !== 8) throw new BgpEncodeError('an extended community is 8 bytes');
          buf.set(a.communities[i], o + i * 8);
        }
        break;
      case 'large-communities':
        for (let i = 0; i < a.communities.length; i++) {
          const [g, l1, l2] = a.communities[i];
          writeU32(buf, o + i * 12, g);
          writeU32(buf, o + i * 12 + 4, l1);
          writeU32(buf, o + i * 12 + 8, l2);
        }
        break;
      case 'unknown':
        buf.set(a.value, o);
        break;
    }
    return buf;
  },

  /**
   * Decode one attribute at `offset` on its own (no duplicate or mandatory
   * checks). A problem RFC 7606 lets the session survive is returned as `issue`
   * with `value` null.
   */
  decode(
    buf: Uint8Array,
    offset = 0,
    ctx: DecodeContext = {},
  ): { value: PathAttribute | null; issue?: UpdateIssue; bytes: number } {
    const block = decodeAttributeBlock(buf, offset, Math.min(buf.length - offset, attributeSpan(buf, offset)), ctx, 0);
    const bytes = attributeSpan(buf, offset);
    if (block.attributes.length === 1 && block.issues.length === 0) return { value: block.attributes[0], bytes };
    return { value: block.attributes[0] ?? null, issue: block.issues[0], bytes: Math.min(bytes, buf.length - offset) };
  },
};

/** Bytes the attribute at `offset` claims (header + length), without bounds checks beyond the header. */
function attributeSpan(buf: Uint8Array, offset: number): number {
  if (offset + 3 > buf.length) return buf.length - offset;
  const ext = (buf[offset] & AttrFlag.EXTENDED_LENGTH) !== 0;
  if (ext) return offset + 4 > buf.length ? buf.length - offset : 4 + readU16(buf, offset + 2);
  return 3 + buf[offset + 2];
}

/** Total encoded length of an attribute list. */
export function attributesLength(attrs: readonly PathAttribute[], ctx: DecodeContext): number {
  let n = 0;
  for (const a of attrs) n += attributeCodec.encodingLength(a, ctx);
  return n;
}

/** Write an attribute list at `offset`; returns bytes written. */
export function encodeAttributesInto(attrs: readonly PathAttribute[], buf: Uint8Array, offset: number, ctx: DecodeContext): number {
  let o = offset;
  for (const a of attrs) {
    attributeCodec.encode(a, buf, o, ctx);
    o += attributeCodec.encodingLength(a, ctx);
  }
  return o - offset;
}

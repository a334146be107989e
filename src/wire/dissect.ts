/**
 * Zero-allocation packet dissection for the hot path: one reusable
 * {@link PacketView} is filled in place from the bytes of a packet, reading
 * only what classification needs (addresses, protocol, ports, flags).
 * CONTRACT: the fields and the `dissect` signature are fixed. `dissect` reads
 * the bytes in place by the same rules the per-protocol codecs (ethernet,
 * ipv4, ipv6, tcp, udp, icmp, icmpv6) enforce; {@link decodePacket} runs the
 * codecs themselves, building objects, for tools and tests.
 */
import * as ethernet from './ethernet.js';
import * as ipv4 from './ipv4.js';
import * as ipv6 from './ipv6.js';
import * as tcp from './tcp.js';
import * as udp from './udp.js';
import * as icmp from './icmp.js';
import * as icmpv6 from './icmpv6.js';
import { ShadownetError } from '../core/errors.js';

export { TunnelError, TunnelView, tunnelErrorName, decapsulateVxlan } from './vxlan.js';
export { decapsulateGeneve } from './geneve.js';

/** Why a packet could not be dissected (kebab-case, for drop counters). */
export const DissectError = {
  NONE: 0,
  TRUNCATED_L2: 1,
  TRUNCATED_L3: 2,
  BAD_IP_VERSION: 3,
  BAD_IP_HEADER_LENGTH: 4,
  TRUNCATED_L4: 5,
  BAD_TCP_HEADER_LENGTH: 6,
  UNSUPPORTED_LINK_TYPE: 7,
  NOT_IP: 8,
  BAD_EXTENSION_HEADER: 9,
} as const;
export type DissectError = (typeof DissectError)[keyof typeof DissectError];

const DISSECT_ERROR_NAMES = [
  'none',
  'truncated-l2',
  'truncated-l3',
  'bad-ip-version',
  'bad-ip-header-length',
  'truncated-l4',
  'bad-tcp-header-length',
  'unsupported-link-type',
  'not-ip',
  'bad-extension-header',
];
export const dissectErrorName = (e: number): string => DISSECT_ERROR_NAMES[e] ?? `UNKNOWN_${e}`;

export const Fragment = { NONE: 0, FIRST: 1, LATER: 2 } as const;

/** One packet's fields, filled in place by {@link dissect}. Reuse one per loop. */
export class PacketView {
  /** DissectError.NONE when the packet was dissected (ports may still be absent for non-first fragments). */
  error: number = DissectError.NONE;
  /** 802.1Q VLAN id of the outermost tag, or -1. */
  vlan = -1;
  /** VLAN id of the second tag (the customer tag of 802.1ad QinQ), or -1. */
  innerVlan = -1;
  etherType = 0;
  /** Offset of the IP header in the buffer passed to dissect. */
  l3Offset = 0;
  /** 4, 6, or 0 when not IP. */
  ipVersion = 0;
  /** IPv4 source/destination as unsigned 32-bit numbers (0 for IPv6). */
  src4 = 0;
  dst4 = 0;
  /** Offsets of the 16-byte IPv6 source/destination in the buffer (0 for IPv4). */
  src6Offset = 0;
  dst6Offset = 0;
  /** IP protocol / IPv6 upper-layer next header after walking extension headers. */
  protocol = 0;
  /** Fragment.NONE / FIRST / LATER. */
  fragment = 0;
  ttl = 0;
  /** IP total length (IPv4) or 40 + payload length (IPv6), as the header says. */
  ipLength = 0;
  /** Offset of the transport header, or 0 when absent (later fragments, unknown protocols). */
  l4Offset = 0;
  /** TCP/UDP ports; 0 when absent. */
  srcPort = 0;
  dstPort = 0;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, …). */
  tcpFlags = 0;
  /** ICMP / ICMPv6 type and code; -1 when not ICMP. */
  icmpType = -1;
  icmpCode = -1;
  /** Offset and length of the transport payload (captured bytes only). */
  payloadOffset = 0;
  payloadLength = 0;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;

function reset(view: PacketView): void {
  view.error = DissectError.NONE;
  view.vlan = -1;
  view.innerVlan = -1;
  view.etherType = 0;
  view.l3Offset = 0;
  view.ipVersion = 0;
  view.src4 = 0;
  view.dst4 = 0;
  view.src6Offset = 0;
  view.dst6Offset = 0;
  view.protocol = 0;
  view.fragment = Fragment.NONE;
  view.ttl = 0;
  view.ipLength = 0;
  view.l4Offset = 0;
  view.srcPort = 0;
  view.dstPort = 0;
  view.tcpFlags = 0;
  view.icmpType = -1;
  view.icmpCode = -1;
  view.payloadOffset = 0;
  view.payloadLength = 0;
}

function fail(view: PacketView, error: number): boolean {
  view.error = error;
  return false;
}

/**
 * Fill `view` from the packet `data[offset, offset + length)` of link type
 * `linkType` (1 Ethernet, 101/228/229 raw IP, 113 Linux SLL, 276 Linux SLL2,
 * 0 BSD loopback). Returns true on success; on failure `view.error` says why
 * and the fields read so far stay filled (a packet with a bad TCP header
 * still shows its addresses and ports). Never throws, never allocates.
 *
 * Lengths: the IP header's length bounds the transport and payload (Ethernet
 * padding is not payload), and the captured bytes bound both again, so
 * `payloadOffset + payloadLength` never passes the captured end.
 */
export function dissect(
  data: Uint8Array,
  offset: number,
  length: number,
  linkType: number,
  view: PacketView,
): boolean {
  reset(view);
  if (!(offset >= 0) || !(length >= 0)) return fail(view, DissectError.TRUNCATED_L2);
  const end = Math.min(offset + length, data.length);
  let p = offset;
  let type: number;
  switch (linkType) {
    case 1: {
      if (end - p < 14) return fail(view, DissectError.TRUNCATED_L2);
      p += 12;
      type = (data[p] << 8) | data[p + 1];
      // 802.1Q §9.5 / 802.1ad: tags stack while the type field holds a TPID.
      while (type === 0x8100 || type === 0x88a8 || type === 0x9100) {
        if (end - p < 6) return fail(view, DissectError.TRUNCATED_L2);
        const vid = ((data[p + 2] << 8) | data[p + 3]) & 0xfff;
        if (view.vlan < 0) view.vlan = vid;
        else if (view.innerVlan < 0) view.innerVlan = vid;
        p += 4;
        type = (data[p] << 8) | data[p + 1];
      }
      p += 2;
      break;
    }
    case 101:
    case 12: // LINKTYPE_RAW's old DLT value on OpenBSD
      if (end - p < 1) return fail(view, DissectError.TRUNCATED_L2);
      type = data[p] >>> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
      break;
    case 228:
      type = ETHERTYPE_IPV4;
      break;
    case 229:
      type = ETHERTYPE_IPV6;
      break;
    case 113: // Linux cooked capture v1: protocol type at bytes 14-15 of a 16-byte header
      if (end - p < 16) return fail(view, DissectError.TRUNCATED_L2);
      type = (data[p + 14] << 8) | data[p + 15];
      p += 16;
      break;
    case 276: // Linux cooked capture v2: protocol type first in a 20-byte header
      if (end - p < 20) return fail(view, DissectError.TRUNCATED_L2);
      type = (data[p] << 8) | data[p + 1];
      p += 20;
      break;
    case 0: {
      // BSD loopback: a 4-byte address family in the capturing host's byte order.
      if (end - p < 4) return fail(view, DissectError.TRUNCATED_L2);
      const le = data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) | (data[p + 3] << 24);
      const af =
        le > 0xffff || le < 0 ? (data[p] << 24) | (data[p + 1] << 16) | (data[p + 2] << 8) | data[p + 3] : le;
      // AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
      type = af === 2 ? ETHERTYPE_IPV4 : af === 24 || af === 28 || af === 30 ? ETHERTYPE_IPV6 : 0;
      p += 4;
      break;
    }
    default:
      return fail(view, DissectError.UNSUPPORTED_LINK_TYPE);
  }
  view.etherType = type;
  view.l3Offset = p;
  if (type === ETHERTYPE_IPV4) return dissectIpv4(data, p, end, view);
  if (type === ETHERTYPE_IPV6) return dissectIpv6(data, p, end, view);
  return fail(view, DissectError.NOT_IP);
}

function dissectIpv4(data: Uint8Array, p: number, capEnd: number, view: PacketView): boolean {
  if (capEnd - p < 20) return fail(view, DissectError.TRUNCATED_L3);
  const vihl = data[p];
  if (vihl >>> 4 !== 4) return fail(view, DissectError.BAD_IP_VERSION);
  view.ipVersion = 4;
  const hl = (vihl & 0x0f) * 4;
  // RFC 791 §3.1: IHL is at least 5.
  if (hl < 20) return fail(view, DissectError.BAD_IP_HEADER_LENGTH);
  const total = (data[p + 2] << 8) | data[p + 3];
  view.ipLength = total;
  view.ttl = data[p + 8];
  view.protocol = data[p + 9];
  view.src4 = ((data[p + 12] << 24) | (data[p + 13] << 16) | (data[p + 14] << 8) | data[p + 15]) >>> 0;
  view.dst4 = ((data[p + 16] << 24) | (data[p + 17] << 16) | (data[p + 18] << 8) | data[p + 19]) >>> 0;
  const ff = (data[p + 6] << 8) | data[p + 7];
  const fragOffset = ff & 0x1fff;
  if (fragOffset !== 0) view.fragment = Fragment.LATER;
  else if ((ff & 0x2000) !== 0) view.fragment = Fragment.FIRST;
  if (capEnd - p < hl) return fail(view, DissectError.TRUNCATED_L3);
  // A total length of zero is what TCP segmentation offload leaves in captures taken on the sender.
  let ipEnd: number;
  if (total === 0) ipEnd = capEnd;
  else if (total < hl) return fail(view, DissectError.BAD_IP_HEADER_LENGTH);
  else ipEnd = p + total;
  return dissectTransport(data, p + hl, ipEnd, capEnd, view.fragment === Fragment.LATER, view);
}

function dissectIpv6(data: Uint8Array, p: number, capEnd: number, view: PacketView): boolean {
  if (capEnd - p < 40) return fail(view, DissectError.TRUNCATED_L3);
  if (data[p] >>> 4 !== 6) return fail(view, DissectError.BAD_IP_VERSION);
  view.ipVersion = 6;
  const payloadLength = (data[p + 4] << 8) | data[p + 5];
  view.ipLength = 40 + payloadLength;
  view.ttl = data[p + 7];
  view.src6Offset = p + 8;
  view.dst6Offset = p + 24;
  // A jumbogram (RFC 2675) says 0 here; its length lives in a hop-by-hop option.
  const ipEnd = payloadLength === 0 ? capEnd : p + 40 + payloadLength;
  let nh = data[p + 6];
  let q = p + 40;
  let later = false;
  // RFC 8200 §4: walk the extension headers this dissector knows; stop at anything else.
  while (nh === 0 || nh === 43 || nh === 60 || nh === 44 || nh === 51) {
    if (q + 8 > ipEnd) return fail(view, DissectError.BAD_EXTENSION_HEADER);
    if (q + 8 > capEnd) return fail(view, DissectError.TRUNCATED_L3);
    let n: number;
    if (nh === 44) {
      n = 8;
      const fo = ((data[q + 2] << 8) | data[q + 3]) >>> 3;
      if (fo !== 0) {
        view.fragment = Fragment.LATER;
        later = true;
      } else if ((data[q + 3] & 1) !== 0) view.fragment = Fragment.FIRST;
    } else if (nh === 51) {
      // RFC 4302 §2.2: AH length in 32-bit words minus 2; its fixed part is 12 bytes.
      n = (data[q + 1] + 2) * 4;
      if (n < 12) return fail(view, DissectError.BAD_EXTENSION_HEADER);
    } else n = (data[q + 1] + 1) * 8;
    if (q + n > ipEnd) return fail(view, DissectError.BAD_EXTENSION_HEADER);
    if (q + n > capEnd) return fail(view, DissectError.TRUNCATED_L3);
    nh = data[q];
    q += n;
    // What follows a non-first fragment header is the middle of the datagram.
    if (later) break;
  }
  view.protocol = nh;
  return dissectTransport(data, q, ipEnd, capEnd, later, view);
}

function dissectTransport(
  data: Uint8Array,
  q: number,
  ipEnd: number,
  capEnd: number,
  laterFragment: boolean,
  view: PacketView,
): boolean {
  const end = ipEnd < capEnd ? ipEnd : capEnd;
  const proto = view.protocol;
  if (laterFragment || (proto !== 6 && proto !== 17 && proto !== 1 && proto !== 58)) {
    view.payloadOffset = q < end ? q : end;
    view.payloadLength = end > q ? end - q : 0;
    return true;
  }
  view.l4Offset = q;
  if (proto === 6) {
    if (ipEnd - q < 20) return fail(view, DissectError.TRUNCATED_L4);
    if (capEnd - q < 4) return fail(view, DissectError.TRUNCATED_L4);
    view.srcPort = (data[q] << 8) | data[q + 1];
    view.dstPort = (data[q + 2] << 8) | data[q + 3];
    if (capEnd - q < 20) return fail(view, DissectError.TRUNCATED_L4);
    view.tcpFlags = data[q + 13];
    const hl = (data[q + 12] >>> 4) * 4;
    // RFC 9293 §3.1: the data offset is at least 5 words and lies within the segment.
    if (hl < 20 || q + hl > ipEnd) return fail(view, DissectError.BAD_TCP_HEADER_LENGTH);
    if (q + hl > capEnd) return fail(view, DissectError.TRUNCATED_L4);
    view.payloadOffset = q + hl;
    view.payloadLength = end - (q + hl);
    return true;
  }
  const hl = proto === 17 ? 8 : 4;
  if (ipEnd - q < hl || capEnd - q < hl) return fail(view, DissectError.TRUNCATED_L4);
  if (proto === 17) {
    view.srcPort = (data[q] << 8) | data[q + 1];
    view.dstPort = (data[q + 2] << 8) | data[q + 3];
  } else {
    view.icmpType = data[q];
    view.icmpCode = data[q + 1];
  }
  // ICMP's payload starts after its 8-byte header when that much is there.
  const start = proto === 17 ? q + 8 : q + 8 <= end ? q + 8 : end;
  view.payloadOffset = start;
  view.payloadLength = end - start;
  return true;
}

// ---------------------------------------------------------------------------
// Flow hash

function mix(h: number, k: number): number {
  // MurmurHash3 32-bit block mixing.
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

function word(d: Uint8Array, o: number): number {
  return (d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3];
}

function endpointHash(
  addr4: number,
  data: Uint8Array,
  addr6Offset: number,
  v6: boolean,
  port: number,
): number {
  let h = 0x9747b28c;
  if (v6) {
    h = mix(h, word(data, addr6Offset));
    h = mix(h, word(data, addr6Offset + 4));
    h = mix(h, word(data, addr6Offset + 8));
    h = mix(h, word(data, addr6Offset + 12));
  } else h = mix(h, addr4);
  return fmix(mix(h, port));
}

/**
 * A 32-bit hash of the five-tuple (addresses, protocol, ports) of a
 * dissected packet, for per-flow sampling, as a signed int32 (`h >>> 0` for
 * the unsigned value, e.g. `(h >>> 0) % n === 0` to keep one flow in n). SYMMETRIC: both directions of a
 * flow hash alike, so sampling a flow copies its requests and replies. The
 * ports of a non-first fragment are unknown (0), so such fragments hash with
 * their addresses and protocol only. Returns 0 for a packet that is not IP.
 * Murmur3-style mixing: the low bits are as good as the high ones.
 * Allocates nothing; `data` is the buffer that was dissected.
 */
export function flowHash(view: PacketView, data: Uint8Array): number {
  if (view.ipVersion === 0) return 0;
  const v6 = view.ipVersion === 6;
  // `| 0` keeps every argument a small integer, so no call boxes a double.
  const a = endpointHash(view.src4 | 0, data, view.src6Offset, v6, view.srcPort);
  const b = endpointHash(view.dst4 | 0, data, view.dst6Offset, v6, view.dstPort);
  // Sum and xor of the two endpoint hashes are both order-independent. The
  // result stays a signed int32 so it is returned without boxing (a uint32
  // above 2^31 would be a heap number).
  return fmix(mix(mix((a + b) | 0, a ^ b), view.protocol | (view.ipVersion << 8)));
}

/**
 * A 32-bit hash of a dissected packet's address pair and protocol, as a
 * signed int32: the same for both directions and for every packet between
 * the two addresses in that protocol, ports and fragments aside (a
 * conversation). A VXLAN target keeps the order of the copies that share it.
 * Returns 0 for a packet that is not IP. Allocates nothing.
 */
export function conversationHash(view: PacketView, data: Uint8Array): number {
  if (view.ipVersion === 0) return 0;
  const v6 = view.ipVersion === 6;
  const a = endpointHash(view.src4 | 0, data, view.src6Offset, v6, 0);
  const b = endpointHash(view.dst4 | 0, data, view.dst6Offset, v6, 0);
  return fmix(mix(mix((a + b) | 0, a ^ b), view.protocol | (view.ipVersion << 8)));
}

// ---------------------------------------------------------------------------
// Decoding with the codecs (allocates; for tools and tests)

/** A packet decoded layer by layer with the codecs; layers that are absent are undefined. */
export interface DecodedPacket {
  readonly ethernet?: ethernet.EthernetHeader;
  readonly ipv4?: ipv4.Ipv4Header;
  readonly ipv6?: ipv6.Ipv6Header;
  readonly tcp?: tcp.TcpHeader;
  readonly udp?: udp.UdpHeader;
  readonly icmp?: icmp.IcmpMessage;
  readonly icmpv6?: icmpv6.Icmpv6Message;
  /** The transport payload (or the IP payload past the last known header), captured bytes only. */
  readonly payload: Uint8Array;
  /** The first error met; layers before it are filled. */
  readonly error?: ShadownetError;
}

/**
 * Decode `data` (one captured packet of `linkType` 1, 101, 228 or 229) with
 * the codecs. Never throws: a malformed layer ends the decode with `error`.
 */
export function decodePacket(data: Uint8Array, linkType: number): DecodedPacket {
  const out: {
    -readonly [K in keyof DecodedPacket]: DecodedPacket[K];
  } = { payload: new Uint8Array(0) };
  try {
    let p = 0;
    let type: number;
    if (linkType === 1) {
      const e = ethernet.decode(data, 0);
      out.ethernet = e.value;
      p = e.bytes;
      type = e.value.etherType;
    } else if (linkType === 101)
      type = data.length > 0 && data[0] >>> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
    else if (linkType === 228) type = ETHERTYPE_IPV4;
    else if (linkType === 229) type = ETHERTYPE_IPV6;
    else
      throw new ShadownetError('SHADOWNET_ERR_INVALID_ARGUMENT', `link type ${linkType} is not decoded here`);
    let ipEnd: number;
    let proto: number;
    let later: boolean;
    if (type === ETHERTYPE_IPV4) {
      const h = ipv4.decode(data, p);
      out.ipv4 = h.value;
      ipEnd = Math.min(p + h.value.totalLength, data.length);
      proto = h.value.protocol;
      later = h.value.fragmentOffset !== 0;
      p += h.bytes;
    } else if (type === ETHERTYPE_IPV6) {
      const h = ipv6.decode(data, p);
      out.ipv6 = h.value;
      ipEnd =
        h.value.payloadLength === 0 ? data.length : Math.min(p + 40 + h.value.payloadLength, data.length);
      proto = ipv6.upperLayerProtocol(h.value);
      later = h.value.extensions.some((x) => x.type === 'fragment' && x.fragmentOffset !== 0);
      p += h.bytes;
    } else {
      out.payload = data.slice(p);
      return out;
    }
    const l4 = data.subarray(0, ipEnd);
    if (!later && proto === 6) {
      const t = tcp.decode(l4, p);
      out.tcp = t.value;
      p += t.bytes;
    } else if (!later && proto === 17) {
      out.udp = udp.decode(l4, p).value;
      p += 8;
    } else if (!later && proto === 1) {
      out.icmp = icmp.decode(l4, p).value;
      p += 8;
    } else if (!later && proto === 58) {
      out.icmpv6 = icmpv6.decode(l4, p).value;
      p += 8;
    }
    out.payload = l4.slice(Math.min(p, ipEnd));
  } catch (e) {
    out.error =
      e instanceof ShadownetError ? e : new ShadownetError('SHADOWNET_ERR_DECODE', String(e), { cause: e });
  }
  return out;
}

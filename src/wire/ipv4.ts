/**
 * IPv4 headers (RFC 791). Options are kept as raw bytes so a header
 * re-encodes byte-exact; fragments are flagged (MF bit, fragment offset).
 * The codec covers the header; the payload follows at `offset + bytes` and
 * runs to `offset + totalLength`.
 */
import { ShadownetError } from '../core/errors.js';
import { formatAddress, parseAddress } from '../core/prefix.js';
import { internetChecksum, onesComplementSum } from './checksum.js';

/** IP protocol numbers the project meets (IANA "Assigned Internet Protocol Numbers"). */
export const IpProtocol = {
  HOPOPT: 0,
  ICMP: 1,
  IGMP: 2,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  IPV6_ROUTE: 43,
  IPV6_FRAG: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  IPV6_NONXT: 59,
  IPV6_OPTS: 60,
  SCTP: 132,
} as const;
export type IpProtocol = (typeof IpProtocol)[keyof typeof IpProtocol];

const PROTOCOL_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(IpProtocol).map(([k, v]) => [v, k]),
);

/** `TCP`, `UDP`, …, or `UNKNOWN_<n>`. */
export function ipProtocolName(p: number): string {
  return PROTOCOL_NAMES[p] ?? `UNKNOWN_${p}`;
}

export const Ipv4ErrorCode = {
  TRUNCATED: 'SHADOWNET_ERR_IPV4_TRUNCATED',
  DECODE: 'SHADOWNET_ERR_IPV4_DECODE',
  ENCODE: 'SHADOWNET_ERR_IPV4_ENCODE',
} as const;
export type Ipv4ErrorCode = (typeof Ipv4ErrorCode)[keyof typeof Ipv4ErrorCode];

/** Malformed IPv4 bytes or an unencodable header; names the field and its offset. */
export class Ipv4Error extends ShadownetError {
  constructor(
    code: Ipv4ErrorCode,
    message: string,
    readonly field: string,
    readonly offset: number,
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`);
    this.name = 'Ipv4Error';
  }
}

export interface Ipv4Header {
  /** Differentiated services code point (6 bits). */
  readonly dscp: number;
  /** Explicit congestion notification (2 bits). */
  readonly ecn: number;
  /** Header plus payload, as the header says. */
  readonly totalLength: number;
  readonly identification: number;
  /** The reserved flag bit (must be zero; kept as found). */
  readonly reservedFlag: boolean;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** Offset of this fragment's data in the original datagram, in bytes (a multiple of 8). */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  /**
   * Header checksum as found. On encode, omitted means "compute it"; a value
   * is written as given (so a header round-trips byte-exact even when its
   * checksum was wrong or offloaded).
   */
  readonly checksum?: number;
  readonly source: string;
  readonly destination: string;
  /** Option bytes (a multiple of 4, at most 40), kept raw. */
  readonly options: Uint8Array;
}

/** True when the header is a fragment (MF set or a non-zero offset). */
export function isFragment(h: Ipv4Header): boolean {
  return h.moreFragments || h.fragmentOffset !== 0;
}

export function encodingLength(h: Ipv4Header): number {
  return 20 + h.options.length;
}

function writeAddress(s: string, out: Uint8Array, o: number, field: string): void {
  let a: Uint8Array;
  try {
    a = parseAddress(s);
  } catch {
    throw new Ipv4Error(Ipv4ErrorCode.ENCODE, `${JSON.stringify(s)} is not an IPv4 address`, field, o);
  }
  if (a.length !== 4) throw new Ipv4Error(Ipv4ErrorCode.ENCODE, `${s} is not an IPv4 address`, field, o);
  out.set(a, o);
}

export function encode(h: Ipv4Header, buf?: Uint8Array, offset = 0): Uint8Array {
  const len = encodingLength(h);
  const out = buf ?? new Uint8Array(offset + len);
  if (out.length < offset + len)
    throw new Ipv4Error(Ipv4ErrorCode.ENCODE, `buffer too small: need ${len} bytes`, 'header', offset);
  if (h.options.length % 4 !== 0 || h.options.length > 40) {
    throw new Ipv4Error(
      Ipv4ErrorCode.ENCODE,
      `options of ${h.options.length} bytes are not a multiple of 4 up to 40`,
      'options',
      offset + 20,
    );
  }
  if (h.fragmentOffset % 8 !== 0 || h.fragmentOffset < 0 || h.fragmentOffset > 0x1fff * 8) {
    throw new Ipv4Error(
      Ipv4ErrorCode.ENCODE,
      `fragment offset ${h.fragmentOffset} is not a multiple of 8 below 65536`,
      'fragmentOffset',
      offset + 6,
    );
  }
  if (h.totalLength < len || h.totalLength > 0xffff) {
    throw new Ipv4Error(
      Ipv4ErrorCode.ENCODE,
      `total length ${h.totalLength} cannot hold a ${len}-byte header`,
      'totalLength',
      offset + 2,
    );
  }
  const o = offset;
  out[o] = 0x40 | (len >>> 2);
  out[o + 1] = ((h.dscp & 0x3f) << 2) | (h.ecn & 3);
  out[o + 2] = h.totalLength >>> 8;
  out[o + 3] = h.totalLength & 0xff;
  out[o + 4] = (h.identification >>> 8) & 0xff;
  out[o + 5] = h.identification & 0xff;
  const ff =
    (h.reservedFlag ? 0x8000 : 0) |
    (h.dontFragment ? 0x4000 : 0) |
    (h.moreFragments ? 0x2000 : 0) |
    (h.fragmentOffset >>> 3);
  out[o + 6] = ff >>> 8;
  out[o + 7] = ff & 0xff;
  out[o + 8] = h.ttl & 0xff;
  out[o + 9] = h.protocol & 0xff;
  out[o + 10] = 0;
  out[o + 11] = 0;
  writeAddress(h.source, out, o + 12, 'source');
  writeAddress(h.destination, out, o + 16, 'destination');
  out.set(h.options, o + 20);
  // RFC 791 §3.1: the checksum is computed with the field set to zero.
  const c = h.checksum ?? internetChecksum(out, o, len);
  out[o + 10] = c >>> 8;
  out[o + 11] = c & 0xff;
  return out;
}

/**
 * Decode the header at `offset`. Proves the version is 4, IHL is at least 5
 * and fits the buffer, and the total length covers the header. The payload
 * may be shorter than `totalLength` in a truncated capture; that is not an
 * error here.
 */
export function decode(buf: Uint8Array, offset = 0): { value: Ipv4Header; bytes: number } {
  const o = offset;
  if (buf.length - o < 20)
    throw new Ipv4Error(
      Ipv4ErrorCode.TRUNCATED,
      `${Math.max(0, buf.length - o)} bytes are shorter than the 20-byte header`,
      'header',
      o,
    );
  const version = buf[o] >>> 4;
  if (version !== 4) throw new Ipv4Error(Ipv4ErrorCode.DECODE, `version ${version} is not 4`, 'version', o);
  const ihl = buf[o] & 0x0f;
  // RFC 791 §3.1: the minimum value for a correct header is 5.
  if (ihl < 5) throw new Ipv4Error(Ipv4ErrorCode.DECODE, `IHL ${ihl} is below the minimum of 5`, 'ihl', o);
  const len = ihl * 4;
  if (buf.length - o < len)
    throw new Ipv4Error(
      Ipv4ErrorCode.TRUNCATED,
      `IHL ${ihl} needs ${len} bytes, ${buf.length - o} present`,
      'options',
      o + 20,
    );
  const totalLength = (buf[o + 2] << 8) | buf[o + 3];
  if (totalLength < len)
    throw new Ipv4Error(
      Ipv4ErrorCode.DECODE,
      `total length ${totalLength} is shorter than the ${len}-byte header`,
      'totalLength',
      o + 2,
    );
  const ff = (buf[o + 6] << 8) | buf[o + 7];
  return {
    value: {
      dscp: buf[o + 1] >>> 2,
      ecn: buf[o + 1] & 3,
      totalLength,
      identification: (buf[o + 4] << 8) | buf[o + 5],
      reservedFlag: (ff & 0x8000) !== 0,
      dontFragment: (ff & 0x4000) !== 0,
      moreFragments: (ff & 0x2000) !== 0,
      fragmentOffset: (ff & 0x1fff) * 8,
      ttl: buf[o + 8],
      protocol: buf[o + 9],
      checksum: (buf[o + 10] << 8) | buf[o + 11],
      source: formatAddress(buf, o + 12, 4),
      destination: formatAddress(buf, o + 16, 4),
      options: buf.slice(o + 20, o + len),
    },
    bytes: len,
  };
}

/** True when the IPv4 header at `offset` carries a correct checksum (reads in place). */
export function verifyHeaderChecksum(buf: Uint8Array, offset = 0): boolean {
  if (buf.length - offset < 20) return false;
  const len = (buf[offset] & 0x0f) * 4;
  if (len < 20 || buf.length - offset < len) return false;
  return onesComplementSum(buf, offset, len) === 0xffff;
}

/** The codec as one object. */
export const ipv4Header = { encode, decode, encodingLength };

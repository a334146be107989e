/**
 * ICMPv6 messages (RFC 4443). Like ICMP for IPv4 the codec takes the whole
 * message (type, code, checksum, four type-specific bytes, data). The checksum
 * covers the IPv6 pseudo-header (RFC 4443 §2.3), so the codec writes it as
 * given; {@link icmpv6Checksum} computes it from the addresses.
 */
import { ShadownetError } from '../core/errors.js';
import { transportChecksum } from './checksum.js';

/** ICMPv6 types (IANA "ICMPv6 Type Numbers"). */
export const Icmpv6Type = {
  DESTINATION_UNREACHABLE: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAMETER_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  MULTICAST_LISTENER_QUERY: 130,
  MULTICAST_LISTENER_REPORT: 131,
  MULTICAST_LISTENER_DONE: 132,
  ROUTER_SOLICITATION: 133,
  ROUTER_ADVERTISEMENT: 134,
  NEIGHBOR_SOLICITATION: 135,
  NEIGHBOR_ADVERTISEMENT: 136,
  REDIRECT: 137,
  MULTICAST_LISTENER_REPORT_V2: 143,
} as const;
export type Icmpv6Type = (typeof Icmpv6Type)[keyof typeof Icmpv6Type];

const TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Icmpv6Type).map(([k, v]) => [v, k]),
);

/** `ECHO_REQUEST`, `NEIGHBOR_SOLICITATION`, …, or `UNKNOWN_<n>`. */
export function icmpv6TypeName(type: number): string {
  return TYPE_NAMES[type] ?? `UNKNOWN_${type}`;
}

/** RFC 4443 §2.1: types 0–127 are errors, 128–255 informational. */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

export const Icmpv6ErrorCode = {
  TRUNCATED: 'SHADOWNET_ERR_ICMPV6_TRUNCATED',
  ENCODE: 'SHADOWNET_ERR_ICMPV6_ENCODE',
} as const;
export type Icmpv6ErrorCode = (typeof Icmpv6ErrorCode)[keyof typeof Icmpv6ErrorCode];

/** Malformed ICMPv6 bytes or an unencodable message; names the field and its offset. */
export class Icmpv6Error extends ShadownetError {
  constructor(
    code: Icmpv6ErrorCode,
    message: string,
    readonly field: string,
    readonly offset: number,
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`);
    this.name = 'Icmpv6Error';
  }
}

export interface Icmpv6Message {
  readonly type: number;
  readonly code: number;
  readonly checksum: number;
  /** The four type-specific bytes after the checksum, raw. */
  readonly rest: Uint8Array;
  readonly data: Uint8Array;
}

export function encodingLength(m: Icmpv6Message): number {
  return 8 + m.data.length;
}

export function encode(m: Icmpv6Message, buf?: Uint8Array, offset = 0): Uint8Array {
  const len = encodingLength(m);
  const out = buf ?? new Uint8Array(offset + len);
  if (out.length < offset + len)
    throw new Icmpv6Error(Icmpv6ErrorCode.ENCODE, `buffer too small: need ${len} bytes`, 'message', offset);
  if (m.rest.length !== 4)
    throw new Icmpv6Error(
      Icmpv6ErrorCode.ENCODE,
      `rest of header must be 4 bytes, got ${m.rest.length}`,
      'rest',
      offset + 4,
    );
  out[offset] = m.type;
  out[offset + 1] = m.code;
  out[offset + 2] = m.checksum >>> 8;
  out[offset + 3] = m.checksum & 0xff;
  out.set(m.rest, offset + 4);
  out.set(m.data, offset + 8);
  return out;
}

/** Decode the message from `offset` to the end of `buf`. */
export function decode(buf: Uint8Array, offset = 0): { value: Icmpv6Message; bytes: number } {
  if (buf.length - offset < 8)
    throw new Icmpv6Error(
      Icmpv6ErrorCode.TRUNCATED,
      `${Math.max(0, buf.length - offset)} bytes are shorter than the 8-byte header`,
      'header',
      offset,
    );
  return {
    value: {
      type: buf[offset],
      code: buf[offset + 1],
      checksum: (buf[offset + 2] << 8) | buf[offset + 3],
      rest: buf.slice(offset + 4, offset + 8),
      data: buf.slice(offset + 8),
    },
    bytes: buf.length - offset,
  };
}

/**
 * The checksum for the message `buf[offset, offset+length)` between IPv6
 * addresses `source` and `destination` (16 bytes each); the checksum field
 * of the message must hold zero.
 */
export function icmpv6Checksum(
  source: Uint8Array,
  destination: Uint8Array,
  buf: Uint8Array,
  offset = 0,
  length = buf.length - offset,
): number {
  return transportChecksum(source, destination, 58, buf, offset, length);
}

/** The codec as one object. */
export const icmpv6Message = { encode, decode, encodingLength };

/**
 * ICMP messages for IPv4 (RFC 792). A message runs to the end of the IP
 * payload, so the codec takes the whole message: type, code, checksum, the
 * four type-specific header bytes (`rest`: identifier and sequence for echo,
 * the gateway for redirect, unused otherwise) and the data after them.
 */
import { ShadownetError } from '../core/errors.js';
import { internetChecksum, onesComplementSum } from './checksum.js';

/** ICMP types (IANA "ICMP Type Numbers"). */
export const IcmpType = {
  ECHO_REPLY: 0,
  DESTINATION_UNREACHABLE: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  ROUTER_ADVERTISEMENT: 9,
  ROUTER_SOLICITATION: 10,
  TIME_EXCEEDED: 11,
  PARAMETER_PROBLEM: 12,
  TIMESTAMP: 13,
  TIMESTAMP_REPLY: 14,
} as const;
export type IcmpType = (typeof IcmpType)[keyof typeof IcmpType];

const TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(IcmpType).map(([k, v]) => [v, k]),
);

/** `ECHO_REQUEST`, …, or `UNKNOWN_<n>`. */
export function icmpTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `UNKNOWN_${type}`;
}

export const IcmpErrorCode = {
  TRUNCATED: 'SHADOWNET_ERR_ICMP_TRUNCATED',
  ENCODE: 'SHADOWNET_ERR_ICMP_ENCODE',
} as const;
export type IcmpErrorCode = (typeof IcmpErrorCode)[keyof typeof IcmpErrorCode];

/** Malformed ICMP bytes or an unencodable message; names the field and its offset. */
export class IcmpError extends ShadownetError {
  constructor(
    code: IcmpErrorCode,
    message: string,
    readonly field: string,
    readonly offset: number,
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`);
    this.name = 'IcmpError';
  }
}

export interface IcmpMessage {
  readonly type: number;
  readonly code: number;
  /** As found on decode. On encode, omitted means "compute it over the message" (RFC 792). */
  readonly checksum?: number;
  /** The four type-specific bytes after the checksum, raw. */
  readonly rest: Uint8Array;
  /** Everything after the 8-byte header. */
  readonly data: Uint8Array;
}

/** Identifier and sequence number of an echo request or reply (the `rest` bytes). */
export function echoFields(m: IcmpMessage): { identifier: number; sequence: number } {
  return { identifier: (m.rest[0] << 8) | m.rest[1], sequence: (m.rest[2] << 8) | m.rest[3] };
}

export function encodingLength(m: IcmpMessage): number {
  return 8 + m.data.length;
}

export function encode(m: IcmpMessage, buf?: Uint8Array, offset = 0): Uint8Array {
  const len = encodingLength(m);
  const out = buf ?? new Uint8Array(offset + len);
  if (out.length < offset + len)
    throw new IcmpError(IcmpErrorCode.ENCODE, `buffer too small: need ${len} bytes`, 'message', offset);
  if (m.rest.length !== 4)
    throw new IcmpError(
      IcmpErrorCode.ENCODE,
      `rest of header must be 4 bytes, got ${m.rest.length}`,
      'rest',
      offset + 4,
    );
  out[offset] = m.type;
  out[offset + 1] = m.code;
  out[offset + 2] = 0;
  out[offset + 3] = 0;
  out.set(m.rest, offset + 4);
  out.set(m.data, offset + 8);
  const c = m.checksum ?? internetChecksum(out, offset, len);
  out[offset + 2] = c >>> 8;
  out[offset + 3] = c & 0xff;
  return out;
}

/** Decode the message from `offset` to the end of `buf` (pass a subarray ending at the IP payload's end). */
export function decode(buf: Uint8Array, offset = 0): { value: IcmpMessage; bytes: number } {
  if (buf.length - offset < 8)
    throw new IcmpError(
      IcmpErrorCode.TRUNCATED,
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

/** True when the message `buf[offset, offset+length)` carries a correct checksum. */
export function verifyChecksum(buf: Uint8Array, offset = 0, length = buf.length - offset): boolean {
  return length >= 4 && onesComplementSum(buf, offset, length) === 0xffff;
}

/** The codec as one object. */
export const icmpMessage = { encode, decode, encodingLength };

/**
 * The 19-byte BGP message header (RFC 4271 §4.1) and the small helpers every
 * BGP codec shares: typed failures and bounds-checked reads.
 */
import { BgpDecodeError, HeaderSubcode, NotificationCode } from './errors.js';
import { ErrorAction, HEADER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH, MessageType } from './types.js';
import type { DecodeContext } from './types.js';

const EMPTY = new Uint8Array(0);

/** Throw a BgpDecodeError that carries the NOTIFICATION RFC 4271 prescribes. */
export function fail(
  message: string,
  code: number,
  subcode: number,
  field: string,
  offset: number,
  data: Uint8Array = EMPTY,
  action: ErrorAction = ErrorAction.SESSION_RESET,
): never {
  throw new BgpDecodeError(message, { code, subcode, data }, action, field, offset);
}

/** Fail with the given NOTIFICATION when fewer than `need` bytes remain before `end`. */
export function need(
  end: number,
  offset: number,
  n: number,
  field: string,
  code: number,
  subcode: number,
  data?: Uint8Array,
): void {
  if (offset + n > end) fail(`truncated: ${field} needs ${n} bytes, ${Math.max(0, end - offset)} left`, code, subcode, field, offset, data);
}

export const readU16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
export const readU32 = (b: Uint8Array, o: number): number =>
  ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
export const u16Bytes = (v: number): Uint8Array => new Uint8Array([(v >>> 8) & 0xff, v & 0xff]);

/** Largest message the context allows (RFC 8654 raises 4096 to 65535). */
export const maxLengthFor = (ctx: DecodeContext): number =>
  ctx.extendedMessage ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;

/** Smallest legal length per type (RFC 4271 §4.2-4.5, RFC 2918 §3). KEEPALIVE and ROUTE-REFRESH are fixed. */
const MIN_LENGTH: Record<number, number> = {
  [MessageType.OPEN]: 29,
  [MessageType.UPDATE]: 23,
  [MessageType.NOTIFICATION]: 21,
  [MessageType.KEEPALIVE]: 19,
  [MessageType.ROUTE_REFRESH]: 23,
};
const FIXED_LENGTH: Record<number, number> = { [MessageType.KEEPALIVE]: 19, [MessageType.ROUTE_REFRESH]: 23 };

export interface MessageHeader {
  readonly length: number;
  readonly type: number;
}

function badLength(len: number, offset: number, why: string): never {
  // RFC 4271 §6.1: Bad Message Length; the Data field is the erroneous Length field.
  return fail(`bad message length ${len}: ${why}`, NotificationCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH, 'header.length', offset + 16, u16Bytes(len));
}

/** Check the marker from `offset` for as many bytes as are present (up to 16). */
export function checkMarker(buf: Uint8Array, offset: number, available: number): void {
  const n = Math.min(16, available);
  for (let i = 0; i < n; i++) {
    // RFC 4271 §6.1: marker is all ones, else Connection Not Synchronized.
    if (buf[offset + i] !== 0xff) {
      fail('marker is not all ones', NotificationCode.MESSAGE_HEADER, HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, 'header.marker', offset + i);
    }
  }
}

/** Validate marker and length (not the type) of a header; used by the frame reader before the body arrives. */
export function checkMarkerAndLength(buf: Uint8Array, offset: number, maxLength: number): number {
  checkMarker(buf, offset, 16);
  const len = readU16(buf, offset + 16);
  if (len < HEADER_LENGTH) badLength(len, offset, `shorter than the ${HEADER_LENGTH}-byte header`);
  if (len > maxLength) badLength(len, offset, `longer than the ${maxLength}-byte maximum`);
  return len;
}

/**
 * Decode and validate a header at `offset` (RFC 4271 §6.1). `knownTypes` false
 * lets unknown types through instead of failing with Bad Message Type.
 */
export function decodeHeader(buf: Uint8Array, offset: number, maxLength: number, rejectUnknownTypes = true): MessageHeader {
  need(buf.length, offset, HEADER_LENGTH, 'header', NotificationCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH);
  const length = checkMarkerAndLength(buf, offset, maxLength);
  const type = buf[offset + 18];
  const min = MIN_LENGTH[type];
  if (min === undefined) {
    if (rejectUnknownTypes) {
      // RFC 4271 §6.1: Bad Message Type; the Data field is the erroneous Type field.
      fail(`unknown message type ${type}`, NotificationCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_TYPE, 'header.type', offset + 18, new Uint8Array([type]));
    }
  } else {
    const fixed = FIXED_LENGTH[type];
    // RFC 4271 §6.1: a length too small for the type, or not the fixed length, is Bad Message Length.
    if (length < min || (fixed !== undefined && length !== fixed)) badLength(length, offset, `inconsistent with message type ${type}`);
  }
  if (offset + length > buf.length) {
    fail(`truncated: message says ${length} bytes, ${buf.length - offset} present`, NotificationCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH, 'header.length', offset + 16, u16Bytes(length));
  }
  return { length, type };
}

/** Write marker, length and type at `offset`. */
export function encodeHeader(buf: Uint8Array, offset: number, length: number, type: number): void {
  buf.fill(0xff, offset, offset + 16);
  writeU16(buf, offset + 16, length);
  buf[offset + 18] = type;
}

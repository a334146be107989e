/**
 * BGP-4 codec: pure functions over bytes (no I/O).
 *
 * Every structure has `encode(value, buf?, offset?)`, `decode(buf, offset?)`
 * → `{ value, bytes }` and `encodingLength(value)`: see `openCodec`,
 * `updateCodec`, `notificationCodec`, `keepaliveCodec`, `routeRefreshCodec`,
 * `capabilityCodec`, `attributeCodec`. The functions below are the whole-message
 * entry points the session and the MRT/BMP readers use.
 *
 * Unknown message types: `decodeMessage` throws BgpDecodeError with the
 * Bad Message Type NOTIFICATION (1,3) by default, as a live session must send
 * it; with `ctx.unknownMessageTypes: 'keep'` it returns `{ type: 'unknown' }`
 * so file readers can skip the message.
 */
import type { RouteAttributes } from '../../core/index.js';
import { decodeAttributeBlock, encodeAttributesInto, attributesLength } from './attributes.js';
import { BgpEncodeError, NotificationCode, UpdateSubcode } from './errors.js';
import { fail, maxLengthFor } from './header.js';
import { decodeMessageAt, encodeMessageInto, messageLength } from './message.js';
import { decodeNlriRun } from './nlri.js';
import { toRouteAttributes as normalise } from './normalize.js';
import type { BgpMessage, DecodeContext, NlriPrefix, PathAttribute, UpdateIssue } from './types.js';

export * from './types.js';
export * from './errors.js';
export { attributeCode, attributeCodec } from './attributes.js';
export { capabilityCodec, speakerAsn } from './capabilities.js';
export { BgpFrameReader } from './frame.js';
export { checkMarkerAndLength, decodeHeader } from './header.js';
export type { MessageHeader } from './header.js';
export { unknownMessageCodec } from './message.js';
export { ipv4PrefixKey, nlriRunLength, encodeNlriRun } from './nlri.js';
export {
  asPathLength,
  formatAsPath,
  formatCommunity,
  formatLargeCommunity,
  fromRouteAttributes,
  mergeAs4Path,
} from './normalize.js';
export { keepaliveCodec, notificationCodec, routeRefreshCodec } from './notification.js';
export { BGP_VERSION, openCodec, validateOpen } from './open.js';
export { announcedPrefixes, endOfRibFamily, strongestIssueAction, updateCodec, withdrawnPrefixes } from './update.js';

/** Decode one whole message (header included) at `offset`. Throws BgpDecodeError. */
export function decodeMessage(buf: Uint8Array, offset = 0, ctx: DecodeContext = {}): { value: BgpMessage; bytes: number } {
  return decodeMessageAt(buf, offset, ctx);
}

/** Encode a message (header included). Writes into `buf` at `offset` when given. Throws BgpEncodeError when too long. */
export function encodeMessage(msg: BgpMessage, buf?: Uint8Array, offset = 0, ctx: DecodeContext = {}): Uint8Array {
  const len = messageLength(msg, ctx);
  const max = maxLengthFor(ctx);
  if (len > max) throw new BgpEncodeError(`${msg.type} message would be ${len} bytes; the limit is ${max}`);
  if (buf && offset + len > buf.length) throw new BgpEncodeError(`buffer too small: need ${len} bytes at offset ${offset}`);
  return encodeMessageInto(msg, buf, offset, ctx);
}

export function encodingLength(msg: BgpMessage, ctx: DecodeContext = {}): number {
  return messageLength(msg, ctx);
}

/**
 * Decode a path attributes block (e.g. from MRT). RFC 7606 problems are
 * returned as issues (offsets relative to `offset`); MP_* problems that would
 * reset a session throw BgpDecodeError.
 */
export function decodePathAttributes(
  buf: Uint8Array,
  offset: number,
  length: number,
  ctx: DecodeContext = {},
): { attributes: PathAttribute[]; issues: UpdateIssue[] } {
  if (offset < 0 || length < 0 || offset + length > buf.length) {
    fail(`attribute block of ${length} bytes overruns the ${buf.length}-byte buffer`, NotificationCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, 'attributes.length', offset);
  }
  const r = decodeAttributeBlock(buf, offset, length, ctx, offset);
  return { attributes: r.attributes, issues: r.issues };
}

export function encodePathAttributes(attrs: readonly PathAttribute[], ctx: DecodeContext = {}): Uint8Array {
  const buf = new Uint8Array(attributesLength(attrs, ctx));
  encodeAttributesInto(attrs, buf, 0, ctx);
  return buf;
}

/** Decode a run of NLRI prefixes in [offset, end). Throws BgpDecodeError (RFC 7606 §5.3: session-reset). */
export function decodeNlri(buf: Uint8Array, offset: number, end: number, afi: 1 | 2, addPath = false): NlriPrefix[] {
  if (end > buf.length) {
    fail(`NLRI field ends at ${end}, past the ${buf.length}-byte buffer`, NotificationCode.UPDATE_MESSAGE, UpdateSubcode.INVALID_NETWORK_FIELD, 'nlri', offset);
  }
  return decodeNlriRun(buf, offset, end, afi, addPath);
}

/** Normalise wire attributes into RouteAttributes (AS4_PATH / AS4_AGGREGATOR reconciled per RFC 6793 §4.2.3). */
export function toRouteAttributes(attrs: readonly PathAttribute[], ctx: DecodeContext = {}): RouteAttributes {
  return normalise(attrs, ctx);
}

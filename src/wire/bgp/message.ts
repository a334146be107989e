/** Whole-message dispatch: header, then the codec for the type. */
import { decodeHeader, encodeHeader, maxLengthFor } from './header.js';
import { decodeNotificationBody, decodeRouteRefreshBody, keepaliveCodec, notificationCodec, routeRefreshCodec } from './notification.js';
import { decodeOpenBody, openCodec, validateOpen } from './open.js';
import { decodeUpdateBody, updateCodec } from './update.js';
import { HEADER_LENGTH, MessageType } from './types.js';
import type { BgpMessage, DecodeContext, UnknownMessage } from './types.js';

/** Codec for a message of a type this module does not know, kept byte-exact. */
export const unknownMessageCodec = {
  encodingLength(m: UnknownMessage): number {
    return HEADER_LENGTH + m.body.length;
  },
  encode(m: UnknownMessage, buf?: Uint8Array, offset = 0): Uint8Array {
    const len = HEADER_LENGTH + m.body.length;
    buf ??= new Uint8Array(offset + len);
    encodeHeader(buf, offset, len, m.code);
    buf.set(m.body, offset + HEADER_LENGTH);
    return buf;
  },
};

/**
 * Decode one whole message at `offset`. Unknown types throw Bad Message Type
 * (1,3) unless `ctx.unknownMessageTypes` is `keep`.
 */
export function decodeMessageAt(buf: Uint8Array, offset: number, ctx: DecodeContext): { value: BgpMessage; bytes: number } {
  const h = decodeHeader(buf, offset, maxLengthFor(ctx), ctx.unknownMessageTypes !== 'keep');
  const start = offset + HEADER_LENGTH;
  const end = offset + h.length;
  let value: BgpMessage;
  switch (h.type) {
    case MessageType.OPEN:
      value = decodeOpenBody(buf, start, end);
      if (ctx.checkOpen !== false) validateOpen(value, offset);
      break;
    case MessageType.UPDATE:
      value = decodeUpdateBody(buf, start, end, ctx);
      break;
    case MessageType.NOTIFICATION:
      value = decodeNotificationBody(buf, start, end);
      break;
    case MessageType.KEEPALIVE:
      value = { type: 'keepalive' };
      break;
    case MessageType.ROUTE_REFRESH:
      value = decodeRouteRefreshBody(buf, start);
      break;
    default:
      value = { type: 'unknown', code: h.type, body: buf.slice(start, end) };
  }
  return { value, bytes: h.length };
}

export function messageLength(m: BgpMessage, ctx: DecodeContext): number {
  switch (m.type) {
    case 'open':
      return openCodec.encodingLength(m);
    case 'update':
      return updateCodec.encodingLength(m, ctx);
    case 'notification':
      return notificationCodec.encodingLength(m);
    case 'keepalive':
      return keepaliveCodec.encodingLength(m);
    case 'route-refresh':
      return routeRefreshCodec.encodingLength(m);
    case 'unknown':
      return unknownMessageCodec.encodingLength(m);
  }
}

export function encodeMessageInto(m: BgpMessage, buf: Uint8Array | undefined, offset: number, ctx: DecodeContext): Uint8Array {
  switch (m.type) {
    case 'open':
      return openCodec.encode(m, buf, offset);
    case 'update':
      return updateCodec.encode(m, buf, offset, ctx);
    case 'notification':
      return notificationCodec.encode(m, buf, offset);
    case 'keepalive':
      return keepaliveCodec.encode(m, buf, offset);
    case 'route-refresh':
      return routeRefreshCodec.encode(m, buf, offset);
    case 'unknown':
      return unknownMessageCodec.encode(m, buf, offset);
  }
}

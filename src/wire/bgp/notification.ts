/** NOTIFICATION (RFC 4271 §4.5), KEEPALIVE (§4.4) and ROUTE-REFRESH (RFC 2918, RFC 7313) messages. */
import { decodeHeader, encodeHeader, maxLengthFor, readU16, writeU16 } from './header.js';
import { HEADER_LENGTH, MessageType } from './types.js';
import type { DecodeContext, KeepaliveMessage, NotificationMessage, RouteRefreshMessage } from './types.js';

function expectType(type: number, want: number, name: string): void {
  if (type !== want) throw new RangeError(`not a ${name} message (type ${type})`);
}

/** NOTIFICATION codec: error code, subcode, data. */
export const notificationCodec = {
  encodingLength(m: NotificationMessage): number {
    return HEADER_LENGTH + 2 + m.data.length;
  },
  encode(m: NotificationMessage, buf?: Uint8Array, offset = 0): Uint8Array {
    const len = HEADER_LENGTH + 2 + m.data.length;
    buf ??= new Uint8Array(offset + len);
    encodeHeader(buf, offset, len, MessageType.NOTIFICATION);
    buf[offset + HEADER_LENGTH] = m.code;
    buf[offset + HEADER_LENGTH + 1] = m.subcode;
    buf.set(m.data, offset + HEADER_LENGTH + 2);
    return buf;
  },
  decode(buf: Uint8Array, offset = 0, ctx: DecodeContext = {}): { value: NotificationMessage; bytes: number } {
    const h = decodeHeader(buf, offset, maxLengthFor(ctx));
    expectType(h.type, MessageType.NOTIFICATION, 'NOTIFICATION');
    return { value: decodeNotificationBody(buf, offset + HEADER_LENGTH, offset + h.length), bytes: h.length };
  },
};

export function decodeNotificationBody(buf: Uint8Array, start: number, end: number): NotificationMessage {
  return { type: 'notification', code: buf[start], subcode: buf[start + 1], data: buf.slice(start + 2, end) };
}

/** KEEPALIVE codec: a header and nothing else. */
export const keepaliveCodec = {
  encodingLength(_m: KeepaliveMessage = { type: 'keepalive' }): number {
    return HEADER_LENGTH;
  },
  encode(_m: KeepaliveMessage = { type: 'keepalive' }, buf?: Uint8Array, offset = 0): Uint8Array {
    buf ??= new Uint8Array(offset + HEADER_LENGTH);
    encodeHeader(buf, offset, HEADER_LENGTH, MessageType.KEEPALIVE);
    return buf;
  },
  decode(buf: Uint8Array, offset = 0, ctx: DecodeContext = {}): { value: KeepaliveMessage; bytes: number } {
    const h = decodeHeader(buf, offset, maxLengthFor(ctx));
    expectType(h.type, MessageType.KEEPALIVE, 'KEEPALIVE');
    return { value: { type: 'keepalive' }, bytes: h.length };
  },
};

/** ROUTE-REFRESH codec: AFI (2), subtype (1, reserved before RFC 7313), SAFI (1). */
export const routeRefreshCodec = {
  encodingLength(_m: RouteRefreshMessage): number {
    return HEADER_LENGTH + 4;
  },
  encode(m: RouteRefreshMessage, buf?: Uint8Array, offset = 0): Uint8Array {
    buf ??= new Uint8Array(offset + HEADER_LENGTH + 4);
    encodeHeader(buf, offset, HEADER_LENGTH + 4, MessageType.ROUTE_REFRESH);
    writeU16(buf, offset + HEADER_LENGTH, m.afi);
    buf[offset + HEADER_LENGTH + 2] = m.subtype;
    buf[offset + HEADER_LENGTH + 3] = m.safi;
    return buf;
  },
  decode(buf: Uint8Array, offset = 0, ctx: DecodeContext = {}): { value: RouteRefreshMessage; bytes: number } {
    const h = decodeHeader(buf, offset, maxLengthFor(ctx));
    expectType(h.type, MessageType.ROUTE_REFRESH, 'ROUTE-REFRESH');
    return { value: decodeRouteRefreshBody(buf, offset + HEADER_LENGTH), bytes: h.length };
  },
};

export function decodeRouteRefreshBody(buf: Uint8Array, start: number): RouteRefreshMessage {
  return { type: 'route-refresh', afi: readU16(buf, start), subtype: buf[start + 2], safi: buf[start + 3] };
}

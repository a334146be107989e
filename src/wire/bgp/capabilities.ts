/**
 * OPEN capabilities (RFC 5492): each is code, length, value. Known ones are
 * decoded; any other is kept byte-exact so it re-encodes unchanged.
 */
import { fail, readU16, readU32, writeU16, writeU32 } from './header.js';
import { NotificationCode } from './errors.js';
import { CapabilityCode } from './types.js';
import type { Capability } from './types.js';

const OPEN_ERR = NotificationCode.OPEN_MESSAGE;

function badCap(what: string, offset: number): never {
  // RFC 5492 does not name a subcode for a malformed capability; 0 (unspecific) is what peers send.
  return fail(what, OPEN_ERR, 0, 'open.capability', offset);
}

function valueLength(c: Capability): number {
  switch (c.type) {
    case 'multiprotocol':
      return 4;
    case 'route-refresh':
    case 'enhanced-route-refresh':
    case 'extended-message':
      return 0;
    case 'four-octet-as':
      return 4;
    case 'graceful-restart':
      return 2 + 4 * c.families.length;
    case 'add-path':
      return 4 * c.families.length;
    case 'unknown':
      return c.value.length;
  }
}

function codeOf(c: Capability): number {
  switch (c.type) {
    case 'multiprotocol':
      return CapabilityCode.MULTIPROTOCOL;
    case 'route-refresh':
      return c.cisco ? CapabilityCode.ROUTE_REFRESH_CISCO : CapabilityCode.ROUTE_REFRESH;
    case 'enhanced-route-refresh':
      return CapabilityCode.ENHANCED_ROUTE_REFRESH;
    case 'extended-message':
      return CapabilityCode.EXTENDED_MESSAGE;
    case 'four-octet-as':
      return CapabilityCode.FOUR_OCTET_AS;
    case 'graceful-restart':
      return CapabilityCode.GRACEFUL_RESTART;
    case 'add-path':
      return CapabilityCode.ADD_PATH;
    case 'unknown':
      return c.code;
  }
}

/** Codec for one capability TLV. */
export const capabilityCodec = {
  encodingLength(c: Capability): number {
    return 2 + valueLength(c);
  },

  encode(c: Capability, buf?: Uint8Array, offset = 0): Uint8Array {
    const len = valueLength(c);
    if (len > 255) throw new RangeError(`capability ${codeOf(c)} value is ${len} bytes; at most 255 fit`);
    buf ??= new Uint8Array(2 + len);
    buf[offset] = codeOf(c);
    buf[offset + 1] = len;
    let o = offset + 2;
    switch (c.type) {
      case 'multiprotocol':
        writeU16(buf, o, c.afi);
        buf[o + 2] = 0;
        buf[o + 3] = c.safi;
        break;
      case 'four-octet-as':
        writeU32(buf, o, c.asn);
        break;
      case 'graceful-restart':
        writeU16(buf, o, (c.restarting ? 0x8000 : 0) | (c.notification ? 0x4000 : 0) | (c.restartTime & 0x0fff));
        o += 2;
        for (const f of c.families) {
          writeU16(buf, o, f.afi);
          buf[o + 2] = f.safi;
          buf[o + 3] = f.forwardingPreserved ? 0x80 : 0;
          o += 4;
        }
        break;
      case 'add-path':
        for (const f of c.families) {
          writeU16(buf, o, f.afi);
          buf[o + 2] = f.safi;
          buf[o + 3] = f.sendReceive;
          o += 4;
        }
        break;
      case 'unknown':
        buf.set(c.value, o);
        break;
      default:
        break;
    }
    return buf;
  },

  /** Decode one capability at `offset`, which must end by `end`. */
  decode(buf: Uint8Array, offset = 0, end = buf.length): { value: Capability; bytes: number } {
    if (offset + 2 > end) badCap('capability header overruns its optional parameter', offset);
    const code = buf[offset];
    const len = buf[offset + 1];
    const v = offset + 2;
    if (v + len > end) badCap(`capability ${code} length ${len} overruns its optional parameter`, offset + 1);
    const bytes = 2 + len;
    const exact = (n: number): void => {
      if (len !== n) badCap(`capability ${code} must be ${n} bytes, is ${len}`, offset + 1);
    };
    let value: Capability;
    switch (code) {
      case CapabilityCode.MULTIPROTOCOL:
        // RFC 4760 §8: AFI (2), reserved (1), SAFI (1).
        exact(4);
        value = { type: 'multiprotocol', afi: readU16(buf, v), safi: buf[v + 3] };
        break;
      case CapabilityCode.ROUTE_REFRESH:
      case CapabilityCode.ROUTE_REFRESH_CISCO:
        exact(0);
        value = code === CapabilityCode.ROUTE_REFRESH_CISCO ? { type: 'route-refresh', cisco: true } : { type: 'route-refresh' };
        break;
      case CapabilityCode.ENHANCED_ROUTE_REFRESH:
        exact(0);
        value = { type: 'enhanced-route-refresh' };
        break;
      case CapabilityCode.EXTENDED_MESSAGE:
        exact(0);
        value = { type: 'extended-message' };
        break;
      case CapabilityCode.FOUR_OCTET_AS:
        // RFC 6793 §3: the capability value is the 4-octet ASN.
        exact(4);
        value = { type: 'four-octet-as', asn: readU32(buf, v) };
        break;
      case CapabilityCode.GRACEFUL_RESTART: {
        // RFC 4724 §3: flags+time (2), then (AFI 2, SAFI 1, flags 1) per family.
        if (len < 2 || (len - 2) % 4 !== 0) badCap(`graceful restart capability length ${len} is not 2 + 4n`, offset + 1);
        const head = readU16(buf, v);
        const families = [];
        for (let o = v + 2; o < v + len; o += 4) {
          families.push({ afi: readU16(buf, o), safi: buf[o + 2], forwardingPreserved: (buf[o + 3] & 0x80) !== 0 });
        }
        value = {
          type: 'graceful-restart',
          restarting: (head & 0x8000) !== 0,
          notification: (head & 0x4000) !== 0,
          restartTime: head & 0x0fff,
          families,
        };
        break;
      }
      case CapabilityCode.ADD_PATH: {
        // RFC 7911 §4: (AFI 2, SAFI 1, Send/Receive 1) per family.
        if (len % 4 !== 0) badCap(`add-path capability length ${len} is not a multiple of 4`, offset + 1);
        const families = [];
        for (let o = v; o < v + len; o += 4) families.push({ afi: readU16(buf, o), safi: buf[o + 2], sendReceive: buf[o + 3] });
        value = { type: 'add-path', families };
        break;
      }
      default:
        value = { type: 'unknown', code, value: buf.slice(v, v + len) };
    }
    return { value, bytes };
  },
};

/** The ASN a speaker really has: its 4-octet AS capability, else the My AS field. */
export function speakerAsn(open: { readonly myAs: number; readonly capabilities: readonly Capability[] }): number {
  for (const c of open.capabilities) if (c.type === 'four-octet-as') return c.asn;
  return open.myAs;
}

/**
 * OPEN message (RFC 4271 §4.2) with capabilities (RFC 5492) and the
 * extended optional parameters length of RFC 9072 on decode.
 */
import { capabilityCodec } from './capabilities.js';
import { NotificationCode, OpenSubcode } from './errors.js';
import { decodeHeader, encodeHeader, fail, maxLengthFor, readU16, u16Bytes, writeU16 } from './header.js';
import { HEADER_LENGTH, MessageType } from './types.js';
import type { Capability, DecodeContext, OpenMessage } from './types.js';
import { formatAddress, parseAddress } from '../../core/prefix.js';

const OPEN_ERR = NotificationCode.OPEN_MESSAGE;
const CAPABILITIES_PARAM = 2;
/** The BGP version this codec speaks; also the data of an Unsupported Version NOTIFICATION. */
export const BGP_VERSION = 4;

function capabilitiesLength(caps: readonly Capability[]): number {
  let n = 0;
  for (const c of caps) n += capabilityCodec.encodingLength(c);
  return n;
}

function bodyLength(m: OpenMessage): number {
  let opt = 0;
  const caps = capabilitiesLength(m.capabilities);
  if (m.capabilities.length > 0) opt += 2 + caps;
  for (const p of m.otherParameters ?? []) opt += 2 + p.value.length;
  return 10 + opt;
}

/**
 * RFC 4271 §6.2 checks that need no session state (the peer AS and the
 * hold-time policy are the session's business). Throws BgpDecodeError.
 */
export function validateOpen(m: OpenMessage, offset = 0): void {
  if (m.version !== BGP_VERSION) {
    // RFC 4271 §6.2: Unsupported Version Number; data = the largest supported version, 2 octets.
    fail(`unsupported BGP version ${m.version}`, OPEN_ERR, OpenSubcode.UNSUPPORTED_VERSION, 'open.version', offset + HEADER_LENGTH, u16Bytes(BGP_VERSION));
  }
  if (m.holdTime === 1 || m.holdTime === 2) {
    // RFC 4271 §6.2: a Hold Time of one or two seconds MUST be rejected.
    fail(`unacceptable hold time ${m.holdTime}`, OPEN_ERR, OpenSubcode.UNACCEPTABLE_HOLD_TIME, 'open.holdTime', offset + HEADER_LENGTH + 3);
  }
  if (m.bgpId === '0.0.0.0') {
    // RFC 6286 §2.2: the BGP Identifier is a non-zero 4-octet number.
    fail('BGP identifier is 0.0.0.0', OPEN_ERR, OpenSubcode.BAD_BGP_IDENTIFIER, 'open.bgpId', offset + HEADER_LENGTH + 5);
  }
  if (m.otherParameters && m.otherParameters.length > 0) {
    // RFC 4271 §6.2: an optional parameter that is not recognised → Unsupported Optional Parameter.
    fail(`unsupported optional parameter type ${m.otherParameters[0].type}`, OPEN_ERR, OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, 'open.optionalParameters', offset + HEADER_LENGTH + 10);
  }
}

/** OPEN message codec; works on whole messages, header included. */
export const openCodec = {
  encodingLength(m: OpenMessage): number {
    return HEADER_LENGTH + bodyLength(m);
  },

  encode(m: OpenMessage, buf?: Uint8Array, offset = 0): Uint8Array {
    const len = HEADER_LENGTH + bodyLength(m);
    const optLen = len - HEADER_LENGTH - 10;
    if (optLen > 255) throw new RangeError(`OPEN optional parameters are ${optLen} bytes; at most 255 fit`);
    buf ??= new Uint8Array(offset + len);
    encodeHeader(buf, offset, len, MessageType.OPEN);
    let o = offset + HEADER_LENGTH;
    buf[o] = m.version;
    writeU16(buf, o + 1, m.myAs);
    writeU16(buf, o + 3, m.holdTime);
    buf.set(parseAddress(m.bgpId).subarray(0, 4), o + 5);
    buf[o + 9] = optLen;
    o += 10;
    if (m.capabilities.length > 0) {
      // All capabilities go in one Capabilities optional parameter (RFC 5492 §4 allows either form).
      buf[o] = CAPABILITIES_PARAM;
      buf[o + 1] = capabilitiesLength(m.capabilities);
      o += 2;
      for (const c of m.capabilities) {
        capabilityCodec.encode(c, buf, o);
        o += capabilityCodec.encodingLength(c);
      }
    }
    for (const p of m.otherParameters ?? []) {
      buf[o] = p.type;
      buf[o + 1] = p.value.length;
      buf.set(p.value, o + 2);
      o += 2 + p.value.length;
    }
    return buf;
  },

  decode(buf: Uint8Array, offset = 0, ctx: DecodeContext = {}): { value: OpenMessage; bytes: number } {
    const h = decodeHeader(buf, offset, maxLengthFor(ctx));
    if (h.type !== MessageType.OPEN) throw new RangeError(`not an OPEN message (type ${h.type})`);
    const value = decodeOpenBody(buf, offset + HEADER_LENGTH, offset + h.length);
    if (ctx.checkOpen !== false) validateOpen(value, offset);
    return { value, bytes: h.length };
  },
};

/** Decode an OPEN body in [start, end). Structural problems only; see {@link validateOpen}. */
export function decodeOpenBody(buf: Uint8Array, start: number, end: number): OpenMessage {
  const malformed = (what: string, field: string, at: number): never => fail(what, OPEN_ERR, 0, field, at);
  if (end - start < 10) malformed('OPEN body shorter than 10 bytes', 'open', start);
  const version = buf[start];
  const myAs = readU16(buf, start + 1);
  const holdTime = readU16(buf, start + 3);
  const bgpId = formatAddress(buf, start + 5, 4);
  let optLen = buf[start + 9];
  let o = start + 10;
  let extended = false;
  // RFC 9072 §2: Non-Ext OP Len 255 with Non-Ext OP Type 255 announces 2-octet lengths.
  if (optLen === 255 && o < end && buf[o] === 255) {
    if (o + 3 > end) malformed('extended optional parameters length truncated', 'open.optionalParametersLength', o);
    optLen = readU16(buf, o + 1);
    o += 3;
    extended = true;
  }
  if (o + optLen !== end) {
    malformed(`optional parameters length ${optLen} disagrees with the message length`, 'open.optionalParametersLength', start + 9);
  }
  const capabilities: Capability[] = [];
  const otherParameters: { type: number; value: Uint8Array }[] = [];
  const hdr = extended ? 3 : 2;
  while (o < end) {
    if (o + hdr > end) malformed('optional parameter header overruns the OPEN', 'open.optionalParameter', o);
    const type = buf[o];
    const len = extended ? readU16(buf, o + 1) : buf[o + 1];
    const v = o + hdr;
    if (v + len > end) malformed(`optional parameter ${type} length ${len} overruns the OPEN`, 'open.optionalParameter', o + 1);
    if (type === CAPABILITIES_PARAM) {
      let c = v;
      while (c < v + len) {
        const r = capabilityCodec.decode(buf, c, v + len);
        capabilities.push(r.value);
        c += r.bytes;
      }
    } else {
      otherParameters.push({ type, value: buf.slice(v, v + len) });
    }
    o = v + len;
  }
  const m: OpenMessage = { type: 'open', version, myAs, holdTime, bgpId, capabilities };
  return otherParameters.length > 0 ? { ...m, otherParameters } : m;
}

/**
 * TCP headers (RFC 9293 §3.1). Options are kept raw so a header re-encodes
 * byte-exact. The checksum covers a pseudo-header and the payload, so the
 * header codec writes it as given; compute it with
 * {@link transportChecksum} from ./checksum.js once the segment is built.
 */
import { ShadownetError } from '../core/errors.js';

/** Bits of the flags byte (RFC 9293 §3.1, RFC 3168 for CWR/ECE). */
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;
export type TcpFlag = (typeof TcpFlag)[keyof typeof TcpFlag];

/** `SYN|ACK` style names of the flags set in `flags` (empty string for none). */
export function tcpFlagNames(flags: number): string {
  const names: string[] = [];
  for (const [k, v] of Object.entries(TcpFlag)) if (flags & v) names.push(k);
  return names.join('|');
}

export const TcpErrorCode = {
  TRUNCATED: 'SHADOWNET_ERR_TCP_TRUNCATED',
  DECODE: 'SHADOWNET_ERR_TCP_DECODE',
  ENCODE: 'SHADOWNET_ERR_TCP_ENCODE',
} as const;
export type TcpErrorCode = (typeof TcpErrorCode)[keyof typeof TcpErrorCode];

/** Malformed TCP bytes or an unencodable header; names the field and its offset. */
export class TcpError extends ShadownetError {
  constructor(
    code: TcpErrorCode,
    message: string,
    readonly field: string,
    readonly offset: number,
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`);
    this.name = 'TcpError';
  }
}

export interface TcpHeader {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly sequence: number;
  readonly acknowledgment: number;
  /** The four bits between data offset and flags (three reserved, then AE / the old NS bit), as found. */
  readonly reserved: number;
  /** CWR ECE URG ACK PSH RST SYN FIN, see {@link TcpFlag}. */
  readonly flags: number;
  readonly window: number;
  readonly checksum: number;
  readonly urgentPointer: number;
  /** Option bytes (a multiple of 4, at most 40), raw. */
  readonly options: Uint8Array;
}

/** The 12 bits tshark shows as `tcp.flags`: the reserved nibble above the flags byte. */
export function tcpFlagsField(h: TcpHeader): number {
  return ((h.reserved & 0xf) << 8) | h.flags;
}

export function encodingLength(h: TcpHeader): number {
  return 20 + h.options.length;
}

function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

export function encode(h: TcpHeader, buf?: Uint8Array, offset = 0): Uint8Array {
  const len = encodingLength(h);
  const out = buf ?? new Uint8Array(offset + len);
  if (out.length < offset + len)
    throw new TcpError(TcpErrorCode.ENCODE, `buffer too small: need ${len} bytes`, 'header', offset);
  if (h.options.length % 4 !== 0 || h.options.length > 40) {
    throw new TcpError(
      TcpErrorCode.ENCODE,
      `options of ${h.options.length} bytes are not a multiple of 4 up to 40`,
      'options',
      offset + 20,
    );
  }
  const o = offset;
  out[o] = h.sourcePort >>> 8;
  out[o + 1] = h.sourcePort & 0xff;
  out[o + 2] = h.destinationPort >>> 8;
  out[o + 3] = h.destinationPort & 0xff;
  putU32(out, o + 4, h.sequence);
  putU32(out, o + 8, h.acknowledgment);
  out[o + 12] = ((len / 4) << 4) | (h.reserved & 0xf);
  out[o + 13] = h.flags & 0xff;
  out[o + 14] = h.window >>> 8;
  out[o + 15] = h.window & 0xff;
  out[o + 16] = h.checksum >>> 8;
  out[o + 17] = h.checksum & 0xff;
  out[o + 18] = h.urgentPointer >>> 8;
  out[o + 19] = h.urgentPointer & 0xff;
  out.set(h.options, o + 20);
  return out;
}

/** Decode the header at `offset`; `bytes` is the data offset in bytes (where the payload starts). */
export function decode(buf: Uint8Array, offset = 0): { value: TcpHeader; bytes: number } {
  const o = offset;
  if (buf.length - o < 20)
    throw new TcpError(
      TcpErrorCode.TRUNCATED,
      `${Math.max(0, buf.length - o)} bytes are shorter than the 20-byte header`,
      'header',
      o,
    );
  const dataOffset = buf[o + 12] >>> 4;
  // RFC 9293 §3.1: the data offset counts 32-bit words and the header is at least 5 of them.
  if (dataOffset < 5)
    throw new TcpError(
      TcpErrorCode.DECODE,
      `data offset ${dataOffset} is below the minimum of 5`,
      'dataOffset',
      o + 12,
    );
  const len = dataOffset * 4;
  if (buf.length - o < len)
    throw new TcpError(
      TcpErrorCode.TRUNCATED,
      `data offset ${dataOffset} needs ${len} bytes, ${buf.length - o} present`,
      'options',
      o + 20,
    );
  return {
    value: {
      sourcePort: (buf[o] << 8) | buf[o + 1],
      destinationPort: (buf[o + 2] << 8) | buf[o + 3],
      sequence: ((buf[o + 4] << 24) | (buf[o + 5] << 16) | (buf[o + 6] << 8) | buf[o + 7]) >>> 0,
      acknowledgment: ((buf[o + 8] << 24) | (buf[o + 9] << 16) | (buf[o + 10] << 8) | buf[o + 11]) >>> 0,
      reserved: buf[o + 12] & 0xf,
      flags: buf[o + 13],
      window: (buf[o + 14] << 8) | buf[o + 15],
      checksum: (buf[o + 16] << 8) | buf[o + 17],
      urgentPointer: (buf[o + 18] << 8) | buf[o + 19],
      options: buf.slice(o + 20, o + len),
    },
    bytes: len,
  };
}

/** The codec as one object. */
export const tcpHeader = { encode, decode, encodingLength };

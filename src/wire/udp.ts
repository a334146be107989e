/**
 * UDP headers (RFC 768): four 16-bit fields. The checksum covers a
 * pseudo-header and the payload, so the header codec writes it as given;
 * compute it with {@link transportChecksum} from ./checksum.js.
 */
import { ShadownetError } from '../core/errors.js';

/** Well-known UDP ports of the encapsulations the project decodes. */
export const UdpPort = { VXLAN: 4789, GENEVE: 6081 } as const;

export const UdpErrorCode = {
  TRUNCATED: 'SHADOWNET_ERR_UDP_TRUNCATED',
  DECODE: 'SHADOWNET_ERR_UDP_DECODE',
  ENCODE: 'SHADOWNET_ERR_UDP_ENCODE',
} as const;
export type UdpErrorCode = (typeof UdpErrorCode)[keyof typeof UdpErrorCode];

/** Malformed UDP bytes or an unencodable header; names the field and its offset. */
export class UdpError extends ShadownetError {
  constructor(
    code: UdpErrorCode,
    message: string,
    readonly field: string,
    readonly offset: number,
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`);
    this.name = 'UdpError';
  }
}

export interface UdpHeader {
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** Header plus payload, as the header says. */
  readonly length: number;
  readonly checksum: number;
}

export const UDP_HEADER_LENGTH = 8;

export function encodingLength(_h?: UdpHeader): number {
  return UDP_HEADER_LENGTH;
}

export function encode(h: UdpHeader, buf?: Uint8Array, offset = 0): Uint8Array {
  const out = buf ?? new Uint8Array(offset + 8);
  if (out.length < offset + 8)
    throw new UdpError(UdpErrorCode.ENCODE, 'buffer too small: need 8 bytes', 'header', offset);
  if (h.length < 8 || h.length > 0xffff)
    throw new UdpError(
      UdpErrorCode.ENCODE,
      `length ${h.length} is not between 8 and 65535`,
      'length',
      offset + 4,
    );
  const o = offset;
  out[o] = h.sourcePort >>> 8;
  out[o + 1] = h.sourcePort & 0xff;
  out[o + 2] = h.destinationPort >>> 8;
  out[o + 3] = h.destinationPort & 0xff;
  out[o + 4] = h.length >>> 8;
  out[o + 5] = h.length & 0xff;
  out[o + 6] = h.checksum >>> 8;
  out[o + 7] = h.checksum & 0xff;
  return out;
}

/** Decode the header at `offset`. A length below 8 cannot hold the header (RFC 768). */
export function decode(buf: Uint8Array, offset = 0): { value: UdpHeader; bytes: number } {
  const o = offset;
  if (buf.length - o < 8)
    throw new UdpError(
      UdpErrorCode.TRUNCATED,
      `${Math.max(0, buf.length - o)} bytes are shorter than the 8-byte header`,
      'header',
      o,
    );
  const length = (buf[o + 4] << 8) | buf[o + 5];
  if (length < 8)
    throw new UdpError(
      UdpErrorCode.DECODE,
      `length ${length} is shorter than the 8-byte header`,
      'length',
      o + 4,
    );
  return {
    value: {
      sourcePort: (buf[o] << 8) | buf[o + 1],
      destinationPort: (buf[o + 2] << 8) | buf[o + 3],
      length,
      checksum: (buf[o + 6] << 8) | buf[o + 7],
    },
    bytes: 8,
  };
}

/** The codec as one object. */
export const udpHeader = { encode, decode, encodingLength };

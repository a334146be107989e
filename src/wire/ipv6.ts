/**
 * IPv6 headers (RFC 8200) with the extension headers that follow them walked:
 * hop-by-hop options, routing, fragment, destination options (RFC 8200 §4)
 * and the authentication header (RFC 4302). The walk stops at the first next
 * header that is not one of these (the upper layer, ESP, "no next header", or
 * anything unknown), and after a fragment header whose offset is not zero,
 * since what follows it is the middle of a datagram.
 */
import { ShadownetError } from '../core/errors.js';
import { formatAddress, parseAddress } from '../core/prefix.js';

export const Ipv6ErrorCode = {
  TRUNCATED: 'SHADOWNET_ERR_IPV6_TRUNCATED',
  DECODE: 'SHADOWNET_ERR_IPV6_DECODE',
  ENCODE: 'SHADOWNET_ERR_IPV6_ENCODE',
} as const;
export type Ipv6ErrorCode = (typeof Ipv6ErrorCode)[keyof typeof Ipv6ErrorCode];

/** Malformed IPv6 bytes or an unencodable header; names the field and its offset. */
export class Ipv6Error extends ShadownetError {
  constructor(
    code: Ipv6ErrorCode,
    message: string,
    readonly field: string,
    readonly offset: number,
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`);
    this.name = 'Ipv6Error';
  }
}

/** Next-header values of the extension headers this codec walks. */
export const Ipv6ExtensionType = {
  HOP_BY_HOP: 0,
  ROUTING: 43,
  FRAGMENT: 44,
  AH: 51,
  DESTINATION_OPTIONS: 60,
} as const;

/** True for next-header values that the walk continues through. */
export function isWalkedExtension(nextHeader: number): boolean {
  return nextHeader === 0 || nextHeader === 43 || nextHeader === 44 || nextHeader === 51 || nextHeader === 60;
}

export type Ipv6Extension =
  | {
      readonly type: 'hop-by-hop' | 'destination-options';
      readonly nextHeader: number;
      /** The option TLVs and padding after the first two bytes, raw. */
      readonly options: Uint8Array;
    }
  | {
      readonly type: 'routing';
      readonly nextHeader: number;
      readonly routingType: number;
      readonly segmentsLeft: number;
      /** Type-specific data after the first four bytes, raw. */
      readonly data: Uint8Array;
    }
  | {
      readonly type: 'fragment';
      readonly nextHeader: number;
      /** The reserved byte and the two reserved bits, kept as found. */
      readonly reserved: number;
      readonly reservedBits: number;
      /** Offset of this fragment's data in bytes (a multiple of 8). */
      readonly fragmentOffset: number;
      readonly moreFragments: boolean;
      readonly identification: number;
    }
  | {
      readonly type: 'ah';
      readonly nextHeader: number;
      readonly reserved: number;
      readonly spi: number;
      readonly sequence: number;
      /** Integrity check value, raw. */
      readonly icv: Uint8Array;
    };

export interface Ipv6Header {
  readonly trafficClass: number;
  /** 20 bits. */
  readonly flowLabel: number;
  /** Bytes after the fixed 40-byte header, extension headers included, as the header says. */
  readonly payloadLength: number;
  /** Next header of the fixed header (the first extension header, or the upper layer). */
  readonly nextHeader: number;
  readonly hopLimit: number;
  readonly source: string;
  readonly destination: string;
  /** Extension headers in order. */
  readonly extensions: readonly Ipv6Extension[];
}

/** The protocol after the last walked extension header (what `ipv6.nxt` of the last header says). */
export function upperLayerProtocol(h: Ipv6Header): number {
  return h.extensions.length === 0 ? h.nextHeader : h.extensions[h.extensions.length - 1].nextHeader;
}

function extensionCode(e: Ipv6Extension): number {
  switch (e.type) {
    case 'hop-by-hop':
      return 0;
    case 'routing':
      return 43;
    case 'fragment':
      return 44;
    case 'ah':
      return 51;
    case 'destination-options':
      return 60;
  }
}

function extensionLength(e: Ipv6Extension): number {
  switch (e.type) {
    case 'hop-by-hop':
    case 'destination-options':
      return 2 + e.options.length;
    case 'routing':
      return 4 + e.data.length;
    case 'fragment':
      return 8;
    case 'ah':
      return 12 + e.icv.length;
  }
}

export function encodingLength(h: Ipv6Header): number {
  let n = 40;
  for (const e of h.extensions) n += extensionLength(e);
  return n;
}

function writeAddress(s: string, out: Uint8Array, o: number, field: string): void {
  const a = (() => {
    try {
      return parseAddress(s);
    } catch {
      return undefined;
    }
  })();
  if (!a || a.length !== 16)
    throw new Ipv6Error(Ipv6ErrorCode.ENCODE, `${JSON.stringify(s)} is not an IPv6 address`, field, o);
  out.set(a, o);
}

function u32(buf: Uint8Array, o: number): number {
  return ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
}

function putU32(buf: Uint8Array, o: number, v: number): void {
  buf[o] = v >>> 24;
  buf[o + 1] = (v >>> 16) & 0xff;
  buf[o + 2] = (v >>> 8) & 0xff;
  buf[o + 3] = v & 0xff;
}

/**
 * Encode the fixed header and its extension headers. Each extension's
 * position in the chain is given by the previous header's next-header field,
 * so `nextHeader` (and each extension's) must name the header that follows.
 */
export function encode(h: Ipv6Header, buf?: Uint8Array, offset = 0): Uint8Array {
  const len = encodingLength(h);
  const out = buf ?? new Uint8Array(offset + len);
  if (out.length < offset + len)
    throw new Ipv6Error(Ipv6ErrorCode.ENCODE, `buffer too small: need ${len} bytes`, 'header', offset);
  const o = offset;
  const w = (6 << 28) | ((h.trafficClass & 0xff) << 20) | (h.flowLabel & 0xfffff);
  putU32(out, o, w >>> 0);
  out[o + 4] = (h.payloadLength >>> 8) & 0xff;
  out[o + 5] = h.payloadLength & 0xff;
  out[o + 6] = h.nextHeader;
  out[o + 7] = h.hopLimit;
  writeAddress(h.source, out, o + 8, 'source');
  writeAddress(h.destination, out, o + 24, 'destination');
  let p = o + 40;
  let expected = h.nextHeader;
  h.extensions.forEach((e, i) => {
    const field = `extensions[${i}]`;
    if (expected !== extensionCode(e)) {
      throw new Ipv6Error(
        Ipv6ErrorCode.ENCODE,
        `previous next header ${expected} does not name this ${e.type} header`,
        field,
        p,
      );
    }
    const n = extensionLength(e);
    out[p] = e.nextHeader;
    switch (e.type) {
      case 'hop-by-hop':
      case 'destination-options':
      case 'routing':
        // RFC 8200 §4.3: Hdr Ext Len counts 8-octet units beyond the first 8.
        if (n % 8 !== 0)
          throw new Ipv6Error(
            Ipv6ErrorCode.ENCODE,
            `${e.type} header of ${n} bytes is not a multiple of 8`,
            field,
            p,
          );
        out[p + 1] = n / 8 - 1;
        if (e.type === 'routing') {
          out[p + 2] = e.routingType;
          out[p + 3] = e.segmentsLeft;
          out.set(e.data, p + 4);
        } else out.set(e.options, p + 2);
        break;
      case 'fragment':
        out[p + 1] = e.reserved;
        if (e.fragmentOffset % 8 !== 0)
          throw new Ipv6Error(
            Ipv6ErrorCode.ENCODE,
            `fragment offset ${e.fragmentOffset} is not a multiple of 8`,
            `${field}.fragmentOffset`,
            p + 2,
          );
        {
          const v = ((e.fragmentOffset >>> 3) << 3) | ((e.reservedBits & 3) << 1) | (e.moreFragments ? 1 : 0);
          out[p + 2] = (v >>> 8) & 0xff;
          out[p + 3] = v & 0xff;
        }
        putU32(out, p + 4, e.identification);
        break;
      case 'ah':
        // RFC 4302 §2.2: Payload Len is the AH length in 32-bit words minus 2.
        if (n % 4 !== 0)
          throw new Ipv6Error(Ipv6ErrorCode.ENCODE, `AH of ${n} bytes is not a multiple of 4`, field, p);
        out[p + 1] = n / 4 - 2;
        out[p + 2] = (e.reserved >>> 8) & 0xff;
        out[p + 3] = e.reserved & 0xff;
        putU32(out, p + 4, e.spi);
        putU32(out, p + 8, e.sequence);
        out.set(e.icv, p + 12);
        break;
    }
    expected = e.nextHeader;
    p += n;
  });
  return out;
}

/**
 * Decode the fixed header and walk the extension headers at `offset`. An
 * extension header that runs past the payload length the header declares is
 * a DECODE error; one cut off by the end of the buffer is TRUNCATED.
 */
export function decode(buf: Uint8Array, offset = 0): { value: Ipv6Header; bytes: number } {
  const o = offset;
  if (buf.length - o < 40)
    throw new Ipv6Error(
      Ipv6ErrorCode.TRUNCATED,
      `${Math.max(0, buf.length - o)} bytes are shorter than the 40-byte header`,
      'header',
      o,
    );
  const w = u32(buf, o);
  const version = w >>> 28;
  if (version !== 6) throw new Ipv6Error(Ipv6ErrorCode.DECODE, `version ${version} is not 6`, 'version', o);
  const payloadLength = (buf[o + 4] << 8) | buf[o + 5];
  const nextHeader = buf[o + 6];
  const declaredEnd = o + 40 + payloadLength;
  const extensions: Ipv6Extension[] = [];
  let nh = nextHeader;
  let p = o + 40;
  while (isWalkedExtension(nh)) {
    const field = `extensions[${extensions.length}]`;
    const need = (n: number): void => {
      // A jumbogram (payload length 0, RFC 2675) has no declared end to check against.
      if (payloadLength !== 0 && p + n > declaredEnd) {
        throw new Ipv6Error(
          Ipv6ErrorCode.DECODE,
          `extension header of ${n} bytes runs past the payload length ${payloadLength}`,
          field,
          p,
        );
      }
      if (p + n > buf.length)
        throw new Ipv6Error(
          Ipv6ErrorCode.TRUNCATED,
          `extension header of ${n} bytes cut short (${buf.length - p} present)`,
          field,
          p,
        );
    };
    need(nh === 44 ? 8 : 2);
    const next = buf[p];
    let n: number;
    let stop = false;
    if (nh === 44) {
      n = 8;
      const v = (buf[p + 2] << 8) | buf[p + 3];
      const fragmentOffset = (v >>> 3) * 8;
      extensions.push({
        type: 'fragment',
        nextHeader: next,
        reserved: buf[p + 1],
        reservedBits: (v >>> 1) & 3,
        fragmentOffset,
        moreFragments: (v & 1) !== 0,
        identification: u32(buf, p + 4),
      });
      stop = fragmentOffset !== 0;
    } else if (nh === 51) {
      n = (buf[p + 1] + 2) * 4;
      if (n < 12)
        throw new Ipv6Error(
          Ipv6ErrorCode.DECODE,
          `AH length ${n} is shorter than its 12 fixed bytes`,
          `${field}.payloadLength`,
          p + 1,
        );
      need(n);
      extensions.push({
        type: 'ah',
        nextHeader: next,
        reserved: (buf[p + 2] << 8) | buf[p + 3],
        spi: u32(buf, p + 4),
        sequence: u32(buf, p + 8),
        icv: buf.slice(p + 12, p + n),
      });
    } else {
      n = (buf[p + 1] + 1) * 8;
      need(n);
      if (nh === 43)
        extensions.push({
          type: 'routing',
          nextHeader: next,
          routingType: buf[p + 2],
          segmentsLeft: buf[p + 3],
          data: buf.slice(p + 4, p + n),
        });
      else
        extensions.push({
          type: nh === 0 ? 'hop-by-hop' : 'destination-options',
          nextHeader: next,
          options: buf.slice(p + 2, p + n),
        });
    }
    p += n;
    nh = next;
    if (stop) break;
  }
  return {
    value: {
      trafficClass: (w >>> 20) & 0xff,
      flowLabel: w & 0xfffff,
      payloadLength,
      nextHeader,
      hopLimit: buf[o + 7],
      source: formatAddress(buf, o + 8, 16),
      destination: formatAddress(buf, o + 24, 16),
      extensions,
    },
    bytes: p - o,
  };
}

/** The codec as one object. */
export const ipv6Header = { encode, decode, encodingLength };

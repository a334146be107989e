/**
 * GENEVE headers (RFC 8926 §3): 8 fixed bytes, then variable-length options,
 * in a UDP payload (port 6081). AWS Gateway Load Balancer sends traffic to
 * appliances this way, with its own TLV options (flow cookie, endpoint id);
 * options are kept raw here and split by {@link decodeGeneveOptions}.
 */
import { ShadownetError } from '../core/errors.js';
import { TunnelError, TunnelView } from './vxlan.js';

export const GENEVE_HEADER_LENGTH = 8;

export const GeneveErrorCode = {
  TRUNCATED: 'SHADOWNET_ERR_GENEVE_TRUNCATED',
  DECODE: 'SHADOWNET_ERR_GENEVE_DECODE',
  ENCODE: 'SHADOWNET_ERR_GENEVE_ENCODE',
} as const;
export type GeneveErrorCode = (typeof GeneveErrorCode)[keyof typeof GeneveErrorCode];

/** Malformed GENEVE bytes or an unencodable header; names the field and its offset. */
export class GeneveError extends ShadownetError {
  constructor(
    code: GeneveErrorCode,
    message: string,
    readonly field: string,
    readonly offset: number,
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`);
    this.name = 'GeneveError';
  }
}

export interface GeneveHeader {
  /** Always 0 (RFC 8926 §3.4: other versions are dropped). */
  readonly version: number;
  /** O bit: a control (OAM) packet. */
  readonly oam: boolean;
  /** C bit: critical options are present. */
  readonly critical: boolean;
  /** The six reserved bits after O and C, and the reserved byte after the VNI. */
  readonly reserved1: number;
  readonly reserved2: number;
  /** EtherType of the payload: 0x6558 Ethernet, 0x0800 IPv4, 0x86dd IPv6. */
  readonly protocolType: number;
  /** Virtual network identifier (24 bits). */
  readonly vni: number;
  /** Option TLVs, raw (a multiple of 4 bytes, at most 252). */
  readonly options: Uint8Array;
}

export interface GeneveOption {
  readonly optionClass: number;
  /** Type; its high bit marks the option critical. */
  readonly type: number;
  /** The three reserved bits before the length. */
  readonly reserved: number;
  /** Option data (a multiple of 4 bytes, at most 124). */
  readonly data: Uint8Array;
}

export function encodingLength(h: GeneveHeader): number {
  return GENEVE_HEADER_LENGTH + h.options.length;
}

export function encode(h: GeneveHeader, buf?: Uint8Array, offset = 0): Uint8Array {
  const len = encodingLength(h);
  const out = buf ?? new Uint8Array(offset + len);
  if (out.length < offset + len)
    throw new GeneveError(GeneveErrorCode.ENCODE, `buffer too small: need ${len} bytes`, 'header', offset);
  if (h.version !== 0)
    throw new GeneveError(GeneveErrorCode.ENCODE, `version ${h.version} is not 0`, 'version', offset);
  if (h.options.length % 4 !== 0 || h.options.length > 63 * 4) {
    throw new GeneveError(
      GeneveErrorCode.ENCODE,
      `options of ${h.options.length} bytes are not a multiple of 4 up to 252`,
      'options',
      offset + 8,
    );
  }
  if (h.vni < 0 || h.vni > 0xffffff)
    throw new GeneveError(GeneveErrorCode.ENCODE, `VNI ${h.vni} does not fit in 24 bits`, 'vni', offset + 4);
  const o = offset;
  out[o] = (h.version << 6) | (h.options.length / 4);
  out[o + 1] = (h.oam ? 0x80 : 0) | (h.critical ? 0x40 : 0) | (h.reserved1 & 0x3f);
  out[o + 2] = h.protocolType >>> 8;
  out[o + 3] = h.protocolType & 0xff;
  out[o + 4] = h.vni >>> 16;
  out[o + 5] = (h.vni >>> 8) & 0xff;
  out[o + 6] = h.vni & 0xff;
  out[o + 7] = h.reserved2 & 0xff;
  out.set(h.options, o + 8);
  return out;
}

/** Check that option TLVs tile `buf[start, end)` exactly; returns the offset at fault, or -1. */
function optionFault(buf: Uint8Array, start: number, end: number): number {
  let p = start;
  while (p < end) {
    if (p + 4 > end) return p;
    const n = 4 + (buf[p + 3] & 0x1f) * 4;
    if (p + n > end) return p;
    p += n;
  }
  return -1;
}

/**
 * Decode the header at `offset`. Proves the version is 0, the options fit
 * the buffer, and the option TLVs exactly fill the options length.
 */
export function decode(buf: Uint8Array, offset = 0): { value: GeneveHeader; bytes: number } {
  const o = offset;
  if (buf.length - o < 8)
    throw new GeneveError(
      GeneveErrorCode.TRUNCATED,
      `${Math.max(0, buf.length - o)} bytes are shorter than the 8-byte header`,
      'header',
      o,
    );
  const version = buf[o] >>> 6;
  if (version !== 0)
    throw new GeneveError(GeneveErrorCode.DECODE, `version ${version} is not 0`, 'version', o);
  const optLen = (buf[o] & 0x3f) * 4;
  if (buf.length - o < 8 + optLen) {
    throw new GeneveError(
      GeneveErrorCode.TRUNCATED,
      `options length ${optLen} runs past the ${buf.length - o - 8} bytes present`,
      'optionsLength',
      o,
    );
  }
  const fault = optionFault(buf, o + 8, o + 8 + optLen);
  if (fault >= 0)
    throw new GeneveError(
      GeneveErrorCode.DECODE,
      `option overruns the options length ${optLen}`,
      'options.length',
      fault,
    );
  return {
    value: {
      version,
      oam: (buf[o + 1] & 0x80) !== 0,
      critical: (buf[o + 1] & 0x40) !== 0,
      reserved1: buf[o + 1] & 0x3f,
      protocolType: (buf[o + 2] << 8) | buf[o + 3],
      vni: (buf[o + 4] << 16) | (buf[o + 5] << 8) | buf[o + 6],
      reserved2: buf[o + 7],
      options: buf.slice(o + 8, o + 8 + optLen),
    },
    bytes: 8 + optLen,
  };
}

/** The codec as one object. */
export const geneveHeader = { encode, decode, encodingLength };

/** Split raw option bytes into TLVs (RFC 8926 §3.5). Throws GeneveError when one overruns. */
export function decodeGeneveOptions(raw: Uint8Array): GeneveOption[] {
  const fault = optionFault(raw, 0, raw.length);
  if (fault >= 0)
    throw new GeneveError(
      GeneveErrorCode.DECODE,
      `option overruns the ${raw.length} option bytes`,
      'options.length',
      fault,
    );
  const out: GeneveOption[] = [];
  for (let p = 0; p < raw.length;) {
    const n = (raw[p + 3] & 0x1f) * 4;
    out.push({
      optionClass: (raw[p] << 8) | raw[p + 1],
      type: raw[p + 2],
      reserved: raw[p + 3] >>> 5,
      data: raw.slice(p + 4, p + 4 + n),
    });
    p += 4 + n;
  }
  return out;
}

/** Encode TLVs into raw option bytes for {@link GeneveHeader.options}. */
export function encodeGeneveOptions(options: readonly GeneveOption[]): Uint8Array {
  const total = options.reduce((n, x) => n + 4 + x.data.length, 0);
  const out = new Uint8Array(total);
  let p = 0;
  for (const [i, x] of options.entries()) {
    if (x.data.length % 4 !== 0 || x.data.length > 31 * 4) {
      throw new GeneveError(
        GeneveErrorCode.ENCODE,
        `option data of ${x.data.length} bytes is not a multiple of 4 up to 124`,
        `options[${i}].data`,
        p,
      );
    }
    out[p] = x.optionClass >>> 8;
    out[p + 1] = x.optionClass & 0xff;
    out[p + 2] = x.type;
    out[p + 3] = ((x.reserved & 7) << 5) | (x.data.length / 4);
    out.set(x.data, p + 4);
    p += 4 + x.data.length;
  }
  return out;
}

/**
 * Find the inner packet of the GENEVE UDP payload `data[offset, offset+length)`.
 * Returns `out` filled in (inner link type 1 for Ethernet, 228 IPv4, 229 IPv6,
 * by protocol type) or a {@link TunnelError} code. Allocates nothing when
 * `out` is given.
 */
export function decapsulateGeneve(
  data: Uint8Array,
  offset: number,
  length: number,
  out: TunnelView = new TunnelView(),
): TunnelView | TunnelError {
  const end = Math.min(offset + length, data.length);
  if (offset < 0 || end - offset < GENEVE_HEADER_LENGTH) return TunnelError.TRUNCATED;
  if (data[offset] >>> 6 !== 0) return TunnelError.GENEVE_BAD_VERSION;
  const optLen = (data[offset] & 0x3f) * 4;
  const inner = offset + GENEVE_HEADER_LENGTH + optLen;
  if (inner > end || optionFault(data, offset + GENEVE_HEADER_LENGTH, inner) >= 0)
    return TunnelError.GENEVE_BAD_OPTION_LENGTH;
  const pt = (data[offset + 2] << 8) | data[offset + 3];
  let linkType: number;
  if (pt === 0x6558) linkType = 1;
  else if (pt === 0x0800) linkType = 228;
  else if (pt === 0x86dd) linkType = 229;
  else return TunnelError.GENEVE_UNSUPPORTED_PROTOCOL;
  out.vni = (data[offset + 4] << 16) | (data[offset + 5] << 8) | data[offset + 6];
  out.innerOffset = inner;
  out.innerLength = end - inner;
  out.innerLinkType = linkType;
  out.protocolType = pt;
  out.optionsOffset = offset + GENEVE_HEADER_LENGTH;
  out.optionsLength = optLen;
  out.oam = (data[offset + 1] & 0x80) !== 0;
  out.critical = (data[offset + 1] & 0x40) !== 0;
  return out;
}

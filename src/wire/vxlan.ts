/**
 * VXLAN headers (RFC 7348 §5): 8 bytes in a UDP payload (port 4789), then
 * an Ethernet frame. AWS Traffic Mirroring delivers mirrored packets this
 * way, with the VNI naming the mirror session. Reserved fields are kept as
 * found so a header re-encodes byte-exact.
 *
 * Also here: the allocation-free decapsulation helpers' shared result type
 * ({@link TunnelView}) and error registry ({@link TunnelError}).
 */
import { ShadownetError } from '../core/errors.js';

export const VXLAN_HEADER_LENGTH = 8;
/** The I flag: the VNI is valid (RFC 7348 §5). */
export const VXLAN_FLAG_I = 0x08;

export const VxlanErrorCode = {
  TRUNCATED: 'SHADOWNET_ERR_VXLAN_TRUNCATED',
  DECODE: 'SHADOWNET_ERR_VXLAN_DECODE',
  ENCODE: 'SHADOWNET_ERR_VXLAN_ENCODE',
} as const;
export type VxlanErrorCode = (typeof VxlanErrorCode)[keyof typeof VxlanErrorCode];

/** Malformed VXLAN bytes or an unencodable header; names the field and its offset. */
export class VxlanError extends ShadownetError {
  constructor(
    code: VxlanErrorCode,
    message: string,
    readonly field: string,
    readonly offset: number,
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`);
    this.name = 'VxlanError';
  }
}

export interface VxlanHeader {
  /** The flags byte as found; the I bit (0x08) is always set. */
  readonly flags: number;
  /** The 24 reserved bits after the flags (zero on transmission, ignored on receipt). */
  readonly reserved1: number;
  /** VXLAN network identifier (24 bits). */
  readonly vni: number;
  /** The reserved byte after the VNI. */
  readonly reserved2: number;
}

/** A header for `vni` with every reserved bit zero. */
export function vxlanHeaderFor(vni: number): VxlanHeader {
  return { flags: VXLAN_FLAG_I, reserved1: 0, vni, reserved2: 0 };
}

export function encodingLength(_h?: VxlanHeader): number {
  return VXLAN_HEADER_LENGTH;
}

export function encode(h: VxlanHeader, buf?: Uint8Array, offset = 0): Uint8Array {
  const out = buf ?? new Uint8Array(offset + 8);
  if (out.length < offset + 8)
    throw new VxlanError(VxlanErrorCode.ENCODE, 'buffer too small: need 8 bytes', 'header', offset);
  if ((h.flags & VXLAN_FLAG_I) === 0)
    throw new VxlanError(VxlanErrorCode.ENCODE, 'the I flag must be set', 'flags', offset);
  if (h.vni < 0 || h.vni > 0xffffff)
    throw new VxlanError(VxlanErrorCode.ENCODE, `VNI ${h.vni} does not fit in 24 bits`, 'vni', offset + 4);
  const o = offset;
  out[o] = h.flags & 0xff;
  out[o + 1] = (h.reserved1 >>> 16) & 0xff;
  out[o + 2] = (h.reserved1 >>> 8) & 0xff;
  out[o + 3] = h.reserved1 & 0xff;
  out[o + 4] = h.vni >>> 16;
  out[o + 5] = (h.vni >>> 8) & 0xff;
  out[o + 6] = h.vni & 0xff;
  out[o + 7] = h.reserved2 & 0xff;
  return out;
}

/** Decode the header at `offset`; the inner Ethernet frame follows at `offset + 8`. */
export function decode(buf: Uint8Array, offset = 0): { value: VxlanHeader; bytes: number } {
  const o = offset;
  if (buf.length - o < 8)
    throw new VxlanError(
      VxlanErrorCode.TRUNCATED,
      `${Math.max(0, buf.length - o)} bytes are shorter than the 8-byte header`,
      'header',
      o,
    );
  // RFC 7348 §5: the I flag MUST be set to 1 for a valid VNI.
  if ((buf[o] & VXLAN_FLAG_I) === 0)
    throw new VxlanError(
      VxlanErrorCode.DECODE,
      `I flag clear in flags 0x${buf[o].toString(16).padStart(2, '0')}`,
      'flags',
      o,
    );
  return {
    value: {
      flags: buf[o],
      reserved1: (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3],
      vni: (buf[o + 4] << 16) | (buf[o + 5] << 8) | buf[o + 6],
      reserved2: buf[o + 7],
    },
    bytes: 8,
  };
}

/** The codec as one object. */
export const vxlanHeader = { encode, decode, encodingLength };

// ---------------------------------------------------------------------------
// Allocation-free decapsulation

/** Why a tunnel payload could not be decapsulated (kebab-case names for drop counters). */
export const TunnelError = {
  NONE: 0,
  TRUNCATED: 1,
  VXLAN_I_FLAG_CLEAR: 2,
  GENEVE_BAD_VERSION: 3,
  GENEVE_BAD_OPTION_LENGTH: 4,
  GENEVE_UNSUPPORTED_PROTOCOL: 5,
} as const;
export type TunnelError = (typeof TunnelError)[keyof typeof TunnelError];

const TUNNEL_ERROR_NAMES = [
  'none',
  'tunnel-truncated',
  'vxlan-i-flag-clear',
  'geneve-bad-version',
  'geneve-bad-option-length',
  'geneve-unsupported-protocol',
];

/** `vxlan-i-flag-clear`, …, or `UNKNOWN_<n>`. */
export function tunnelErrorName(e: number): string {
  return TUNNEL_ERROR_NAMES[e] ?? `UNKNOWN_${e}`;
}

/** Where the inner packet of a tunnel payload lies. Reuse one per loop. */
export class TunnelView {
  /** VXLAN or GENEVE network identifier. */
  vni = 0;
  /** Offset and length of the inner packet in the buffer that was passed in. */
  innerOffset = 0;
  innerLength = 0;
  /** Link type of the inner packet: 1 Ethernet, 228 IPv4, 229 IPv6. */
  innerLinkType = 1;
  /** GENEVE only: protocol type, the options' offset and length, and the O and C bits. */
  protocolType = 0;
  optionsOffset = 0;
  optionsLength = 0;
  oam = false;
  critical = false;
}

/**
 * Find the inner Ethernet frame of the VXLAN UDP payload
 * `data[offset, offset+length)`. Returns `out` filled in, or a
 * {@link TunnelError} code. Allocates nothing when `out` is given.
 */
export function decapsulateVxlan(
  data: Uint8Array,
  offset: number,
  length: number,
  out: TunnelView = new TunnelView(),
): TunnelView | TunnelError {
  if (length < VXLAN_HEADER_LENGTH || offset < 0 || offset + VXLAN_HEADER_LENGTH > data.length)
    return TunnelError.TRUNCATED;
  if ((data[offset] & VXLAN_FLAG_I) === 0) return TunnelError.VXLAN_I_FLAG_CLEAR;
  out.vni = (data[offset + 4] << 16) | (data[offset + 5] << 8) | data[offset + 6];
  out.innerOffset = offset + VXLAN_HEADER_LENGTH;
  out.innerLength = Math.min(length, data.length - offset) - VXLAN_HEADER_LENGTH;
  out.innerLinkType = 1;
  out.protocolType = 0x6558;
  out.optionsOffset = 0;
  out.optionsLength = 0;
  out.oam = false;
  out.critical = false;
  return out;
}

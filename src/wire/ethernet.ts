/**
 * Ethernet II frame headers (IEEE 802.3 clause 3) with any number of
 * 802.1Q / 802.1ad VLAN tags. The codec covers the header only: destination,
 * source, tags and the EtherType; the payload follows at `offset + bytes`.
 * The frame check sequence is not part of captured frames and is not handled.
 */
import { ShadownetError } from '../core/errors.js';

/** EtherTypes the project meets (IEEE registry). */
export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPV6: 0x86dd,
  QINQ: 0x88a8,
  /** Pre-standard QinQ outer tag, still sent by some switches. */
  QINQ_LEGACY: 0x9100,
  TRANSPARENT_ETHERNET_BRIDGING: 0x6558,
  MPLS: 0x8847,
  LLDP: 0x88cc,
} as const;
export type EtherType = (typeof EtherType)[keyof typeof EtherType];

const ETHER_TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(EtherType).map(([k, v]) => [v, k]),
);

/** `IPV4`, `VLAN`, …, or `UNKNOWN_<n>`. */
export function etherTypeName(type: number): string {
  return ETHER_TYPE_NAMES[type] ?? `UNKNOWN_${type}`;
}

/** True for the tag protocol identifiers that introduce a VLAN tag. */
export function isVlanTpid(type: number): boolean {
  return type === EtherType.VLAN || type === EtherType.QINQ || type === EtherType.QINQ_LEGACY;
}

export const EthernetErrorCode = {
  TRUNCATED: 'SHADOWNET_ERR_ETHERNET_TRUNCATED',
  DECODE: 'SHADOWNET_ERR_ETHERNET_DECODE',
  ENCODE: 'SHADOWNET_ERR_ETHERNET_ENCODE',
} as const;
export type EthernetErrorCode = (typeof EthernetErrorCode)[keyof typeof EthernetErrorCode];

/** Malformed Ethernet bytes or an unencodable header; names the field and its offset. */
export class EthernetError extends ShadownetError {
  constructor(
    code: EthernetErrorCode,
    message: string,
    readonly field: string,
    readonly offset: number,
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`);
    this.name = 'EthernetError';
  }
}

/** One VLAN tag: TPID and the tag control information split into its fields. */
export interface VlanTag {
  /** 0x8100 (802.1Q), 0x88a8 (802.1ad service tag) or 0x9100. */
  readonly tpid: number;
  /** Priority code point (3 bits). */
  readonly pcp: number;
  /** Drop eligible indicator. */
  readonly dei: boolean;
  /** VLAN identifier (12 bits). */
  readonly vid: number;
}

export interface EthernetHeader {
  /** `aa:bb:cc:dd:ee:ff`, lower case. */
  readonly destination: string;
  readonly source: string;
  /** Outermost tag first. */
  readonly tags: readonly VlanTag[];
  /**
   * EtherType of the payload. Values below 0x0600 are an IEEE 802.3 length
   * field instead (an LLC frame); they are kept as found.
   */
  readonly etherType: number;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Six bytes at `offset` as `aa:bb:cc:dd:ee:ff`. */
export function formatMac(buf: Uint8Array, offset = 0): string {
  return `${HEX[buf[offset]]}:${HEX[buf[offset + 1]]}:${HEX[buf[offset + 2]]}:${HEX[buf[offset + 3]]}:${HEX[buf[offset + 4]]}:${HEX[buf[offset + 5]]}`;
}

/** Parse `aa:bb:cc:dd:ee:ff` (or `-` separated) into `buf` at `offset`. */
export function writeMac(mac: string, buf: Uint8Array, offset: number, field = 'mac'): void {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new EthernetError(
      EthernetErrorCode.ENCODE,
      `${JSON.stringify(mac)} is not a MAC address`,
      field,
      offset,
    );
  }
  for (let i = 0; i < 6; i++) buf[offset + i] = parseInt(parts[i], 16);
}

/** Bytes the header takes: 14, plus 4 per tag. */
export function encodingLength(h: EthernetHeader): number {
  return 14 + 4 * h.tags.length;
}

export function encode(h: EthernetHeader, buf?: Uint8Array, offset = 0): Uint8Array {
  const len = encodingLength(h);
  const out = buf ?? new Uint8Array(offset + len);
  if (out.length < offset + len)
    throw new EthernetError(
      EthernetErrorCode.ENCODE,
      `buffer too small: need ${len} bytes`,
      'header',
      offset,
    );
  writeMac(h.destination, out, offset, 'destination');
  writeMac(h.source, out, offset + 6, 'source');
  let o = offset + 12;
  for (const t of h.tags) {
    if (!isVlanTpid(t.tpid))
      throw new EthernetError(
        EthernetErrorCode.ENCODE,
        `TPID 0x${t.tpid.toString(16)} is not a VLAN tag`,
        'tags.tpid',
        o,
      );
    if (t.vid < 0 || t.vid > 0xfff || t.pcp < 0 || t.pcp > 7)
      throw new EthernetError(
        EthernetErrorCode.ENCODE,
        `VLAN tag out of range (pcp ${t.pcp}, vid ${t.vid})`,
        'tags.tci',
        o + 2,
      );
    const tci = (t.pcp << 13) | (t.dei ? 0x1000 : 0) | t.vid;
    out[o] = t.tpid >>> 8;
    out[o + 1] = t.tpid & 0xff;
    out[o + 2] = tci >>> 8;
    out[o + 3] = tci & 0xff;
    o += 4;
  }
  out[o] = (h.etherType >>> 8) & 0xff;
  out[o + 1] = h.etherType & 0xff;
  return out;
}

/**
 * Decode the header at `offset`. Tags are read while the type field holds a
 * VLAN TPID (802.1Q §9.5; 802.1ad stacks the S-tag before the C-tag).
 */
export function decode(buf: Uint8Array, offset = 0): { value: EthernetHeader; bytes: number } {
  if (buf.length - offset < 14) {
    throw new EthernetError(
      EthernetErrorCode.TRUNCATED,
      `frame of ${Math.max(0, buf.length - offset)} bytes is shorter than the 14-byte header`,
      'header',
      offset,
    );
  }
  const destination = formatMac(buf, offset);
  const source = formatMac(buf, offset + 6);
  let o = offset + 12;
  let type = (buf[o] << 8) | buf[o + 1];
  const tags: VlanTag[] = [];
  while (isVlanTpid(type)) {
    if (buf.length - o < 6)
      throw new EthernetError(EthernetErrorCode.TRUNCATED, 'VLAN tag cut short', `tags[${tags.length}]`, o);
    const tci = (buf[o + 2] << 8) | buf[o + 3];
    tags.push({ tpid: type, pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0xfff });
    o += 4;
    type = (buf[o] << 8) | buf[o + 1];
  }
  return { value: { destination, source, tags, etherType: type }, bytes: o + 2 - offset };
}

/** The codec as one object. */
export const ethernetHeader = { encode, decode, encodingLength };

/**
 * MRT routing information export format (RFC 6396, with RFC 8050 ADD-PATH
 * subtypes): a pure codec for records, no I/O. Route attributes and BGP
 * messages inside records are kept as raw bytes so a record re-encodes
 * byte-exact and a reader pays for attribute decoding only when it asks.
 *
 * Each structure follows the project's codec shape: `encode(value, buf?, offset?)`,
 * `decode(buf, offset?) → { value, bytes }`, `encodingLength(value)`.
 */
import { ShadownetError } from '../core/errors.js';
import { Afi, formatAddress, maskAddress, parseAddress, type Prefix } from '../core/prefix.js';

// ---------------------------------------------------------------------------
// Registries

/** MRT record types (RFC 6396 §4, IANA "MRT Types"). */
export const MrtType = {
  OSPFV2: 11,
  TABLE_DUMP: 12,
  TABLE_DUMP_V2: 13,
  BGP4MP: 16,
  BGP4MP_ET: 17,
  ISIS: 32,
  ISIS_ET: 33,
  OSPFV3: 48,
  OSPFV3_ET: 49,
} as const;
export type MrtType = (typeof MrtType)[keyof typeof MrtType];

/** TABLE_DUMP subtypes are the AFI of the entry (RFC 6396 §4.2). */
export const TableDumpSubtype = { AFI_IPV4: 1, AFI_IPV6: 2 } as const;

/** TABLE_DUMP_V2 subtypes (RFC 6396 §4.3, RFC 8050 §4). */
export const TableDumpV2Subtype = {
  PEER_INDEX_TABLE: 1,
  RIB_IPV4_UNICAST: 2,
  RIB_IPV4_MULTICAST: 3,
  RIB_IPV6_UNICAST: 4,
  RIB_IPV6_MULTICAST: 5,
  RIB_GENERIC: 6,
  GEO_PEER_TABLE: 7,
  RIB_IPV4_UNICAST_ADDPATH: 8,
  RIB_IPV4_MULTICAST_ADDPATH: 9,
  RIB_IPV6_UNICAST_ADDPATH: 10,
  RIB_IPV6_MULTICAST_ADDPATH: 11,
  RIB_GENERIC_ADDPATH: 12,
} as const;

/** BGP4MP / BGP4MP_ET subtypes (RFC 6396 §4.4, RFC 8050 §3). */
export const Bgp4mpSubtype = {
  STATE_CHANGE: 0,
  MESSAGE: 1,
  MESSAGE_AS4: 4,
  STATE_CHANGE_AS4: 5,
  MESSAGE_LOCAL: 6,
  MESSAGE_AS4_LOCAL: 7,
  MESSAGE_ADDPATH: 8,
  MESSAGE_AS4_ADDPATH: 9,
  MESSAGE_LOCAL_ADDPATH: 10,
  MESSAGE_AS4_LOCAL_ADDPATH: 11,
} as const;

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MrtType).map(([k, v]) => [v, k]));
const TDV2_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(TableDumpV2Subtype).map(([k, v]) => [v, k]),
);
const BGP4MP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Bgp4mpSubtype).map(([k, v]) => [v, k]));

/** `TABLE_DUMP_V2`, or `UNKNOWN_<n>`. */
export function mrtTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `UNKNOWN_${type}`;
}

/** `RIB_IPV4_UNICAST`, `MESSAGE_AS4`, …, or `UNKNOWN_<n>`. */
export function mrtSubtypeName(type: number, subtype: number): string {
  if (type === MrtType.TABLE_DUMP_V2) return TDV2_NAMES[subtype] ?? `UNKNOWN_${subtype}`;
  if (type === MrtType.BGP4MP || type === MrtType.BGP4MP_ET) return BGP4MP_NAMES[subtype] ?? `UNKNOWN_${subtype}`;
  if (type === MrtType.TABLE_DUMP) return subtype === 1 ? 'AFI_IPV4' : subtype === 2 ? 'AFI_IPV6' : `UNKNOWN_${subtype}`;
  return `UNKNOWN_${subtype}`;
}

/** True for the types whose header carries a microsecond timestamp (RFC 6396 §3). */
export function isExtendedTimestampType(type: number): boolean {
  return type === MrtType.BGP4MP_ET || type === MrtType.ISIS_ET || type === MrtType.OSPFV3_ET;
}

// ---------------------------------------------------------------------------
// Errors

export const MrtErrorCode = {
  DECODE: 'SHADOWNET_ERR_MRT_DECODE',
  TRUNCATED: 'SHADOWNET_ERR_MRT_TRUNCATED',
  ENCODE: 'SHADOWNET_ERR_MRT_ENCODE',
  UNSUPPORTED_COMPRESSION: 'SHADOWNET_ERR_MRT_UNSUPPORTED_COMPRESSION',
} as const;
export type MrtErrorCode = (typeof MrtErrorCode)[keyof typeof MrtErrorCode];

/** Malformed MRT bytes; names the field and its offset from the start of the record. */
export class MrtDecodeError extends ShadownetError {
  constructor(
    message: string,
    readonly field: string,
    readonly offset: number,
    code: MrtErrorCode = MrtErrorCode.DECODE,
    options?: { cause?: unknown },
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`, options);
    this.name = 'MrtDecodeError';
  }
}

export class MrtEncodeError extends ShadownetError {
  constructor(message: string) {
    super(MrtErrorCode.ENCODE, message);
    this.name = 'MrtEncodeError';
  }
}

// ---------------------------------------------------------------------------
// Model

/** The MRT common header (RFC 6396 §2); `length` counts the body only. */
export interface MrtHeader {
  /** Seconds since the Unix epoch. */
  readonly timestamp: number;
  readonly type: number;
  readonly subtype: number;
  /** Length of the message field, microsecond timestamp excluded. */
  readonly length: number;
  /** Microseconds, for the _ET types. */
  readonly microseconds?: number;
}

export interface MrtPeerEntry {
  /** Peer Type bits: 0x01 IPv6 address, 0x02 4-octet AS (RFC 6396 §4.3.1). */
  readonly peerType: number;
  readonly bgpId: string;
  readonly address: string;
  readonly asn: number;
}

export interface MrtRibEntry {
  readonly peerIndex: number;
  /** Seconds since the Unix epoch. */
  readonly originatedTime: number;
  /** RFC 8050 path identifier, for the _ADDPATH subtypes. */
  readonly pathId?: number;
  /**
   * BGP path attributes as written: 4-octet ASNs, and MP_REACH_NLRI abbreviated
   * to next-hop length and next hop (RFC 6396 §4.3.4).
   */
  readonly attributes: Uint8Array;
}

export type MrtBody =
  | {
      /** TABLE_DUMP (type 12): one route per record, 2-octet ASNs. */
      readonly kind: 'table-dump';
      readonly viewNumber: number;
      readonly sequence: number;
      readonly prefix: Prefix;
      readonly status: number;
      readonly originatedTime: number;
      readonly peerAddress: string;
      readonly peerAs: number;
      readonly attributes: Uint8Array;
    }
  | {
      readonly kind: 'peer-index-table';
      readonly collectorBgpId: string;
      readonly viewName: string;
      readonly peers: readonly MrtPeerEntry[];
    }
  | {
      /** RIB_IPV4/IPV6_UNICAST/MULTICAST and their _ADDPATH forms. */
      readonly kind: 'rib';
      readonly sequence: number;
      readonly prefix: Prefix;
      readonly safi: 1 | 2;
      readonly addPath: boolean;
      readonly entries: readonly MrtRibEntry[];
    }
  | {
      /** RIB_GENERIC(_ADDPATH): the NLRI is kept raw (length octet + bits). */
      readonly kind: 'rib-generic';
      readonly sequence: number;
      readonly afi: number;
      readonly safi: number;
      readonly nlri: Uint8Array;
      readonly addPath: boolean;
      readonly entries: readonly MrtRibEntry[];
    }
  | {
      readonly kind: 'bgp4mp-state-change';
      readonly asnBytes: 2 | 4;
      readonly peerAs: number;
      readonly localAs: number;
      readonly interfaceIndex: number;
      readonly afi: Afi;
      readonly peerAddress: string;
      readonly localAddress: string;
      /** RFC 6396 §4.4.1 state codes: 1 Idle … 6 Established. */
      readonly oldState: number;
      readonly newState: number;
    }
  | {
      readonly kind: 'bgp4mp-message';
      readonly asnBytes: 2 | 4;
      /** The message was sent by the local speaker (MESSAGE_LOCAL subtypes). */
      readonly local: boolean;
      /** NLRI in the message carry RFC 7911 path identifiers (RFC 8050). */
      readonly addPath: boolean;
      readonly peerAs: number;
      readonly localAs: number;
      readonly interfaceIndex: number;
      readonly afi: Afi;
      readonly peerAddress: string;
      readonly localAddress: string;
      /** The whole BGP message, header included. */
      readonly message: Uint8Array;
    }
  /** A type or subtype not decoded here, kept byte-exact. */
  | { readonly kind: 'unknown'; readonly bytes: Uint8Array };

export interface MrtRecord {
  readonly timestamp: number;
  /** Present for the _ET types (BGP4MP_ET …). */
  readonly microseconds?: number;
  readonly type: number;
  readonly subtype: number;
  readonly body: MrtBody;
}

export const MRT_HEADER_LENGTH = 12;

// ---------------------------------------------------------------------------
// Helpers

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

class Cursor {
  readonly dv: DataView;
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
    /** Offset of the record start, so errors report record-relative offsets. */
    readonly base: number,
  ) {
    this.dv = view(buf);
  }
  need(n: number, field: string): void {
    if (this.pos + n > this.end) {
      throw new MrtDecodeError(
        `needs ${n} bytes, ${Math.max(0, this.end - this.pos)} left`,
        field,
        this.pos - this.base,
        MrtErrorCode.TRUNCATED,
      );
    }
  }
  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++];
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.dv.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.dv.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  asn(bytes: 2 | 4, field: string): number {
    return bytes === 4 ? this.u32(field) : this.u16(field);
  }
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  address(len: 4 | 16, field: string): string {
    this.need(len, field);
    const s = formatAddress(this.buf, this.pos, len);
    this.pos += len;
    return s;
  }
  get offset(): number {
    return this.pos - this.base;
  }
}

class Writer {
  readonly dv: DataView;
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
  ) {
    this.dv = view(buf);
  }
  u8(v: number): void {
    this.buf[this.pos++] = v & 0xff;
  }
  u16(v: number): void {
    this.dv.setUint16(this.pos, v);
    this.pos += 2;
  }
  u32(v: number): void {
    this.dv.setUint32(this.pos, v >>> 0);
    this.pos += 4;
  }
  asn(bytes: 2 | 4, v: number): void {
    if (bytes === 4) this.u32(v);
    else this.u16(v);
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  address(s: string, len: 4 | 16, what: string): void {
    const a = parseAddress(s);
    if (a.length !== len) throw new MrtEncodeError(`${what} ${s} is not an IPv${len === 4 ? 4 : 6} address`);
    this.bytes(a);
  }
}

function afiLength(afi: number): 4 | 16 {
  return afi === Afi.IPV6 ? 16 : 4;
}

function addressFamilyOf(s: string): Afi {
  return s.includes(':') ? Afi.IPV6 : Afi.IPV4;
}

// ---------------------------------------------------------------------------
// Header

export const mrtHeader = {
  /** Header size for `type`: 12, or 16 with the microsecond field. */
  encodingLength(type: number): number {
    return isExtendedTimestampType(type) ? 16 : 12;
  },
  /**
   * Decode the common header. For _ET types the Length field counts the
   * microsecond timestamp (RFC 6396 §3); `length` here excludes it.
   */
  decode(buf: Uint8Array, offset = 0): { value: MrtHeader; bytes: number } {
    const c = new Cursor(buf, offset, buf.length, offset);
    const timestamp = c.u32('timestamp');
    const type = c.u16('type');
    const subtype = c.u16('subtype');
    let length = c.u32('length');
    if (!isExtendedTimestampType(type)) return { value: { timestamp, type, subtype, length }, bytes: 12 };
    if (length < 4) throw new MrtDecodeError(`length ${length} is shorter than the microsecond timestamp`, 'length', 8);
    const microseconds = c.u32('microseconds');
    length -= 4;
    return { value: { timestamp, type, subtype, length, microseconds }, bytes: 16 };
  },
  encode(h: MrtHeader, buf?: Uint8Array, offset = 0): Uint8Array {
    const et = isExtendedTimestampType(h.type);
    const out = buf ?? new Uint8Array(offset + (et ? 16 : 12));
    const w = new Writer(out, offset);
    w.u32(h.timestamp);
    w.u16(h.type);
    w.u16(h.subtype);
    w.u32(h.length + (et ? 4 : 0));
    if (et) w.u32(h.microseconds ?? 0);
    return out;
  },
};

// ---------------------------------------------------------------------------
// Bodies

function decodePrefix(c: Cursor, afi: Afi, field: string): Prefix {
  const at = c.offset;
  const length = c.u8(`${field}.length`);
  const max = afi === Afi.IPV4 ? 32 : 128;
  if (length > max) throw new MrtDecodeError(`prefix length ${length} exceeds ${max}`, `${field}.length`, at);
  const n = (length + 7) >> 3;
  const address = new Uint8Array(afi === Afi.IPV4 ? 4 : 16);
  address.set(c.bytes(n, field));
  return { afi, length, address: maskAddress(address, length) };
}

function ribEntriesLength(entries: readonly MrtRibEntry[], addPath: boolean): number {
  let n = 2;
  for (const e of entries) n += 8 + (addPath ? 4 : 0) + e.attributes.length;
  return n;
}

function decodeRibEntries(c: Cursor, addPath: boolean): MrtRibEntry[] {
  const count = c.u16('entryCount');
  const entries: MrtRibEntry[] = [];
  for (let i = 0; i < count; i++) {
    const f = `entries[${i}]`;
    const peerIndex = c.u16(`${f}.peerIndex`);
    const originatedTime = c.u32(`${f}.originatedTime`);
    // RFC 8050 §4.1: the path identifier follows the originated time.
    const pathId = addPath ? c.u32(`${f}.pathId`) : undefined;
    const len = c.u16(`${f}.attributeLength`);
    const attributes = c.bytes(len, `${f}.attributes`);
    entries.push(pathId === undefined ? { peerIndex, originatedTime, attributes } : { peerIndex, originatedTime, pathId, attributes });
  }
  return entries;
}

function encodeRibEntries(w: Writer, entries: readonly MrtRibEntry[], addPath: boolean): void {
  if (entries.length > 0xffff) throw new MrtEncodeError(`a RIB record holds at most 65535 entries, got ${entries.length}`);
  w.u16(entries.length);
  for (const e of entries) {
    if (e.attributes.length > 0xffff) throw new MrtEncodeError('RIB entry attributes exceed 65535 bytes');
    w.u16(e.peerIndex);
    w.u32(e.originatedTime);
    if (addPath) w.u32(e.pathId ?? 0);
    w.u16(e.attributes.length);
    w.bytes(e.attributes);
  }
}

const RIB_SUBTYPES: Record<number, { afi: Afi; safi: 1 | 2; addPath: boolean }> = {
  2: { afi: Afi.IPV4, safi: 1, addPath: false },
  3: { afi: Afi.IPV4, safi: 2, addPath: false },
  4: { afi: Afi.IPV6, safi: 1, addPath: false },
  5: { afi: Afi.IPV6, safi: 2, addPath: false },
  8: { afi: Afi.IPV4, safi: 1, addPath: true },
  9: { afi: Afi.IPV4, safi: 2, addPath: true },
  10: { afi: Afi.IPV6, safi: 1, addPath: true },
  11: { afi: Afi.IPV6, safi: 2, addPath: true },
};

/** The TABLE_DUMP_V2 subtype for a RIB of this family. */
export function ribSubtype(afi: Afi, safi: 1 | 2, addPath: boolean): number {
  return (afi === Afi.IPV4 ? 2 : 4) + (safi === 2 ? 1 : 0) + (addPath ? 6 : 0);
}

type Bgp4mpShape = { readonly asnBytes: 2 | 4; readonly local: boolean; readonly addPath: boolean };

/** RFC 6396 §4.4 / RFC 8050 §4: what each BGP4MP message subtype carries (shared, frozen: no object per record). */
const BGP4MP_SHAPES: Readonly<Record<number, Bgp4mpShape>> = Object.freeze({
  1: Object.freeze({ asnBytes: 2, local: false, addPath: false }),
  4: Object.freeze({ asnBytes: 4, local: false, addPath: false }),
  6: Object.freeze({ asnBytes: 2, local: true, addPath: false }),
  7: Object.freeze({ asnBytes: 4, local: true, addPath: false }),
  8: Object.freeze({ asnBytes: 2, local: false, addPath: true }),
  9: Object.freeze({ asnBytes: 4, local: false, addPath: true }),
  10: Object.freeze({ asnBytes: 2, local: true, addPath: true }),
  11: Object.freeze({ asnBytes: 4, local: true, addPath: true }),
} as Record<number, Bgp4mpShape>);

function bgp4mpShape(subtype: number): Bgp4mpShape | undefined {
  return BGP4MP_SHAPES[subtype];
}

/** The BGP4MP subtype for a message with these properties. */
export function bgp4mpMessageSubtype(asnBytes: 2 | 4, local: boolean, addPath: boolean): number {
  if (addPath) return 8 + (asnBytes === 4 ? 1 : 0) + (local ? 2 : 0);
  if (local) return asnBytes === 4 ? 7 : 6;
  return asnBytes === 4 ? 4 : 1;
}

function decodeBody(type: number, subtype: number, c: Cursor): MrtBody {
  switch (type) {
    case MrtType.TABLE_DUMP: {
      if (subtype !== 1 && subtype !== 2) break;
      const afi: Afi = subtype === 1 ? Afi.IPV4 : Afi.IPV6;
      const alen = afiLength(afi);
      const viewNumber = c.u16('viewNumber');
      const sequence = c.u16('sequence');
      const address = c.bytes(alen, 'prefix').slice();
      const plenAt = c.offset;
      const length = c.u8('prefixLength');
      if (length > alen * 8) throw new MrtDecodeError(`prefix length ${length} exceeds ${alen * 8}`, 'prefixLength', plenAt);
      const status = c.u8('status');
      const originatedTime = c.u32('originatedTime');
      const peerAddress = c.address(alen, 'peerAddress');
      const peerAs = c.u16('peerAs');
      const alenAttr = c.u16('attributeLength');
      const attributes = c.bytes(alenAttr, 'attributes');
      return {
        kind: 'table-dump',
        viewNumber,
        sequence,
        prefix: { afi, length, address: maskAddress(address, length) },
        status,
        originatedTime,
        peerAddress,
        peerAs,
        attributes,
      };
    }
    case MrtType.TABLE_DUMP_V2: {
      if (subtype === TableDumpV2Subtype.PEER_INDEX_TABLE) {
        const collectorBgpId = c.address(4, 'collectorBgpId');
        const nameLen = c.u16('viewNameLength');
        const viewName = new TextDecoder().decode(c.bytes(nameLen, 'viewName'));
        const count = c.u16('peerCount');
        const peers: MrtPeerEntry[] = [];
        for (let i = 0; i < count; i++) {
          const f = `peers[${i}]`;
          const peerType = c.u8(`${f}.peerType`);
          const bgpId = c.address(4, `${f}.bgpId`);
          const address = c.address(peerType & 1 ? 16 : 4, `${f}.address`);
          const asn = c.asn(peerType & 2 ? 4 : 2, `${f}.asn`);
          peers.push({ peerType, bgpId, address, asn });
        }
        return { kind: 'peer-index-table', collectorBgpId, viewName, peers };
      }
      const shape = RIB_SUBTYPES[subtype];
      if (shape) {
        const sequence = c.u32('sequence');
        const prefix = decodePrefix(c, shape.afi, 'prefix');
        const entries = decodeRibEntries(c, shape.addPath);
        return { kind: 'rib', sequence, prefix, safi: shape.safi, addPath: shape.addPath, entries };
      }
      if (subtype === TableDumpV2Subtype.RIB_GENERIC || subtype === TableDumpV2Subtype.RIB_GENERIC_ADDPATH) {
        const addPath = subtype === TableDumpV2Subtype.RIB_GENERIC_ADDPATH;
        const sequence = c.u32('sequence');
        const afi = c.u16('afi');
        const safi = c.u8('safi');
        // A single NLRI: every AFI/SAFI shadownet meets encodes it as a length
        // in bits followed by that many bits (RFC 4760 §5, RFC 4364 §4.3.4).
        const bits = c.u8('nlri.length');
        c.pos -= 1;
        const nlri = c.bytes(1 + ((bits + 7) >> 3), 'nlri');
        const entries = decodeRibEntries(c, addPath);
        return { kind: 'rib-generic', sequence, afi, safi, nlri, addPath, entries };
      }
      break;
    }
    case MrtType.BGP4MP:
    case MrtType.BGP4MP_ET: {
      if (subtype === Bgp4mpSubtype.STATE_CHANGE || subtype === Bgp4mpSubtype.STATE_CHANGE_AS4) {
        const asnBytes = subtype === Bgp4mpSubtype.STATE_CHANGE_AS4 ? 4 : 2;
        const peerAs = c.asn(asnBytes, 'peerAs');
        const localAs = c.asn(asnBytes, 'localAs');
        const interfaceIndex = c.u16('interfaceIndex');
        const afiAt = c.offset;
        const afi = c.u16('afi');
        if (afi !== Afi.IPV4 && afi !== Afi.IPV6) throw new MrtDecodeError(`unsupported address family ${afi}`, 'afi', afiAt);
        const peerAddress = c.address(afiLength(afi), 'peerAddress');
        const localAddress = c.address(afiLength(afi), 'localAddress');
        const oldState = c.u16('oldState');
        const newState = c.u16('newState');
        return { kind: 'bgp4mp-state-change', asnBytes, peerAs, localAs, interfaceIndex, afi, peerAddress, localAddress, oldState, newState };
      }
      const shape = bgp4mpShape(subtype);
      if (!shape) break;
      const peerAs = c.asn(shape.asnBytes, 'peerAs');
      const localAs = c.asn(shape.asnBytes, 'localAs');
      const interfaceIndex = c.u16('interfaceIndex');
      const afiAt = c.offset;
      const afi = c.u16('afi');
      if (afi !== Afi.IPV4 && afi !== Afi.IPV6) throw new MrtDecodeError(`unsupported address family ${afi}`, 'afi', afiAt);
      const peerAddress = c.address(afiLength(afi), 'peerAddress');
      const localAddress = c.address(afiLength(afi), 'localAddress');
      const message = c.bytes(c.end - c.pos, 'message');
      return { kind: 'bgp4mp-message', ...shape, peerAs, localAs, interfaceIndex, afi, peerAddress, localAddress, message };
    }
  }
  return { kind: 'unknown', bytes: c.bytes(c.end - c.pos, 'body') };
}

function bodyLength(b: MrtBody): number {
  switch (b.kind) {
    case 'table-dump':
      return 2 + 2 + afiLength(b.prefix.afi) * 2 + 1 + 1 + 4 + 2 + 2 + b.attributes.length;
    case 'peer-index-table': {
      let n = 4 + 2 + new TextEncoder().encode(b.viewName).length + 2;
      for (const p of b.peers) n += 1 + 4 + (p.peerType & 1 ? 16 : 4) + (p.peerType & 2 ? 4 : 2);
      return n;
    }
    case 'rib':
      return 4 + 1 + ((b.prefix.length + 7) >> 3) + ribEntriesLength(b.entries, b.addPath);
    case 'rib-generic':
      return 4 + 2 + 1 + b.nlri.length + ribEntriesLength(b.entries, b.addPath);
    case 'bgp4mp-state-change':
      return b.asnBytes * 2 + 4 + afiLength(b.afi) * 2 + 4;
    case 'bgp4mp-message':
      return b.asnBytes * 2 + 4 + afiLength(b.afi) * 2 + b.message.length;
    case 'unknown':
      return b.bytes.length;
  }
}

function encodeBody(b: MrtBody, w: Writer): void {
  switch (b.kind) {
    case 'table-dump': {
      const alen = afiLength(b.prefix.afi);
      w.u16(b.viewNumber);
      w.u16(b.sequence);
      w.bytes(b.prefix.address);
      w.u8(b.prefix.length);
      w.u8(b.status);
      w.u32(b.originatedTime);
      w.address(b.peerAddress, alen, 'peerAddress');
      w.u16(b.peerAs);
      w.u16(b.attributes.length);
      w.bytes(b.attributes);
      return;
    }
    case 'peer-index-table': {
      w.address(b.collectorBgpId, 4, 'collectorBgpId');
      const name = new TextEncoder().encode(b.viewName);
      w.u16(name.length);
      w.bytes(name);
      w.u16(b.peers.length);
      for (const p of b.peers) {
        w.u8(p.peerType);
        w.address(p.bgpId, 4, 'peer bgpId');
        w.address(p.address, p.peerType & 1 ? 16 : 4, 'peer address');
        w.asn(p.peerType & 2 ? 4 : 2, p.asn);
      }
      return;
    }
    case 'rib':
      w.u32(b.sequence);
      w.u8(b.prefix.length);
      w.bytes(b.prefix.address.subarray(0, (b.prefix.length + 7) >> 3));
      encodeRibEntries(w, b.entries, b.addPath);
      return;
    case 'rib-generic':
      w.u32(b.sequence);
      w.u16(b.afi);
      w.u8(b.safi);
      w.bytes(b.nlri);
      encodeRibEntries(w, b.entries, b.addPath);
      return;
    case 'bgp4mp-state-change':
      w.asn(b.asnBytes, b.peerAs);
      w.asn(b.asnBytes, b.localAs);
      w.u16(b.interfaceIndex);
      w.u16(b.afi);
      w.address(b.peerAddress, afiLength(b.afi), 'peerAddress');
      w.address(b.localAddress, afiLength(b.afi), 'localAddress');
      w.u16(b.oldState);
      w.u16(b.newState);
      return;
    case 'bgp4mp-message':
      w.asn(b.asnBytes, b.peerAs);
      w.asn(b.asnBytes, b.localAs);
      w.u16(b.interfaceIndex);
      w.u16(b.afi);
      w.address(b.peerAddress, afiLength(b.afi), 'peerAddress');
      w.address(b.localAddress, afiLength(b.afi), 'localAddress');
      w.bytes(b.message);
      return;
    case 'unknown':
      w.bytes(b.bytes);
      return;
  }
}

// ---------------------------------------------------------------------------
// Records

/** Bytes `record` takes on the wire, header included. */
export function encodingLength(record: MrtRecord): number {
  return mrtHeader.encodingLength(record.type) + bodyLength(record.body);
}

/** Encode a whole record. Writes into `buf` at `offset` when given. */
export function encode(record: MrtRecord, buf?: Uint8Array, offset = 0): Uint8Array {
  const len = bodyLength(record.body);
  const total = mrtHeader.encodingLength(record.type) + len;
  const out = buf ?? new Uint8Array(offset + total);
  if (out.length < offset + total) throw new MrtEncodeError(`buffer too small: need ${total} bytes at offset ${offset}`);
  if (record.body.kind === 'bgp4mp-state-change' || record.body.kind === 'bgp4mp-message') {
    if (addressFamilyOf(record.body.peerAddress) !== record.body.afi) {
      throw new MrtEncodeError(`peer address ${record.body.peerAddress} does not match AFI ${record.body.afi}`);
    }
  }
  const h = mrtHeader.encode(
    { timestamp: record.timestamp, type: record.type, subtype: record.subtype, length: len, microseconds: record.microseconds },
    out,
    offset,
  );
  const w = new Writer(h, offset + mrtHeader.encodingLength(record.type));
  encodeBody(record.body, w);
  return out;
}

/**
 * Decode one record at `offset`. A type or subtype this codec does not know
 * decodes to `{ kind: 'unknown' }`; a body shorter or longer than its fields
 * is an {@link MrtDecodeError} naming the field and the record-relative offset.
 */
export function decode(buf: Uint8Array, offset = 0): { value: MrtRecord; bytes: number } {
  const { value: h, bytes: hlen } = mrtHeader.decode(buf, offset);
  const end = offset + hlen + h.length;
  if (end > buf.length) {
    throw new MrtDecodeError(
      `record needs ${h.length} body bytes, ${buf.length - offset - hlen} present`,
      'body',
      hlen,
      MrtErrorCode.TRUNCATED,
    );
  }
  const c = new Cursor(buf, offset + hlen, end, offset);
  const body = decodeBody(h.type, h.subtype, c);
  if (c.pos !== end) {
    throw new MrtDecodeError(`${end - c.pos} bytes left over after the last field`, 'body', c.offset);
  }
  const value: MrtRecord =
    h.microseconds === undefined
      ? { timestamp: h.timestamp, type: h.type, subtype: h.subtype, body }
      : { timestamp: h.timestamp, microseconds: h.microseconds, type: h.type, subtype: h.subtype, body };
  return { value, bytes: hlen + h.length };
}

/** The codec as one object, for callers that pass codecs around. */
export const mrtRecord = { encode, decode, encodingLength };

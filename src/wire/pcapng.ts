/**
 * pcapng capture files (draft-ietf-opsawg-pcapng): a sequence of blocks,
 * each `type, total length, body, total length`. Decoded here: the section
 * header (SHB, whose byte-order magic sets the byte order of its section),
 * interface description (IDB, with `if_tsresol` and `if_tsoffset`), enhanced
 * packet (EPB) and simple packet (SPB) blocks. Every other block type decodes
 * to `{ kind: 'unknown' }` (re-encoding byte-exact) and the record reader
 * skips it. Options are kept raw; {@link decodeOptions} splits them.
 */
import { ShadownetError } from '../core/errors.js';
import { LinkType, decodePcapHeader, pcapRecords, type PcapRecord } from './pcap.js';

export const PcapngBlockType = {
  SECTION_HEADER: 0x0a0d0d0a,
  INTERFACE_DESCRIPTION: 0x00000001,
  /** Obsolete packet block, superseded by EPB. */
  PACKET: 0x00000002,
  SIMPLE_PACKET: 0x00000003,
  NAME_RESOLUTION: 0x00000004,
  INTERFACE_STATISTICS: 0x00000005,
  ENHANCED_PACKET: 0x00000006,
  DECRYPTION_SECRETS: 0x0000000a,
  CUSTOM: 0x00000bad,
  CUSTOM_NO_COPY: 0x40000bad,
} as const;
export type PcapngBlockType = (typeof PcapngBlockType)[keyof typeof PcapngBlockType];

const BLOCK_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(PcapngBlockType).map(([k, v]) => [v, k]),
);

/** `ENHANCED_PACKET`, …, or `UNKNOWN_<n>`. */
export function pcapngBlockTypeName(type: number): string {
  return BLOCK_NAMES[type] ?? `UNKNOWN_${type}`;
}

/** Option codes used here (pcapng §4.2 and §4.2 IDB options). */
export const PcapngOptionCode = {
  END_OF_OPT: 0,
  COMMENT: 1,
  IF_NAME: 2,
  IF_TSRESOL: 9,
  IF_TSOFFSET: 14,
  SHB_USERAPPL: 4,
} as const;

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const PcapngErrorCode = {
  BAD_MAGIC: 'SHADOWNET_ERR_PCAPNG_BAD_MAGIC',
  TRUNCATED: 'SHADOWNET_ERR_PCAPNG_TRUNCATED',
  BAD_BLOCK: 'SHADOWNET_ERR_PCAPNG_BAD_BLOCK',
  UNSUPPORTED_VERSION: 'SHADOWNET_ERR_PCAPNG_UNSUPPORTED_VERSION',
  UNKNOWN_INTERFACE: 'SHADOWNET_ERR_PCAPNG_UNKNOWN_INTERFACE',
  ENCODE: 'SHADOWNET_ERR_PCAPNG_ENCODE',
} as const;
export type PcapngErrorCode = (typeof PcapngErrorCode)[keyof typeof PcapngErrorCode];

/** A pcapng file or block that cannot be read or written, with the field and byte offset at fault. */
export class PcapngError extends ShadownetError {
  constructor(
    code: PcapngErrorCode,
    message: string,
    readonly field: string,
    readonly offset: number,
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`);
    this.name = 'PcapngError';
  }
}

export type PcapngBlock =
  | {
      readonly kind: 'section-header';
      readonly littleEndian: boolean;
      readonly versionMajor: number;
      readonly versionMinor: number;
      /** Section length in bytes, or -1 when not given (a 64-bit field; lengths beyond 2^53 are not expected). */
      readonly sectionLength: number;
      readonly options: Uint8Array;
    }
  | {
      readonly kind: 'interface-description';
      readonly linkType: number;
      readonly reserved: number;
      readonly snapLength: number;
      readonly options: Uint8Array;
    }
  | {
      readonly kind: 'enhanced-packet';
      readonly interfaceId: number;
      readonly timestampHigh: number;
      readonly timestampLow: number;
      readonly originalLength: number;
      readonly data: Uint8Array;
      readonly options: Uint8Array;
    }
  | {
      readonly kind: 'simple-packet';
      readonly originalLength: number;
      /** Captured bytes: the original length, or the body when the packet was cut at the snap length (padding included then). */
      readonly data: Uint8Array;
    }
  | { readonly kind: 'unknown'; readonly type: number; readonly body: Uint8Array };

export interface PcapngOption {
  readonly code: number;
  readonly value: Uint8Array;
}

// ---------------------------------------------------------------------------
// Byte helpers

function rd32(b: Uint8Array, o: number, le: boolean): number {
  return le
    ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
    : ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
function rd16(b: Uint8Array, o: number, le: boolean): number {
  return le ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1];
}
function wr32(b: Uint8Array, o: number, v: number, le: boolean): void {
  v >>>= 0;
  if (le) {
    b[o] = v & 0xff;
    b[o + 1] = (v >>> 8) & 0xff;
    b[o + 2] = (v >>> 16) & 0xff;
    b[o + 3] = v >>> 24;
  } else {
    b[o] = v >>> 24;
    b[o + 1] = (v >>> 16) & 0xff;
    b[o + 2] = (v >>> 8) & 0xff;
    b[o + 3] = v & 0xff;
  }
}
function wr16(b: Uint8Array, o: number, v: number, le: boolean): void {
  if (le) {
    b[o] = v & 0xff;
    b[o + 1] = (v >>> 8) & 0xff;
  } else {
    b[o] = (v >>> 8) & 0xff;
    b[o + 1] = v & 0xff;
  }
}
const pad4 = (n: number): number => (n + 3) & ~3;

// ---------------------------------------------------------------------------
// Options

/** Split raw option bytes into options, stopping at opt_endofopt. Throws PcapngError when one overruns. */
export function decodeOptions(raw: Uint8Array, littleEndian: boolean, baseOffset = 0): PcapngOption[] {
  const out: PcapngOption[] = [];
  let p = 0;
  while (p + 4 <= raw.length) {
    const code = rd16(raw, p, littleEndian);
    const len = rd16(raw, p + 2, littleEndian);
    if (code === PcapngOptionCode.END_OF_OPT) break;
    if (p + 4 + len > raw.length)
      throw new PcapngError(
        PcapngErrorCode.BAD_BLOCK,
        `option ${code} of ${len} bytes overruns its block`,
        'options.length',
        baseOffset + p + 2,
      );
    out.push({ code, value: raw.slice(p + 4, p + 4 + len) });
    p += 4 + pad4(len);
  }
  return out;
}

/** Encode options, padded, ending with opt_endofopt (empty when there are none). */
export function encodeOptions(options: readonly PcapngOption[], littleEndian: boolean): Uint8Array {
  if (options.length === 0) return new Uint8Array(0);
  const out = new Uint8Array(options.reduce((n, o) => n + 4 + pad4(o.value.length), 4));
  let p = 0;
  for (const o of options) {
    if (o.value.length > 0xffff)
      throw new PcapngError(
        PcapngErrorCode.ENCODE,
        `option ${o.code} value exceeds 65535 bytes`,
        'options.length',
        p + 2,
      );
    wr16(out, p, o.code, littleEndian);
    wr16(out, p + 2, o.value.length, littleEndian);
    out.set(o.value, p + 4);
    p += 4 + pad4(o.value.length);
  }
  return out;
}

/**
 * Timestamp units per second for an `if_tsresol` value byte: 10^n when the
 * high bit is clear, 2^n when set (pcapng §4.2). The default is 10^6.
 */
export function unitsPerSecond(tsresol: number | undefined): bigint {
  if (tsresol === undefined) return 1_000_000n;
  return tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
}

// ---------------------------------------------------------------------------
// Blocks

function bodyLength(b: PcapngBlock): number {
  switch (b.kind) {
    case 'section-header':
      return 16 + b.options.length;
    case 'interface-description':
      return 8 + b.options.length;
    case 'enhanced-packet':
      return 20 + pad4(b.data.length) + b.options.length;
    case 'simple-packet':
      return 4 + pad4(b.data.length);
    case 'unknown':
      return b.body.length;
  }
}

/** Bytes the block takes, framing included. */
export function encodingLength(b: PcapngBlock): number {
  return 12 + bodyLength(b);
}

function blockType(b: PcapngBlock): number {
  switch (b.kind) {
    case 'section-header':
      return PcapngBlockType.SECTION_HEADER;
    case 'interface-description':
      return PcapngBlockType.INTERFACE_DESCRIPTION;
    case 'enhanced-packet':
      return PcapngBlockType.ENHANCED_PACKET;
    case 'simple-packet':
      return PcapngBlockType.SIMPLE_PACKET;
    case 'unknown':
      return b.type;
  }
}

/**
 * Encode one block in `littleEndian` byte order (a section header uses its
 * own `littleEndian`; the blocks of a section must follow it).
 */
export function encode(b: PcapngBlock, buf?: Uint8Array, offset = 0, littleEndian = true): Uint8Array {
  const total = encodingLength(b);
  const out = buf ?? new Uint8Array(offset + total);
  if (out.length < offset + total)
    throw new PcapngError(PcapngErrorCode.ENCODE, `buffer too small: need ${total} bytes`, 'block', offset);
  const le = b.kind === 'section-header' ? b.littleEndian : littleEndian;
  if (b.kind === 'unknown' && b.body.length % 4 !== 0)
    throw new PcapngError(
      PcapngErrorCode.ENCODE,
      'block body is not a multiple of 4 bytes',
      'body',
      offset + 8,
    );
  wr32(out, offset, blockType(b), le);
  wr32(out, offset + 4, total, le);
  const p = offset + 8;
  out.fill(0, p, offset + total - 4);
  switch (b.kind) {
    case 'section-header': {
      wr32(out, p, BYTE_ORDER_MAGIC, le);
      wr16(out, p + 4, b.versionMajor, le);
      wr16(out, p + 6, b.versionMinor, le);
      const hi = b.sectionLength < 0 ? 0xffffffff : Math.floor(b.sectionLength / 2 ** 32);
      const lo = b.sectionLength < 0 ? 0xffffffff : b.sectionLength % 2 ** 32;
      wr32(out, p + (le ? 8 : 12), lo, le);
      wr32(out, p + (le ? 12 : 8), hi, le);
      out.set(b.options, p + 16);
      break;
    }
    case 'interface-description':
      wr16(out, p, b.linkType, le);
      wr16(out, p + 2, b.reserved, le);
      wr32(out, p + 4, b.snapLength, le);
      out.set(b.options, p + 8);
      break;
    case 'enhanced-packet':
      wr32(out, p, b.interfaceId, le);
      wr32(out, p + 4, b.timestampHigh, le);
      wr32(out, p + 8, b.timestampLow, le);
      wr32(out, p + 12, b.data.length, le);
      wr32(out, p + 16, b.originalLength, le);
      out.set(b.data, p + 20);
      out.set(b.options, p + 20 + pad4(b.data.length));
      break;
    case 'simple-packet':
      wr32(out, p, b.originalLength, le);
      out.set(b.data, p + 4);
      break;
    case 'unknown':
      out.set(b.body, p);
      break;
  }
  wr32(out, offset + total - 4, total, le);
  return out;
}

/** Byte order of the section header block at `offset`, from its byte-order magic. Throws PcapngError. */
export function sectionByteOrder(buf: Uint8Array, offset = 0): boolean {
  if (buf.length - offset < 12)
    throw new PcapngError(
      PcapngErrorCode.TRUNCATED,
      `section header cut short (${Math.max(0, buf.length - offset)} of 28 bytes)`,
      'sectionHeader',
      offset,
    );
  if (rd32(buf, offset, true) !== PcapngBlockType.SECTION_HEADER) {
    throw new PcapngError(
      PcapngErrorCode.BAD_MAGIC,
      `block type 0x${rd32(buf, offset, false).toString(16)} is not a section header (not a pcapng file)`,
      'blockType',
      offset,
    );
  }
  if (rd32(buf, offset + 8, true) === BYTE_ORDER_MAGIC) return true;
  if (rd32(buf, offset + 8, false) === BYTE_ORDER_MAGIC) return false;
  throw new PcapngError(
    PcapngErrorCode.BAD_MAGIC,
    `byte-order magic 0x${rd32(buf, offset + 8, false).toString(16)} is neither order of 0x1a2b3c4d`,
    'byteOrderMagic',
    offset + 8,
  );
}

/**
 * Decode the block at `offset` in byte order `littleEndian` (a section
 * header reads its own). Proves the framing: total length at least 12, a
 * multiple of 4, inside the buffer, and repeated at the end.
 */
export function decode(
  buf: Uint8Array,
  offset = 0,
  littleEndian = true,
): { value: PcapngBlock; bytes: number } {
  if (buf.length - offset < 12)
    throw new PcapngError(
      PcapngErrorCode.TRUNCATED,
      `block header cut short (${Math.max(0, buf.length - offset)} of 12 bytes)`,
      'block',
      offset,
    );
  let le = littleEndian;
  if (rd32(buf, offset, true) === PcapngBlockType.SECTION_HEADER) le = sectionByteOrder(buf, offset);
  const type = rd32(buf, offset, le);
  const total = rd32(buf, offset + 4, le);
  if (total < 12 || total % 4 !== 0)
    throw new PcapngError(
      PcapngErrorCode.BAD_BLOCK,
      `block total length ${total} is not a multiple of 4 of at least 12`,
      'blockTotalLength',
      offset + 4,
    );
  if (total > buf.length - offset)
    throw new PcapngError(
      PcapngErrorCode.TRUNCATED,
      `block of ${total} bytes runs past the end (${buf.length - offset} present)`,
      'blockTotalLength',
      offset + 4,
    );
  if (rd32(buf, offset + total - 4, le) !== total) {
    throw new PcapngError(
      PcapngErrorCode.BAD_BLOCK,
      `trailing total length ${rd32(buf, offset + total - 4, le)} differs from ${total}`,
      'trailingTotalLength',
      offset + total - 4,
    );
  }
  const p = offset + 8;
  const bodyEnd = offset + total - 4;
  const need = (n: number, what: string): void => {
    if (p + n > bodyEnd)
      throw new PcapngError(
        PcapngErrorCode.BAD_BLOCK,
        `${pcapngBlockTypeName(type)} body of ${bodyEnd - p} bytes is shorter than its ${n} fixed bytes`,
        what,
        p,
      );
  };
  let value: PcapngBlock;
  switch (type) {
    case PcapngBlockType.SECTION_HEADER: {
      need(16, 'sectionHeader');
      const versionMajor = rd16(buf, p + 4, le);
      if (versionMajor !== 1)
        throw new PcapngError(
          PcapngErrorCode.UNSUPPORTED_VERSION,
          `major version ${versionMajor} is not 1`,
          'versionMajor',
          p + 4,
        );
      const lo = rd32(buf, p + (le ? 8 : 12), le);
      const hi = rd32(buf, p + (le ? 12 : 8), le);
      value = {
        kind: 'section-header',
        littleEndian: le,
        versionMajor,
        versionMinor: rd16(buf, p + 6, le),
        sectionLength: hi === 0xffffffff && lo === 0xffffffff ? -1 : hi * 2 ** 32 + lo,
        options: buf.slice(p + 16, bodyEnd),
      };
      break;
    }
    case PcapngBlockType.INTERFACE_DESCRIPTION:
      need(8, 'interfaceDescription');
      value = {
        kind: 'interface-description',
        linkType: rd16(buf, p, le),
        reserved: rd16(buf, p + 2, le),
        snapLength: rd32(buf, p + 4, le),
        options: buf.slice(p + 8, bodyEnd),
      };
      break;
    case PcapngBlockType.ENHANCED_PACKET: {
      need(20, 'enhancedPacket');
      const cap = rd32(buf, p + 12, le);
      if (pad4(cap) > bodyEnd - p - 20)
        throw new PcapngError(
          PcapngErrorCode.BAD_BLOCK,
          `captured length ${cap} runs past the block`,
          'capturedLength',
          p + 12,
        );
      value = {
        kind: 'enhanced-packet',
        interfaceId: rd32(buf, p, le),
        timestampHigh: rd32(buf, p + 4, le),
        timestampLow: rd32(buf, p + 8, le),
        originalLength: rd32(buf, p + 16, le),
        data: buf.subarray(p + 20, p + 20 + cap),
        options: buf.subarray(p + 20 + pad4(cap), bodyEnd),
      };
      break;
    }
    case PcapngBlockType.SIMPLE_PACKET: {
      need(4, 'simplePacket');
      const originalLength = rd32(buf, p, le);
      value = {
        kind: 'simple-packet',
        originalLength,
        data: buf.subarray(p + 4, p + 4 + Math.min(originalLength, bodyEnd - p - 4)),
      };
      break;
    }
    default:
      value = { kind: 'unknown', type, body: buf.subarray(p, bodyEnd) };
  }
  return { value, bytes: total };
}

/** The block codec as one object. */
export const pcapngBlock = { encode, decode, encodingLength };

// ---------------------------------------------------------------------------
// Reading

/** An interface of the current section as the reader knows it. */
export interface PcapngInterface {
  readonly linkType: number;
  readonly snapLength: number;
  /** The `if_tsresol` byte, or undefined for the default (microseconds). */
  readonly tsresol?: number;
  /** `if_tsoffset` in seconds (0 when absent). */
  readonly tsoffset: number;
  readonly name?: string;
}

/** A packet read from a pcapng file: a {@link PcapRecord} plus where it came from. */
export interface PcapngRecord extends PcapRecord {
  readonly interfaceId: number;
  readonly linkType: number;
}

function interfaceOf(
  b: Extract<PcapngBlock, { kind: 'interface-description' }>,
  le: boolean,
  offset: number,
): PcapngInterface {
  let tsresol: number | undefined;
  let tsoffset = 0;
  let name: string | undefined;
  for (const o of decodeOptions(b.options, le, offset + 16)) {
    if (o.code === PcapngOptionCode.IF_TSRESOL && o.value.length >= 1) tsresol = o.value[0];
    else if (o.code === PcapngOptionCode.IF_TSOFFSET && o.value.length >= 8) {
      const dv = new DataView(o.value.buffer, o.value.byteOffset, 8);
      tsoffset = Number(dv.getBigInt64(0, le));
    } else if (o.code === PcapngOptionCode.IF_NAME) name = new TextDecoder().decode(o.value);
  }
  if (tsresol !== undefined && (tsresol & 0x7f) > (tsresol & 0x80 ? 63 : 18)) {
    throw new PcapngError(
      PcapngErrorCode.BAD_BLOCK,
      `if_tsresol 0x${tsresol.toString(16)} is finer than a 64-bit timestamp can hold`,
      'options.if_tsresol',
      offset + 16,
    );
  }
  return { linkType: b.linkType, snapLength: b.snapLength, tsresol, tsoffset, name };
}

function splitTimestamp(
  high: number,
  low: number,
  iface: PcapngInterface,
): { seconds: number; nanoseconds: number } {
  const ups = unitsPerSecond(iface.tsresol);
  const ts = (BigInt(high) << 32n) | BigInt(low);
  const seconds = Number(ts / ups) + iface.tsoffset;
  const nanoseconds = Number(((ts % ups) * 1_000_000_000n) / ups);
  return { seconds, nanoseconds };
}

/** What a pass over a pcapng file met besides packets. */
export interface PcapngReadStats {
  sections: number;
  interfaces: number;
  /** Blocks skipped, keyed by kebab-case reason (`unknown-block-<type>`). */
  readonly skipped: Record<string, number>;
}

/**
 * Iterate the packets (EPB and SPB) of a pcapng file held in memory, across
 * every section. Other blocks are skipped and counted in `stats`. Throws
 * PcapngError at the first block that cannot be framed (all packets before
 * it have been yielded).
 */
export function* pcapngRecords(
  buf: Uint8Array,
  stats: PcapngReadStats = { sections: 0, interfaces: 0, skipped: {} },
): Generator<PcapngRecord> {
  let le = sectionByteOrder(buf, 0);
  let interfaces: PcapngInterface[] = [];
  let o = 0;
  while (o < buf.length) {
    const { value: b, bytes } = decode(buf, o, le);
    switch (b.kind) {
      case 'section-header':
        le = b.littleEndian;
        interfaces = [];
        stats.sections++;
        break;
      case 'interface-description':
        interfaces.push(interfaceOf(b, le, o));
        stats.interfaces++;
        break;
      case 'enhanced-packet': {
        const iface = interfaces[b.interfaceId];
        if (!iface)
          throw new PcapngError(
            PcapngErrorCode.UNKNOWN_INTERFACE,
            `interface ${b.interfaceId} has no description block`,
            'interfaceId',
            o + 8,
          );
        const { seconds, nanoseconds } = splitTimestamp(b.timestampHigh, b.timestampLow, iface);
        yield {
          seconds,
          nanoseconds,
          originalLength: b.originalLength,
          data: buf.subarray(o + 28, o + 28 + b.data.length),
          offset: o,
          interfaceId: b.interfaceId,
          linkType: iface.linkType,
        };
        break;
      }
      case 'simple-packet': {
        const iface = interfaces[0];
        if (!iface)
          throw new PcapngError(
            PcapngErrorCode.UNKNOWN_INTERFACE,
            'simple packet block before any interface description',
            'block',
            o,
          );
        // pcapng §4.4: the captured length is the original length cut at the snap length.
        const cap = Math.min(b.data.length, iface.snapLength === 0 ? b.data.length : iface.snapLength);
        yield {
          seconds: 0,
          nanoseconds: 0,
          originalLength: b.originalLength,
          data: buf.subarray(o + 12, o + 12 + cap),
          offset: o,
          interfaceId: 0,
          linkType: iface.linkType,
        };
        break;
      }
      case 'unknown': {
        const reason = `unknown-block-${b.type.toString(16)}`;
        stats.skipped[reason] = (stats.skipped[reason] ?? 0) + 1;
        break;
      }
    }
    o += bytes;
  }
}

/** Read a whole pcapng file: packets, and what else was met. */
export function readPcapng(buf: Uint8Array): { records: PcapngRecord[]; stats: PcapngReadStats } {
  const stats: PcapngReadStats = { sections: 0, interfaces: 0, skipped: {} };
  return { records: [...pcapngRecords(buf, stats)], stats };
}

/** True when `buf` starts like a pcapng file (a section header block). */
export function isPcapng(buf: Uint8Array): boolean {
  return buf.length >= 4 && rd32(buf, 0, true) === PcapngBlockType.SECTION_HEADER;
}

// ---------------------------------------------------------------------------
// Writing

export interface PcapngInterfaceOptions {
  readonly linkType?: number;
  readonly snapLength?: number;
  /** `if_tsresol` byte: 6 (µs, the default, then not written), 9 (ns), 0x80|n for 2^-n. */
  readonly tsresol?: number;
  readonly name?: string;
}

export interface PcapngWriterOptions {
  readonly littleEndian?: boolean;
  /** Interfaces described in the section header; records name one by index. Default: one Ethernet interface. */
  readonly interfaces?: readonly PcapngInterfaceOptions[];
  /** `shb_userappl`. */
  readonly application?: string;
}

/** Builds a pcapng file: `header()` (SHB and IDBs) first, then `record()` per packet. */
export class PcapngWriter {
  readonly littleEndian: boolean;
  readonly interfaces: readonly PcapngInterfaceOptions[];
  readonly #ups: bigint[];
  readonly #application?: string;

  constructor(opts: PcapngWriterOptions = {}) {
    this.littleEndian = opts.littleEndian ?? true;
    this.interfaces = opts.interfaces ?? [{}];
    this.#ups = this.interfaces.map((i) => unitsPerSecond(i.tsresol));
    this.#application = opts.application;
  }

  header(): Uint8Array {
    const le = this.littleEndian;
    const text = new TextEncoder();
    const blocks: PcapngBlock[] = [
      {
        kind: 'section-header',
        littleEndian: le,
        versionMajor: 1,
        versionMinor: 0,
        sectionLength: -1,
        options: encodeOptions(
          this.#application
            ? [{ code: PcapngOptionCode.SHB_USERAPPL, value: text.encode(this.#application) }]
            : [],
          le,
        ),
      },
      ...this.interfaces.map((i): PcapngBlock => {
        const opts: PcapngOption[] = [];
        if (i.name) opts.push({ code: PcapngOptionCode.IF_NAME, value: text.encode(i.name) });
        if (i.tsresol !== undefined && i.tsresol !== 6)
          opts.push({ code: PcapngOptionCode.IF_TSRESOL, value: Uint8Array.of(i.tsresol) });
        return {
          kind: 'interface-description',
          linkType: i.linkType ?? LinkType.ETHERNET,
          reserved: 0,
          snapLength: i.snapLength ?? 262144,
          options: encodeOptions(opts, le),
        };
      }),
    ];
    return concat(blocks.map((b) => encode(b, undefined, 0, le)));
  }

  /** One enhanced packet block; data longer than the interface's snap length is cut, keeping the original length. */
  record(
    interfaceId: number,
    seconds: number,
    nanoseconds: number,
    data: Uint8Array,
    originalLength = data.length,
  ): Uint8Array {
    const iface = this.interfaces[interfaceId];
    if (!iface)
      throw new PcapngError(
        PcapngErrorCode.ENCODE,
        `interface ${interfaceId} is not described`,
        'interfaceId',
        0,
      );
    const ups = this.#ups[interfaceId];
    const ts = BigInt(Math.floor(seconds)) * ups + (BigInt(Math.floor(nanoseconds)) * ups) / 1_000_000_000n;
    const snap = iface.snapLength ?? 262144;
    const cap = snap > 0 ? Math.min(data.length, snap) : data.length;
    return encode(
      {
        kind: 'enhanced-packet',
        interfaceId,
        timestampHigh: Number(ts >> 32n) >>> 0,
        timestampLow: Number(ts & 0xffffffffn) >>> 0,
        originalLength: Math.max(originalLength, cap),
        data: data.subarray(0, cap),
        options: new Uint8Array(0),
      },
      undefined,
      0,
      this.littleEndian,
    );
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A whole pcapng file in one buffer; each record names its interface (default 0). */
export function encodePcapng(
  records: readonly {
    readonly seconds: number;
    readonly nanoseconds: number;
    readonly data: Uint8Array;
    readonly originalLength?: number;
    readonly interfaceId?: number;
  }[],
  opts: PcapngWriterOptions = {},
): Uint8Array {
  const w = new PcapngWriter(opts);
  return concat([
    w.header(),
    ...records.map((r) => w.record(r.interfaceId ?? 0, r.seconds, r.nanoseconds, r.data, r.originalLength)),
  ]);
}

/**
 * Iterate the packets of a capture held in memory, pcap or pcapng (told apart
 * by the first bytes), each with its link type. Throws PcapError/PcapngError
 * as the format's reader does.
 */
export function* readCaptureRecords(buf: Uint8Array): Generator<PcapRecord & { readonly linkType: number }> {
  if (isPcapng(buf)) {
    yield* pcapngRecords(buf);
    return;
  }
  const header = decodePcapHeader(buf);
  for (const r of pcapRecords(buf, header)) yield { ...r, linkType: header.linkType };
}

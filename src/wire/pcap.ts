/**
 * libpcap capture files (the classic format, not pcapng): a 24-byte global
 * header, then records of a 16-byte header and the captured bytes. Both byte
 * orders and both microsecond and nanosecond timestamps are read; the writer
 * emits either.
 */
import { ShadownetError } from '../core/errors.js';

export const PcapErrorCode = {
  BAD_MAGIC: 'SHADOWNET_ERR_PCAP_BAD_MAGIC',
  TRUNCATED: 'SHADOWNET_ERR_PCAP_TRUNCATED',
  BAD_RECORD: 'SHADOWNET_ERR_PCAP_BAD_RECORD',
} as const;
export type PcapErrorCode = (typeof PcapErrorCode)[keyof typeof PcapErrorCode];

/** A capture file that cannot be read, with the field and byte offset at fault. */
export class PcapError extends ShadownetError {
  constructor(
    code: PcapErrorCode,
    message: string,
    readonly field: string,
    readonly offset: number,
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`);
    this.name = 'PcapError';
  }
}

/** Link-layer header types (tcpdump.org LINKTYPE_*) the project meets. */
export const LinkType = { NULL: 0, ETHERNET: 1, RAW: 101, LINUX_SLL: 113, LINUX_SLL2: 276 } as const;

export const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
export const PCAP_MAGIC_NANO = 0xa1b23c4d;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;

export interface PcapHeader {
  readonly littleEndian: boolean;
  readonly nanosecond: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly snapLength: number;
  readonly linkType: number;
}

export interface PcapRecord {
  readonly seconds: number;
  /** Fraction of the second in nanoseconds, whatever the file's resolution. */
  readonly nanoseconds: number;
  readonly originalLength: number;
  /** The captured bytes (a view into the file buffer). */
  readonly data: Uint8Array;
  /** Offset of the record header in the file. */
  readonly offset: number;
}

/** Decode the 24-byte global header. Throws PcapError. */
export function decodePcapHeader(buf: Uint8Array): PcapHeader {
  if (buf.length < GLOBAL_HEADER) throw new PcapError(PcapErrorCode.TRUNCATED, `file of ${buf.length} bytes is shorter than the 24-byte header`, 'header', 0);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let littleEndian: boolean;
  let magic = dv.getUint32(0, false);
  if (magic === PCAP_MAGIC_MICRO || magic === PCAP_MAGIC_NANO) littleEndian = false;
  else {
    magic = dv.getUint32(0, true);
    if (magic !== PCAP_MAGIC_MICRO && magic !== PCAP_MAGIC_NANO) {
      throw new PcapError(PcapErrorCode.BAD_MAGIC, `magic 0x${dv.getUint32(0, false).toString(16)} is not a pcap file (pcapng is not read here)`, 'magic', 0);
    }
    littleEndian = true;
  }
  return {
    littleEndian,
    nanosecond: magic === PCAP_MAGIC_NANO,
    versionMajor: dv.getUint16(4, littleEndian),
    versionMinor: dv.getUint16(6, littleEndian),
    snapLength: dv.getUint32(16, littleEndian),
    // The upper bits may carry FCS information; the link type is the low 16.
    linkType: dv.getUint32(20, littleEndian) & 0xffff,
  };
}

/** Iterate the records of a capture held in memory. Throws PcapError on a truncated or impossible record. */
export function* pcapRecords(buf: Uint8Array, header: PcapHeader = decodePcapHeader(buf)): Generator<PcapRecord> {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const le = header.littleEndian;
  let o = GLOBAL_HEADER;
  while (o < buf.length) {
    if (o + RECORD_HEADER > buf.length) throw new PcapError(PcapErrorCode.TRUNCATED, `record header cut short (${buf.length - o} of 16 bytes)`, 'record.header', o);
    const seconds = dv.getUint32(o, le);
    const frac = dv.getUint32(o + 4, le);
    const inclLen = dv.getUint32(o + 8, le);
    const originalLength = dv.getUint32(o + 12, le);
    if (frac >= (header.nanosecond ? 1e9 : 1e6)) throw new PcapError(PcapErrorCode.BAD_RECORD, `sub-second field ${frac} is out of range`, 'record.fraction', o + 4);
    if (inclLen > Math.max(header.snapLength, 262144)) throw new PcapError(PcapErrorCode.BAD_RECORD, `captured length ${inclLen} exceeds the snap length`, 'record.capturedLength', o + 8);
    const d = o + RECORD_HEADER;
    if (d + inclLen > buf.length) throw new PcapError(PcapErrorCode.TRUNCATED, `record data cut short (${buf.length - d} of ${inclLen} bytes)`, 'record.data', d);
    yield { seconds, nanoseconds: header.nanosecond ? frac : frac * 1000, originalLength, data: buf.subarray(d, d + inclLen), offset: o };
    o = d + inclLen;
  }
}

/** Read a whole capture: header and every record. */
export function readPcap(buf: Uint8Array): { header: PcapHeader; records: PcapRecord[] } {
  const header = decodePcapHeader(buf);
  return { header, records: [...pcapRecords(buf, header)] };
}

export interface PcapWriterOptions {
  readonly linkType?: number;
  readonly snapLength?: number;
  readonly nanosecond?: boolean;
  readonly littleEndian?: boolean;
}

/** Builds capture files record by record; `header()` first, then `record()` for each packet. */
export class PcapWriter {
  readonly linkType: number;
  readonly snapLength: number;
  readonly nanosecond: boolean;
  readonly littleEndian: boolean;

  constructor(opts: PcapWriterOptions = {}) {
    this.linkType = opts.linkType ?? LinkType.ETHERNET;
    this.snapLength = opts.snapLength ?? 262144;
    this.nanosecond = opts.nanosecond ?? false;
    this.littleEndian = opts.littleEndian ?? true;
  }

  header(): Uint8Array {
    const b = new Uint8Array(GLOBAL_HEADER);
    const dv = new DataView(b.buffer);
    const le = this.littleEndian;
    dv.setUint32(0, this.nanosecond ? PCAP_MAGIC_NANO : PCAP_MAGIC_MICRO, le);
    dv.setUint16(4, 2, le);
    dv.setUint16(6, 4, le);
    dv.setUint32(16, this.snapLength, le);
    dv.setUint32(20, this.linkType, le);
    return b;
  }

  /** One record; data longer than the snap length is cut, keeping the original length. */
  record(seconds: number, nanoseconds: number, data: Uint8Array, originalLength = data.length): Uint8Array {
    const cap = Math.min(data.length, this.snapLength);
    const b = new Uint8Array(RECORD_HEADER + cap);
    const dv = new DataView(b.buffer);
    const le = this.littleEndian;
    dv.setUint32(0, seconds >>> 0, le);
    dv.setUint32(4, this.nanosecond ? nanoseconds : Math.floor(nanoseconds / 1000), le);
    dv.setUint32(8, cap, le);
    dv.setUint32(12, originalLength, le);
    b.set(data.subarray(0, cap), RECORD_HEADER);
    return b;
  }

  /** Bytes {@link recordInto} writes for `dataLength` bytes of packet: the record header and the captured part. */
  recordLength(dataLength: number): number {
    return RECORD_HEADER + Math.min(dataLength, this.snapLength);
  }

  /**
   * {@link record} written into `buf` at `offset` (no allocation): returns the
   * bytes written, {@link recordLength} of the data. The caller leaves room.
   */
  recordInto(buf: Uint8Array, offset: number, seconds: number, nanoseconds: number, data: Uint8Array, originalLength = data.length): number {
    const cap = Math.min(data.length, this.snapLength);
    const sub = this.nanosecond ? nanoseconds : Math.floor(nanoseconds / 1000);
    writeU32(buf, offset, seconds >>> 0, this.littleEndian);
    writeU32(buf, offset + 4, sub, this.littleEndian);
    writeU32(buf, offset + 8, cap, this.littleEndian);
    writeU32(buf, offset + 12, originalLength, this.littleEndian);
    buf.set(cap === data.length ? data : data.subarray(0, cap), offset + RECORD_HEADER);
    return RECORD_HEADER + cap;
  }
}

function writeU32(b: Uint8Array, o: number, v: number, le: boolean): void {
  if (le) {
    b[o] = v;
    b[o + 1] = v >>> 8;
    b[o + 2] = v >>> 16;
    b[o + 3] = v >>> 24;
  } else {
    b[o] = v >>> 24;
    b[o + 1] = v >>> 16;
    b[o + 2] = v >>> 8;
    b[o + 3] = v;
  }
}

/** A whole capture file in one buffer. */
export function encodePcap(
  records: readonly { readonly seconds: number; readonly nanoseconds: number; readonly data: Uint8Array; readonly originalLength?: number }[],
  opts: PcapWriterOptions = {},
): Uint8Array {
  const w = new PcapWriter(opts);
  const parts = [w.header(), ...records.map((r) => w.record(r.seconds, r.nanoseconds, r.data, r.originalLength))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

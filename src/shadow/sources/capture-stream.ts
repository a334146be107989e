/**
 * Incremental reader of capture streams, pcap or pcapng (told apart by the
 * first four bytes), for sources that see a file or a pipe a chunk at a time.
 * It keeps one growing window over the stream and hands out each record as a
 * view into that window, reusing one {@link CaptureRecordView}: nothing is
 * allocated per packet.
 *
 * Bad records are reported through `onDrop(reason, message)` and skipped; the
 * reader finds its footing again after them (by the record framing where the
 * format has one, by scanning for a plausible header where it has not), so a
 * bad record never costs the good ones after it.
 */
import { PacketIoError, PacketIoErrorCode } from './errors.js';

const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
const PCAP_MAGIC_NANO = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;
const PCAP_GLOBAL_HEADER = 24;
const PCAP_RECORD_HEADER = 16;
/** libpcap's largest snap length (MAXIMUM_SNAPLEN); anything above it is not a real record. */
const MAX_SNAPLEN = 262144;
/** Largest pcapng block accepted; a length beyond it is corruption, not data. */
const MAX_BLOCK = 16 * 1024 * 1024;

const BlockType = { IDB: 1, OPB: 2, SPB: 3, EPB: 6 } as const;
/** pcapng option codes (draft-ietf-opsawg-pcapng §4.2). */
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

/** Why a record was skipped (kebab-case, for `stats.dropped`). */
export const CaptureDropReason = {
  /** The stream ends inside a record (pcap) or block (pcapng). */
  TRUNCATED_RECORD: 'truncated-record',
  /** A pcap record header that cannot be true (sub-second out of range, impossible length); the reader resynchronised after it. */
  BAD_RECORD_HEADER: 'bad-record-header',
  /** A record whose captured length exceeds the snap length its file declares. */
  CAPLEN_EXCEEDS_SNAPLEN: 'caplen-exceeds-snaplen',
  /** A pcapng block whose length fields are impossible or disagree; the reader resynchronised after it. */
  BAD_BLOCK_LENGTH: 'bad-block-length',
  /** A pcapng packet block whose captured length runs past the block. */
  BAD_PACKET_LENGTH: 'bad-packet-length',
  /** A pcapng packet naming an interface no IDB of its section described. */
  UNKNOWN_INTERFACE: 'unknown-interface',
} as const;

export type CaptureFormat = 'pcap' | 'pcapng';

/** One record, valid until the next call that feeds or advances the reader. */
export interface CaptureRecordView {
  /** The reader's window; the packet is `data[offset, offset + length)`. */
  data: Uint8Array;
  offset: number;
  /** Captured length. */
  length: number;
  /** Original length on the wire. */
  wireLength: number;
  tsSec: number;
  tsNsec: number;
  /** pcap LINKTYPE of the packet. */
  linkType: number;
  /** Offset of the record (pcap record header, pcapng block) in the stream. */
  streamOffset: number;
}

interface PcapngInterface {
  linkType: number;
  snapLength: number;
  /** Timestamp units per second (10^n or 2^n). */
  unitsPerSecond: number;
  /** Seconds added to every timestamp (if_tsoffset). */
  offsetSeconds: number;
}

export type DropHandler = (reason: string, message: string) => void;

export class CaptureStreamReader {
  /** Known once the first four bytes have been seen. */
  format: CaptureFormat | undefined;
  /** Link type of a pcap stream (pcapng: of the last packet). */
  linkType = -1;
  /** Snap length a pcap stream declares. */
  snapLength = 0;
  readonly record: CaptureRecordView = {
    data: new Uint8Array(0),
    offset: 0,
    length: 0,
    wireLength: 0,
    tsSec: 0,
    tsNsec: 0,
    linkType: 0,
    streamOffset: 0,
  };

  #buf: Uint8Array;
  #dv: DataView;
  #start = 0;
  #end = 0;
  /** Stream offset of `#buf[0]`. */
  #base = 0;
  #eof = false;
  #le = true;
  #nano = false;
  #headerDone = false;
  #resyncing = false;
  #lastSec = -1;
  #ifaces: PcapngInterface[] = [];
  readonly #onDrop: DropHandler;

  constructor(onDrop: DropHandler = () => {}, initialBytes = 256 * 1024) {
    this.#onDrop = onDrop;
    this.#buf = new Uint8Array(initialBytes);
    this.#dv = new DataView(this.#buf.buffer);
  }

  /** True once the stream's header was read (the stream is a capture). */
  get started(): boolean {
    return this.#headerDone;
  }

  /** Bytes fed so far. */
  get bytesFed(): number {
    return this.#base + this.#end;
  }

  /**
   * Room for at least `n` more bytes, to read into directly; then
   * {@link commit} how many were written. Invalidates the current record.
   */
  reserve(n: number): Uint8Array {
    if (this.#end + n > this.#buf.length) {
      const live = this.#end - this.#start;
      if (live + n <= this.#buf.length && this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else if (live + n > this.#buf.length) {
        const grown = new Uint8Array(Math.max(this.#buf.length * 2, live + n));
        grown.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = grown;
        this.#dv = new DataView(grown.buffer);
      } else {
        this.#buf.copyWithin(0, this.#start, this.#end);
      }
      this.#base += this.#start;
      this.#end = live;
      this.#start = 0;
    }
    return this.#buf.subarray(this.#end, this.#end + n);
  }

  commit(n: number): void {
    this.#end += n;
  }

  /** Feed a chunk (copied). Invalidates the current record. */
  write(chunk: Uint8Array): void {
    this.reserve(chunk.length).set(chunk);
    this.commit(chunk.length);
  }

  /** The stream has ended: what is left is counted as a truncated record by the next {@link next}. */
  end(): void {
    this.#eof = true;
  }

  /**
   * Advance to the next record. Returns true with {@link record} filled, or
   * false when more bytes are needed (or, after {@link end}, when the stream
   * is exhausted). Throws {@link PacketIoError} only when the stream is not a
   * capture at all.
   */
  next(): boolean {
    if (!this.#headerDone && !this.#readHeader()) return false;
    return this.format === 'pcap' ? this.#nextPcap() : this.#nextPcapng();
  }

  #readHeader(): boolean {
    const avail = this.#end - this.#start;
    if (avail < 4) {
      if (this.#eof)
        throw new PacketIoError(
          PacketIoErrorCode.CAPTURE_TRUNCATED,
          avail === 0
            ? 'empty stream: not a pcap or pcapng capture'
            : `stream of ${avail} bytes is too short for a capture header`,
          'magic',
          0,
        );
      return false;
    }
    const s = this.#start;
    const be = this.#dv.getUint32(s, false);
    const le = this.#dv.getUint32(s, true);
    if (be === PCAPNG_SHB) {
      // The SHB is read as an ordinary block; it sets the byte order.
      this.format = 'pcapng';
      this.#headerDone = true;
      return true;
    }
    if (be === PCAP_MAGIC_MICRO || be === PCAP_MAGIC_NANO) this.#le = false;
    else if (le === PCAP_MAGIC_MICRO || le === PCAP_MAGIC_NANO) this.#le = true;
    else {
      const hex = [...this.#buf.subarray(s, s + 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      throw new PacketIoError(
        PacketIoErrorCode.CAPTURE_BAD_MAGIC,
        `first bytes ${hex} are neither a pcap magic (a1b2c3d4, a1b23c4d, either byte order) nor a pcapng section header (0a0d0d0a)`,
        'magic',
        0,
      );
    }
    if (avail < PCAP_GLOBAL_HEADER) {
      if (this.#eof)
        throw new PacketIoError(
          PacketIoErrorCode.CAPTURE_TRUNCATED,
          `stream of ${avail} bytes is shorter than the 24-byte pcap header`,
          'header',
          0,
        );
      return false;
    }
    this.format = 'pcap';
    this.#nano = (this.#le ? le : be) === PCAP_MAGIC_NANO;
    this.snapLength = this.#dv.getUint32(s + 16, this.#le);
    // The upper bits of the link type field may carry FCS information.
    this.linkType = this.#dv.getUint32(s + 20, this.#le) & 0xffff;
    this.#start += PCAP_GLOBAL_HEADER;
    this.#headerDone = true;
    return true;
  }

  #pcapHeaderPlausible(o: number, strict: boolean): boolean {
    const dv = this.#dv;
    const le = this.#le;
    const frac = dv.getUint32(o + 4, le);
    const incl = dv.getUint32(o + 8, le);
    if (frac >= (this.#nano ? 1e9 : 1e6) || incl > Math.max(this.snapLength, MAX_SNAPLEN)) return false;
    if (!strict) return true;
    // Resynchronising: demand more of a candidate than of a record in sequence.
    const orig = dv.getUint32(o + 12, le);
    if (orig < incl || orig > MAX_BLOCK) return false;
    if (this.snapLength > 0 && incl > this.snapLength) return false;
    const sec = dv.getUint32(o, le);
    return this.#lastSec < 0 || Math.abs(sec - this.#lastSec) <= 86400;
  }

  #nextPcap(): boolean {
    const dv = this.#dv;
    const le = this.#le;
    for (;;) {
      if (this.#resyncing && !this.#resyncPcap()) return this.#atEnd();
      const o = this.#start;
      const avail = this.#end - o;
      if (avail < PCAP_RECORD_HEADER) return this.#atEnd();
      if (!this.#pcapHeaderPlausible(o, false)) {
        this.#onDrop(
          CaptureDropReason.BAD_RECORD_HEADER,
          `pcap record header at offset ${this.#base + o} is impossible (sub-second ${dv.getUint32(o + 4, le)}, captured length ${dv.getUint32(o + 8, le)}); looking for the next record`,
        );
        this.#start = o + 1;
        this.#resyncing = true;
        continue;
      }
      const incl = dv.getUint32(o + 8, le);
      if (avail < PCAP_RECORD_HEADER + incl) return this.#atEnd();
      this.#start = o + PCAP_RECORD_HEADER + incl;
      if (this.snapLength > 0 && incl > this.snapLength) {
        this.#onDrop(
          CaptureDropReason.CAPLEN_EXCEEDS_SNAPLEN,
          `pcap record at offset ${this.#base + o}: captured length ${incl} exceeds the file's snap length ${this.snapLength}`,
        );
        continue;
      }
      const sec = dv.getUint32(o, le);
      const frac = dv.getUint32(o + 4, le);
      const r = this.record;
      r.data = this.#buf;
      r.offset = o + PCAP_RECORD_HEADER;
      r.length = incl;
      r.wireLength = Math.max(dv.getUint32(o + 12, le), incl);
      r.tsSec = sec;
      r.tsNsec = this.#nano ? frac : frac * 1000;
      r.linkType = this.linkType;
      r.streamOffset = this.#base + o;
      this.#lastSec = sec;
      return true;
    }
  }

  /** Scan for a plausible record header whose successor is plausible too (or is the end). */
  #resyncPcap(): boolean {
    const le = this.#le;
    for (let p = this.#start; p + PCAP_RECORD_HEADER <= this.#end; p++) {
      if (!this.#pcapHeaderPlausible(p, true)) continue;
      const after = p + PCAP_RECORD_HEADER + this.#dv.getUint32(p + 8, le);
      if (after === this.#end && this.#eof) return this.#found(p);
      if (after + PCAP_RECORD_HEADER > this.#end) {
        if (this.#eof) continue;
        this.#start = p; // undecided until more bytes arrive
        return false;
      }
      if (this.#pcapHeaderPlausible(after, true)) return this.#found(p);
    }
    this.#start = Math.max(this.#start, this.#end - PCAP_RECORD_HEADER + 1);
    if (this.#eof) this.#start = this.#end;
    return false;
  }

  #found(p: number): boolean {
    this.#start = p;
    this.#resyncing = false;
    return true;
  }

  /** Out of bytes: at the end of the stream, what is left is a truncated record. */
  #atEnd(): boolean {
    if (this.#eof && this.#end > this.#start) {
      if (!this.#resyncing) {
        const kind = this.format === 'pcap' ? 'record' : 'block';
        this.#onDrop(
          CaptureDropReason.TRUNCATED_RECORD,
          `stream ends inside a ${kind} at offset ${this.#base + this.#start} (${this.#end - this.#start} bytes left)`,
        );
      }
      this.#start = this.#end;
    }
    return false;
  }

  #nextPcapng(): boolean {
    const dv = this.#dv;
    for (;;) {
      if (this.#resyncing && !this.#resyncPcapng()) return this.#atEnd();
      const o = this.#start;
      const avail = this.#end - o;
      if (avail < 12) return this.#atEnd();
      const type = dv.getUint32(o, this.#le);
      if (dv.getUint32(o, false) === PCAPNG_SHB) {
        // Section Header Block: the byte-order magic decides how everything after it is read.
        const bom = dv.getUint32(o + 8, false);
        if (bom === PCAPNG_BOM) this.#le = false;
        else if (dv.getUint32(o + 8, true) === PCAPNG_BOM) this.#le = true;
        else {
          this.#badBlock(o, `section header at offset ${this.#base + o} has no byte-order magic`);
          continue;
        }
      }
      const len = dv.getUint32(o + 4, this.#le);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) {
        this.#badBlock(o, `block at offset ${this.#base + o} declares length ${len}`);
        continue;
      }
      if (avail < len) return this.#atEnd();
      if (dv.getUint32(o + len - 4, this.#le) !== len) {
        this.#badBlock(
          o,
          `block at offset ${this.#base + o}: trailing length ${dv.getUint32(o + len - 4, this.#le)} differs from ${len}`,
        );
        continue;
      }
      this.#start = o + len;
      if (dv.getUint32(o, false) === PCAPNG_SHB) {
        this.#ifaces = [];
        continue;
      }
      if (type === BlockType.IDB) this.#readIdb(o, len);
      else if (
        (type === BlockType.EPB || type === BlockType.OPB || type === BlockType.SPB) &&
        this.#readPacketBlock(type, o, len)
      )
        return true;
    }
  }

  #badBlock(o: number, message: string): void {
    this.#onDrop(CaptureDropReason.BAD_BLOCK_LENGTH, `${message}; looking for the next block`);
    this.#start = o + 4;
    this.#resyncing = true;
  }

  /** Scan 4-byte steps for a block of a known type whose two length fields agree. */
  #resyncPcapng(): boolean {
    const dv = this.#dv;
    let p = this.#start;
    for (; p + 12 <= this.#end; p += 4) {
      const type = dv.getUint32(p, this.#le);
      const isShb = dv.getUint32(p, false) === PCAPNG_SHB;
      if (
        !isShb &&
        type !== BlockType.IDB &&
        type !== BlockType.EPB &&
        type !== BlockType.SPB &&
        type !== BlockType.OPB &&
        type !== 5
      )
        continue;
      const len = dv.getUint32(p + 4, this.#le);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) continue;
      if (p + len > this.#end) {
        if (this.#eof) continue;
        this.#start = p;
        return false;
      }
      if (dv.getUint32(p + len - 4, this.#le) === len) return this.#found(p);
    }
    this.#start = this.#eof ? this.#end : p;
    return false;
  }

  #readIdb(o: number, len: number): void {
    const dv = this.#dv;
    const le = this.#le;
    if (len < 20) {
      this.#onDrop(
        CaptureDropReason.BAD_BLOCK_LENGTH,
        `interface description at offset ${this.#base + o} is ${len} bytes, shorter than 20`,
      );
      this.#ifaces.push({ linkType: -1, snapLength: 0, unitsPerSecond: 1e6, offsetSeconds: 0 });
      return;
    }
    const iface: PcapngInterface = {
      linkType: dv.getUint16(o + 8, le),
      snapLength: dv.getUint32(o + 12, le),
      unitsPerSecond: 1e6,
      offsetSeconds: 0,
    };
    const stop = o + len - 4;
    for (let p = o + 16; p + 4 <= stop;) {
      const code = dv.getUint16(p, le);
      const olen = dv.getUint16(p + 2, le);
      if (code === 0 || p + 4 + olen > stop) break;
      if (code === IF_TSRESOL && olen >= 1) {
        // MSB clear: 10^-n seconds; set: 2^-n seconds.
        const v = this.#buf[p + 4];
        iface.unitsPerSecond = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
      } else if (code === IF_TSOFFSET && olen >= 8) {
        iface.offsetSeconds = le
          ? dv.getInt32(p + 8, true) * 2 ** 32 + dv.getUint32(p + 4, true)
          : dv.getInt32(p + 4, false) * 2 ** 32 + dv.getUint32(p + 8, false);
      }
      p += 4 + ((olen + 3) & ~3);
    }
    this.#ifaces.push(iface);
  }

  #readPacketBlock(type: number, o: number, len: number): boolean {
    const dv = this.#dv;
    const le = this.#le;
    const bodyEnd = o + len - 4;
    let ifId: number;
    let tsHigh = 0;
    let tsLow = 0;
    let incl: number;
    let orig: number;
    let data: number;
    if (type === BlockType.SPB) {
      if (len < 16) return this.#badPacket(o, 'simple packet block shorter than 16 bytes');
      ifId = 0;
      orig = dv.getUint32(o + 8, le);
      data = o + 12;
      incl = Math.min(orig, bodyEnd - data);
      const snap = this.#ifaces[0]?.snapLength ?? 0;
      if (snap > 0) incl = Math.min(incl, snap);
    } else {
      if (len < 32)
        return this.#badPacket(o, `packet block of ${len} bytes is shorter than its 32-byte minimum`);
      ifId = type === BlockType.EPB ? dv.getUint32(o + 8, le) : dv.getUint16(o + 8, le);
      tsHigh = dv.getUint32(o + 12, le);
      tsLow = dv.getUint32(o + 16, le);
      incl = dv.getUint32(o + 20, le);
      orig = dv.getUint32(o + 24, le);
      data = o + 28;
      if (data + incl > bodyEnd)
        return this.#badPacket(o, `captured length ${incl} runs past the end of the ${len}-byte block`);
    }
    const iface = this.#ifaces[ifId];
    if (!iface || iface.linkType < 0) {
      this.#onDrop(
        CaptureDropReason.UNKNOWN_INTERFACE,
        `packet block at offset ${this.#base + o} names interface ${ifId}, but its section describes ${this.#ifaces.length}`,
      );
      return false;
    }
    if (iface.snapLength > 0 && incl > iface.snapLength && type !== BlockType.SPB) {
      this.#onDrop(
        CaptureDropReason.CAPLEN_EXCEEDS_SNAPLEN,
        `packet block at offset ${this.#base + o}: captured length ${incl} exceeds the interface's snap length ${iface.snapLength}`,
      );
      return false;
    }
    const r = this.record;
    r.data = this.#buf;
    r.offset = data;
    r.length = incl;
    r.wireLength = Math.max(orig, incl);
    r.linkType = iface.linkType;
    r.streamOffset = this.#base + o;
    // A simple packet block carries no time: it keeps the last one seen.
    if (type !== BlockType.SPB) {
      splitTimestamp(tsHigh, tsLow, iface.unitsPerSecond, r);
      r.tsSec += iface.offsetSeconds;
      this.#lastSec = r.tsSec;
    }
    this.linkType = iface.linkType;
    return true;
  }

  #badPacket(o: number, message: string): false {
    this.#onDrop(CaptureDropReason.BAD_PACKET_LENGTH, `packet block at offset ${this.#base + o}: ${message}`);
    return false;
  }
}

/**
 * Split a 64-bit count of `units` per second into seconds and nanoseconds,
 * exactly and without BigInt: long division by 16-bit limbs keeps every
 * intermediate below 2^53 for any units up to 2^31.
 */
export function splitTimestamp(
  high: number,
  low: number,
  units: number,
  out: { tsSec: number; tsNsec: number },
): void {
  if (units > 2 ** 31) {
    const t = (BigInt(high) << 32n) | BigInt(low);
    const u = BigInt(units);
    out.tsSec = Number(t / u);
    out.tsNsec = Number(((t % u) * 1_000_000_000n) / u);
    return;
  }
  let r = 0;
  let q = 0;
  for (let i = 0; i < 4; i++) {
    const limb = i === 0 ? high >>> 16 : i === 1 ? high & 0xffff : i === 2 ? low >>> 16 : low & 0xffff;
    const cur = r * 65536 + limb;
    const d = Math.floor(cur / units);
    r = cur - d * units;
    q = q * 65536 + d;
  }
  out.tsSec = q;
  // 10^n units scale to nanoseconds exactly; other units round down.
  out.tsNsec = 1e9 % units === 0 ? r * (1e9 / units) : Math.floor((r * 1e9) / units);
}

/**
 * Copies written to capture files, pcap (nanosecond) or pcapng, with
 * rotation by size and by packet time.
 *
 * File names: without `rotate`, exactly `path`. With `rotate`, a sequence
 * number goes before the extension: `copies.pcap` → `copies-000001.pcap`,
 * `copies-000002.pcap`, … (a path without extension gets `.pcap`/`.pcapng`).
 * A file is rotated before a copy that would take it past `maxBytes`, or
 * whose time lies `maxSeconds` or more after the file's first packet.
 *
 * Each record keeps the copy's original length, so truncation shows
 * (frame.len > frame.cap_len). The snap length in the header is `snapLength`
 * when given, else the longest copy in the file (patched in when the file is
 * closed). A pcap file has one link type, the first copy's; later copies of
 * another type are given a synthetic Ethernet header when the file is
 * Ethernet, else shed as `link-type-mismatch`. pcapng writes one interface
 * description per link type seen.
 *
 * Writes are buffered and go to disk in order on their own; `write` never
 * waits. When more than `maxPendingBytes` wait for the disk, copies are shed
 * as `disk-busy`. I/O failures are counted in `stats.errors`
 * (`open-failed`, `write-failed`, `close-failed`).
 */
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { extname } from 'node:path';
import { silentLogger, type Logger } from '../../core/log.js';
import { newTargetStats, type CopyRecord, type CopyTarget, type TargetStats } from '../types.js';
import { PacketIoError, PacketIoErrorCode } from '../sources/errors.js';
import { DeferredCopies } from './deferred-copies.js';
import { udpBatch } from './udp-batch.js';
import {
  ETHERNET_HEADER_LENGTH,
  ethernetFraming,
  writeSyntheticEthernet,
  type EthernetFraming,
} from './ethernet-framing.js';

export interface PcapTargetOptions {
  readonly name: string;
  readonly path: string;
  /** Default 'pcap'. */
  readonly format?: 'pcap' | 'pcapng';
  readonly rotate?: { readonly maxBytes?: number; readonly maxSeconds?: number };
  /** Snap length written in the header (default: the longest copy in the file). */
  readonly snapLength?: number;
  /** Bytes gathered before a write to disk (default 1 MiB: fewer, larger writes cost the kernel less). */
  readonly bufferBytes?: number;
  /** Bytes allowed to wait for the disk before copies are shed (default 32 MiB). */
  readonly maxPendingBytes?: number;
  /**
   * Write whole 4 KiB blocks with O_DIRECT, past the page cache, when the
   * native helper is built and the file system takes it (default true): the
   * kernel then moves the capture to the disk without copying it. The last
   * partial block goes through an ordinary descriptor when the target
   * flushes, so the file then holds every copy so far. false: ordinary
   * buffered writes only.
   */
  readonly directIo?: boolean;
  readonly logger?: Logger;
}

const PCAP_MAGIC_NANO = 0xa1b23c4d;
const PCAP_HEADER = 24;
const PCAP_RECORD = 16;
const SHB_LENGTH = 48;
const IDB_LENGTH = 32;
const EPB_FIXED = 32;
const DEFAULT_SNAPLEN = 262144;
const USER_APPL = new TextEncoder().encode('shadownet');

/** The path of rotated file number `seq` (1-based) for `path`. */
export function rotatedPath(path: string, seq: number, format: 'pcap' | 'pcapng' = 'pcap'): string {
  const ext = extname(path);
  const base = ext ? path.slice(0, -ext.length) : path;
  return `${base}-${String(seq).padStart(6, '0')}${ext || (format === 'pcapng' ? '.pcapng' : '.pcap')}`;
}

interface OpenFile {
  readonly path: string;
  fh: FileHandle | undefined;
  /** The same file opened with O_DIRECT (undefined: not asked for, or the file system refused it). */
  dfh: FileHandle | undefined;
  /** File offset of the first byte of the gathering buffer (a multiple of 4096 with direct I/O). */
  pos: number;
  failed: boolean;
  /** Bytes encoded for this file so far (header included). */
  bytes: number;
  packets: number;
  firstSec: number;
  /** pcap: the file's link type (-1 until the first copy). */
  linkType: number;
  /** pcapng: link type → interface id, and where each IDB's snap length lies. */
  readonly ifaces: Map<number, number>;
  readonly snapOffsets: number[];
  maxCaplen: number;
}

export class PcapTarget implements CopyTarget {
  readonly kind = 'pcap' as const;
  readonly name: string;
  readonly stats: TargetStats = newTargetStats();
  /** Every file written or being written, in order. */
  readonly files: string[] = [];
  readonly #opts: PcapTargetOptions;
  readonly #format: 'pcap' | 'pcapng';
  readonly #bufferBytes: number;
  /** Length of the standard gathering buffer (reused; larger ones are not). */
  readonly #standardLength: number;
  readonly #maxPending: number;
  readonly #log: Logger;
  readonly #framing: EthernetFraming = { skip: 0, etherType: -1 };
  #file: OpenFile | undefined;
  #seq = 0;
  #buf: Uint8Array;
  /** Buffers whose bytes are on disk, for reuse: as many as wait for the disk while a source heeds drain(), so none is made anew in a steady run. */
  readonly #spare: Uint8Array[] = [];
  readonly #maxSpare: number;
  #dv: DataView;
  #used = 0;
  #chain: Promise<void> = Promise.resolve();
  #pendingBytes = 0;
  /** Callers of drain() waiting for the pending bytes to fall to a quarter of the limit. */
  #drainWaiters: (() => void)[] = [];
  /** Packet time (s) of the first copy gathered since the last hand-off (-1: none), and of the latest. */
  #firstSec = -1;
  #lastSec = 0;
  #closed = false;
  #loggedErrors = 0;
  /** Aligned buffers for O_DIRECT (null: buffered writes only). */
  readonly #aligned: ((size: number) => ArrayBuffer) | null;
  /** Bytes at the start of the buffer carried over from the last hand-off (a partial 4 KiB block), and whether they are on disk already. */
  #carry = 0;
  #carryWritten = false;
  /** The copied bytes, copied out of the batch's buffers at its end (or before the gathering buffer is handed on). */
  readonly #copies = new DeferredCopies();
  #loggedDirect = false;

  constructor(options: PcapTargetOptions) {
    this.#opts = options;
    this.name = options.name;
    this.#format = options.format ?? 'pcap';
    this.#bufferBytes = options.bufferBytes ?? 1024 * 1024;
    this.#maxPending = options.maxPendingBytes ?? 32 * 1024 * 1024;
    this.#maxSpare = Math.min(64, Math.ceil(this.#maxPending / 2 / Math.max(this.#bufferBytes, 4096)) + 2);
    this.#log = options.logger ?? silentLogger();
    if (this.#format !== 'pcap' && this.#format !== 'pcapng')
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `format must be pcap or pcapng, not ${JSON.stringify(this.#format)}`,
        'format',
      );
    const r = options.rotate;
    if (r?.maxBytes !== undefined && !(r.maxBytes >= 1024))
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `rotate.maxBytes must be at least 1024, not ${r.maxBytes}`,
        'rotate.maxBytes',
      );
    if (r?.maxSeconds !== undefined && !(r.maxSeconds > 0))
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `rotate.maxSeconds must be positive, not ${r.maxSeconds}`,
        'rotate.maxSeconds',
      );
    if (options.snapLength !== undefined && !(Number.isInteger(options.snapLength) && options.snapLength > 0))
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `snapLength must be a positive integer, not ${options.snapLength}`,
        'snapLength',
      );
    const native = options.directIo === false || fsConstants.O_DIRECT === undefined ? null : udpBatch();
    this.#aligned = native?.alignedBuffer ? (size) => native.alignedBuffer!(size) : null;
    this.#buf = this.#newBuffer(this.#bufferBytes);
    this.#standardLength = this.#buf.length;
    this.#dv = new DataView(this.#buf.buffer);
  }

  write(record: CopyRecord): void {
    if (this.#closed) return this.#shed('target-closed');
    if (this.#pendingBytes > this.#maxPending) return this.#shed('disk-busy');
    let linkType = record.linkType;
    let skip = 0;
    let etherType = -1;
    let file = this.#file;
    if (this.#format === 'pcap') {
      const fileType = file && file.linkType >= 0 ? file.linkType : -1;
      if (fileType >= 0 && linkType !== fileType) {
        if (
          fileType !== 1 ||
          !ethernetFraming(linkType, record.data, record.offset, record.length, this.#framing)
        )
          return this.#shed('link-type-mismatch');
        skip = this.#framing.skip;
        etherType = this.#framing.etherType;
        linkType = 1;
      }
    }
    const extra = (etherType >= 0 ? ETHERNET_HEADER_LENGTH : 0) - skip;
    const caplen = record.length + extra;
    const wireLength = Math.max(record.wireLength, record.length) + extra;
    const size = this.#format === 'pcap' ? PCAP_RECORD + caplen : EPB_FIXED + ((caplen + 3) & ~3);
    const rot = this.#opts.rotate;
    if (
      file &&
      rot &&
      file.packets > 0 &&
      ((rot.maxBytes !== undefined && file.bytes + size > rot.maxBytes) ||
        (rot.maxSeconds !== undefined && record.tsSec - file.firstSec >= rot.maxSeconds))
    ) {
      this.#finishFile();
      file = undefined;
    }
    file ??= this.#startFile();
    if (file.packets === 0) file.firstSec = record.tsSec;
    // Headers this copy needs first: the file header, a new interface description.
    if (this.#format === 'pcap') {
      if (file.linkType < 0) {
        file.linkType = linkType;
        this.#pcapHeader(file, linkType);
      }
    } else {
      if (file.bytes === 0) this.#shb(file);
      if (!file.ifaces.has(linkType)) this.#idb(file, linkType);
    }
    this.#ensure(size);
    const dv = this.#dv;
    let o = this.#used;
    if (this.#format === 'pcap') {
      dv.setUint32(o, record.tsSec >>> 0, true);
      dv.setUint32(o + 4, record.tsNsec, true);
      dv.setUint32(o + 8, caplen, true);
      dv.setUint32(o + 12, wireLength, true);
      o += PCAP_RECORD;
    } else {
      dv.setUint32(o, 6, true);
      dv.setUint32(o + 4, size, true);
      dv.setUint32(o + 8, file.ifaces.get(linkType)!, true);
      // 64-bit nanosecond count, split exactly: sec·10^9 + nsec without leaving 2^53.
      const sec = record.tsSec;
      const a = (sec % 65536) * 1e9 + record.tsNsec;
      const b = Math.floor(sec / 65536) * 1e9;
      const t = (b % 65536) * 65536 + a;
      dv.setUint32(o + 12, Math.floor(b / 65536) + Math.floor(t / 4294967296), true);
      dv.setUint32(o + 16, t % 4294967296, true);
      dv.setUint32(o + 20, caplen, true);
      dv.setUint32(o + 24, wireLength, true);
      dv.setUint32(o + size - 4, size, true);
      o += 28;
    }
    if (etherType >= 0) {
      writeSyntheticEthernet(this.#buf, o, etherType);
      o += ETHERNET_HEADER_LENGTH;
    }
    const bodyLength = record.length - skip;
    this.#copies.add(this.#buf, o, record.data, record.offset + skip, bodyLength);
    o += bodyLength;
    if (this.#format === 'pcapng') while (o & 3) this.#buf[o++] = 0;
    this.#used += size;
    file.bytes += size;
    file.packets++;
    if (caplen > file.maxCaplen) file.maxCaplen = caplen;
    if (this.#firstSec < 0) this.#firstSec = record.tsSec;
    this.#lastSec = record.tsSec;
    this.stats.packets++;
    this.stats.bytes += caplen;
  }

  #shed(reason: string): void {
    this.stats.shed[reason] = (this.stats.shed[reason] ?? 0) + 1;
  }

  #error(reason: string, err: unknown, path: string): void {
    this.stats.errors[reason] = (this.stats.errors[reason] ?? 0) + 1;
    if (this.#loggedErrors++ < 10)
      this.#log.error({ target: this.name, err, path }, `capture file ${path}: ${reason}`);
  }

  #startFile(): OpenFile {
    this.#seq++;
    const path = this.#opts.rotate ? rotatedPath(this.#opts.path, this.#seq, this.#format) : this.#opts.path;
    const file: OpenFile = {
      path,
      fh: undefined,
      dfh: undefined,
      pos: 0,
      failed: false,
      bytes: 0,
      packets: 0,
      firstSec: 0,
      linkType: -1,
      ifaces: new Map(),
      snapOffsets: [],
      maxCaplen: 0,
    };
    this.#file = file;
    this.files.push(path);
    this.#enqueue(async () => {
      try {
        file.fh = await open(path, 'w');
      } catch (err) {
        file.failed = true;
        this.#error('open-failed', err, path);
        return;
      }
      if (this.#aligned === null) return;
      try {
        file.dfh = await open(path, fsConstants.O_WRONLY | fsConstants.O_DIRECT);
      } catch (err) {
        // A file system without O_DIRECT: the ordinary descriptor takes every write.
        if (!this.#loggedDirect) {
          this.#loggedDirect = true;
          this.#log.info({ target: this.name, path, err: (err as Error).message }, 'capture file: direct I/O not available here, writing through the page cache');
        }
      }
    });
    return file;
  }

  #snap(): number {
    return this.#opts.snapLength ?? DEFAULT_SNAPLEN;
  }

  #pcapHeader(file: OpenFile, linkType: number): void {
    this.#ensure(PCAP_HEADER);
    const dv = this.#dv;
    const o = this.#used;
    dv.setUint32(o, PCAP_MAGIC_NANO, true);
    dv.setUint16(o + 4, 2, true);
    dv.setUint16(o + 6, 4, true);
    dv.setUint32(o + 8, 0, true);
    dv.setUint32(o + 12, 0, true);
    dv.setUint32(o + 16, this.#snap(), true);
    dv.setUint32(o + 20, linkType, true);
    file.snapOffsets.push(file.bytes + 16);
    this.#used += PCAP_HEADER;
    file.bytes += PCAP_HEADER;
  }

  #shb(file: OpenFile): void {
    this.#ensure(SHB_LENGTH);
    const dv = this.#dv;
    const o = this.#used;
    this.#buf.fill(0, o, o + SHB_LENGTH);
    dv.setUint32(o, 0x0a0d0d0a, true);
    dv.setUint32(o + 4, SHB_LENGTH, true);
    dv.setUint32(o + 8, 0x1a2b3c4d, true);
    dv.setUint16(o + 12, 1, true);
    dv.setUint16(o + 14, 0, true);
    // Section length unknown: -1.
    dv.setInt32(o + 16, -1, true);
    dv.setInt32(o + 20, -1, true);
    // shb_userappl (code 4), then opt_endofopt.
    dv.setUint16(o + 24, 4, true);
    dv.setUint16(o + 26, USER_APPL.length, true);
    this.#buf.set(USER_APPL, o + 28);
    dv.setUint32(o + SHB_LENGTH - 4, SHB_LENGTH, true);
    this.#used += SHB_LENGTH;
    file.bytes += SHB_LENGTH;
  }

  #idb(file: OpenFile, linkType: number): void {
    this.#ensure(IDB_LENGTH);
    const dv = this.#dv;
    const o = this.#used;
    this.#buf.fill(0, o, o + IDB_LENGTH);
    dv.setUint32(o, 1, true);
    dv.setUint32(o + 4, IDB_LENGTH, true);
    dv.setUint16(o + 8, linkType, true);
    dv.setUint32(o + 12, this.#snap(), true);
    // if_tsresol (code 9) = 9: nanoseconds.
    dv.setUint16(o + 16, 9, true);
    dv.setUint16(o + 18, 1, true);
    this.#buf[o + 20] = 9;
    dv.setUint32(o + IDB_LENGTH - 4, IDB_LENGTH, true);
    file.snapOffsets.push(file.bytes + 12);
    file.ifaces.set(linkType, file.ifaces.size);
    this.#used += IDB_LENGTH;
    file.bytes += IDB_LENGTH;
  }

  /** A gathering buffer of at least `size` bytes (4 KiB-aligned memory, a whole number of blocks, for direct I/O). */
  #newBuffer(size: number): Uint8Array {
    const n = Math.max(size, 64);
    return this.#aligned === null ? new Uint8Array(n) : new Uint8Array(this.#aligned(Math.ceil(n / 4096) * 4096));
  }

  /** Room for `n` bytes in the buffer: hand the full buffer to the disk first. */
  #ensure(n: number): void {
    this.#carryWritten = false;
    if (this.#used + n <= this.#buf.length) return;
    this.#handOff('full');
    if (this.#used + n > this.#buf.length) {
      const b = this.#newBuffer(this.#used + n);
      b.set(this.#buf.subarray(0, this.#used));
      this.#buf = b;
      this.#dv = new DataView(this.#buf.buffer);
    }
  }

  /**
   * Queue the buffered bytes for the current file and start a fresh buffer.
   * With direct I/O the whole 4 KiB blocks go through the O_DIRECT
   * descriptor; what is left, a partial block, is carried to the start of
   * the next buffer (to be written again, whole, with what follows it) and,
   * unless the buffer is merely full (`full`), also written now through the
   * ordinary descriptor. `final`: the file ends here, nothing is carried.
   */
  #handOff(mode: 'full' | 'flush' | 'final'): void {
    this.#copies.flush();
    const used = this.#used;
    if (used === 0 || (this.#carryWritten && used === this.#carry)) {
      if (mode === 'final') this.#used = this.#carry = 0;
      return;
    }
    const file = this.#file!;
    const buf = this.#buf;
    const pos = file.pos;
    const direct = this.#aligned !== null;
    const whole = direct ? used - (used & 4095) : used;
    const tail = used - whole;
    const writeTail = tail > 0 && mode !== 'full';
    this.#pendingBytes += used;
    this.#enqueue(async () => {
      try {
        if (file.failed || !file.fh) {
          if (!file.failed) throw new Error('file is not open');
          return;
        }
        if (whole > 0) await this.#writeBlocks(file, buf, whole, pos);
        if (writeTail) await file.fh.write(buf, whole, tail, pos + whole);
      } catch (err) {
        file.failed = true;
        this.#error('write-failed', err, file.path);
      } finally {
        this.#pendingBytes -= used;
        if (this.#pendingBytes <= this.#maxPending / 4 && this.#drainWaiters.length > 0) {
          const waiters = this.#drainWaiters;
          this.#drainWaiters = [];
          for (const w of waiters) w();
        }
        // Written: the buffer can take the next copies.
        if (buf.length === this.#standardLength && this.#spare.length < this.#maxSpare) this.#spare.push(buf);
      }
    });
    this.#firstSec = -1;
    const next = this.#spare.pop() ?? this.#newBuffer(this.#bufferBytes);
    if (direct && mode !== 'final' && tail > 0) {
      next.set(buf.subarray(whole, used), 0);
      this.#carry = this.#used = tail;
      this.#carryWritten = writeTail;
      file.pos = pos + whole;
    } else {
      this.#carry = this.#used = 0;
      this.#carryWritten = false;
      file.pos = pos + used;
    }
    this.#buf = next;
    this.#dv = new DataView(next.buffer);
  }

  /** Whole blocks through the O_DIRECT descriptor; if the file system takes the open but refuses such writes (EINVAL), through the ordinary one from then on. */
  async #writeBlocks(file: OpenFile, buf: Uint8Array, length: number, pos: number): Promise<void> {
    const dfh = file.dfh;
    if (dfh) {
      try {
        await dfh.write(buf, 0, length, pos);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
        file.dfh = undefined;
        await dfh.close().catch(() => undefined);
        if (!this.#loggedDirect) {
          this.#loggedDirect = true;
          this.#log.info({ target: this.name, path: file.path, err: (err as Error).message }, 'capture file: direct I/O refused, writing through the page cache');
        }
      }
    }
    await file.fh!.write(buf, 0, length, pos);
  }

  /** Queue the current file's remaining bytes, its snap-length patch and its close. */
  #finishFile(): void {
    this.#handOff('final');
    const file = this.#file;
    this.#file = undefined;
    if (!file) return;
    const snap = this.#opts.snapLength ?? (file.maxCaplen || DEFAULT_SNAPLEN);
    this.#enqueue(async () => {
      if (!file.fh) return;
      try {
        if (!file.failed && this.#opts.snapLength === undefined) {
          const b = new Uint8Array(4);
          new DataView(b.buffer).setUint32(0, snap, true);
          for (const at of file.snapOffsets) await file.fh.write(b, 0, 4, at);
        }
      } catch (err) {
        this.#error('write-failed', err, file.path);
      }
      try {
        await file.dfh?.close();
        await file.fh.close();
      } catch (err) {
        this.#error('close-failed', err, file.path);
      }
      file.dfh = undefined;
      file.fh = undefined;
    });
  }

  #enqueue(op: () => Promise<void>): void {
    this.#chain = this.#chain.then(op);
  }

  /**
   * End of an engine batch. Copies stay gathered until the buffer is full,
   * except that copies spanning a second of packet time or more are handed
   * to the disk, so a slow live stream still reaches the file.
   */
  endBatch(): void {
    // The engine may reuse the batch's buffer once this returns.
    this.#copies.flush();
    if (this.#firstSec >= 0 && this.#lastSec - this.#firstSec >= 1) this.#handOff('flush');
  }

  /**
   * A promise while more than half of `maxPendingBytes` waits for the disk,
   * else undefined. It resolves once the disk has taken enough that a
   * quarter is left, so the disk still has work queued while the source
   * goes on.
   */
  drain(): Promise<void> | undefined {
    if (this.#pendingBytes <= this.#maxPending / 2) return undefined;
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Write out everything buffered; resolves when it is on disk (in the OS's hands). */
  flush(): Promise<void> {
    this.#handOff('flush');
    return this.#chain;
  }

  /** Flush, patch the snap length and close the file. A target that wrote nothing leaves an empty capture at `path`. */
  async close(): Promise<void> {
    if (this.#closed) return this.#chain;
    this.#closed = true;
    if (!this.#file && this.#seq === 0) {
      const file = this.#startFile();
      if (this.#format === 'pcap') {
        file.linkType = 1;
        this.#pcapHeader(file, 1);
      } else this.#shb(file);
    }
    this.#finishFile();
    await this.#chain;
  }
}

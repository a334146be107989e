/**
 * Streaming MRT reader: frames records out of a file or stream without ever
 * holding the whole file, decompressing gzip on the way. Bad records are
 * counted and reported, never thrown at the caller: a truncated last record
 * or a damaged gzip member ends the stream after every good record before it
 * has been delivered.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  decode,
  isExtendedTimestampType,
  MrtDecodeError,
  MrtErrorCode,
  type MrtHeader,
  type MrtRecord,
} from '../../wire/mrt.js';

export type MrtSource = string | Readable | AsyncIterable<Uint8Array>;

/** Counters a reader fills in as it goes; pass your own object to watch them. */
export interface MrtReadStats {
  /** Bytes taken from the source (compressed bytes for a gzip file). */
  bytesRead: number;
  /** Uncompressed MRT bytes framed so far. */
  bytesDecoded: number;
  /** Records delivered (framed and, for `readMrt`, decoded). */
  records: number;
  /** Records that could not be decoded (skipped), plus a final truncated one. */
  badRecords: number;
  /** The stream ended inside a record, or the compressed stream was damaged. */
  truncated: boolean;
  /** Input was gzip-compressed. */
  gzip: boolean;
  /** Size of the source file when known. */
  totalBytes?: number;
}

export interface MrtProgress {
  readonly bytesRead: number;
  readonly totalBytes?: number;
  readonly records: number;
  readonly badRecords: number;
}

/** Where a bad record sat: its index among records and its offset in the uncompressed stream. */
export interface MrtRecordLocation {
  readonly index: number;
  readonly offset: number;
}

export interface ReadMrtOptions {
  /** Called every `progressEvery` source bytes and once at the end. */
  onProgress?: (p: MrtProgress) => void;
  /** Default 4 MiB. */
  progressEvery?: number;
  /** Called for each record skipped and for a truncated end. */
  onBadRecord?: (err: MrtDecodeError, at: MrtRecordLocation) => void;
  /** Filled in while reading. */
  stats?: MrtReadStats;
  /**
   * Records longer than this are taken as a corrupt length field: reading
   * stops there, as nothing after it can be framed. Default 256 MiB.
   */
  maxRecordLength?: number;
  /** Throw the first bad record instead of skipping it. */
  strict?: boolean;
}

/** A record still in wire form, for readers that decode lazily. */
export interface MrtFrame {
  readonly header: MrtHeader;
  /** The whole record, header included. */
  readonly bytes: Uint8Array;
  readonly index: number;
  /** Offset of the record in the uncompressed stream. */
  readonly offset: number;
}

export function newMrtReadStats(): MrtReadStats {
  return { bytesRead: 0, bytesDecoded: 0, records: 0, badRecords: 0, truncated: false, gzip: false };
}

const EMPTY = new Uint8Array(0);

async function* counted(src: AsyncIterable<Uint8Array | string>, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of src) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    onBytes(b.length);
    yield b;
  }
}

async function* prepend(first: Uint8Array[], rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  for (const f of first) yield f;
  for (;;) {
    const n = await rest.next();
    if (n.done) return;
    yield n.value;
  }
}

function compressionOf(b: Uint8Array): 'gzip' | 'bzip2' | 'xz' | 'none' {
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 3 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68) return 'bzip2';
  if (b.length >= 6 && b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a && b[5] === 0) {
    return 'xz';
  }
  return 'none';
}

/**
 * Frame MRT records from `source` (a path, a Readable, or any async iterable
 * of bytes). Gzip input (magic 1f 8b) is decompressed as it streams; bzip2 and
 * xz are refused with an {@link MrtDecodeError} of code
 * `SHADOWNET_ERR_MRT_UNSUPPORTED_COMPRESSION`. Opening errors (missing file)
 * are thrown; damage inside the stream is counted in `stats` instead.
 */
export async function* readMrtFrames(source: MrtSource, opts: ReadMrtOptions = {}): AsyncGenerator<MrtFrame> {
  const stats = opts.stats ?? newMrtReadStats();
  const every = opts.progressEvery ?? 4 * 1024 * 1024;
  const maxLen = opts.maxRecordLength ?? 256 * 1024 * 1024;
  let nextProgress = every;
  const progress = (): void =>
    opts.onProgress?.({
      bytesRead: stats.bytesRead,
      totalBytes: stats.totalBytes,
      records: stats.records,
      badRecords: stats.badRecords,
    });

  let input: AsyncIterable<Uint8Array | string>;
  let fileStream: Readable | undefined;
  if (typeof source === 'string') {
    const st = await stat(source);
    if (st.isDirectory()) {
      throw new MrtDecodeError(`${source} is a directory, not an MRT file`, 'file', 0);
    }
    stats.totalBytes = st.size;
    fileStream = createReadStream(source, { highWaterMark: 256 * 1024 });
    input = fileStream;
  } else {
    input = source;
  }

  const raw = counted(input, (n) => {
    stats.bytesRead += n;
    if (stats.bytesRead >= nextProgress) {
      nextProgress = stats.bytesRead + every;
      progress();
    }
  });

  const it = raw[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headLen = 0;
  while (headLen < 6) {
    const n = await it.next();
    if (n.done) break;
    head.push(n.value);
    headLen += n.value.length;
  }
  const peek = head.length === 1 ? head[0] : Buffer.concat(head);
  const kind = compressionOf(peek);
  if (kind === 'bzip2' || kind === 'xz') {
    fileStream?.destroy();
    throw new MrtDecodeError(
      `${kind} compression is not supported; decompress first (e.g. ${kind === 'xz' ? 'xz -d' : 'bunzip2'} FILE) or use gzip`,
      'magic',
      0,
      MrtErrorCode.UNSUPPORTED_COMPRESSION,
    );
  }

  let decoded: AsyncIterable<Uint8Array>;
  let gunzip: ReturnType<typeof createGunzip> | undefined;
  if (kind === 'gzip') {
    stats.gzip = true;
    gunzip = createGunzip();
    pipeline(Readable.from(prepend(head, it)), gunzip, () => {
      // Errors surface through iteration of `gunzip`.
    });
    decoded = gunzip;
  } else {
    decoded = prepend(head, it);
  }

  // Chunks not yet framed: `buf` from `pos`, then `pending` in order.
  let buf: Uint8Array = EMPTY;
  let pos = 0;
  const pending: Uint8Array[] = [];
  let pendingLen = 0;
  let offset = 0;
  let index = 0;
  const available = (): number => buf.length - pos + pendingLen;
  const ensure = (n: number): boolean => {
    if (buf.length - pos >= n) return true;
    if (available() < n) return false;
    const merged = new Uint8Array(available());
    merged.set(buf.subarray(pos), 0);
    let o = buf.length - pos;
    for (const c of pending) {
      merged.set(c, o);
      o += c.length;
    }
    pending.length = 0;
    pendingLen = 0;
    buf = merged;
    pos = 0;
    return true;
  };
  const bad = (err: MrtDecodeError): void => {
    stats.badRecords++;
    opts.onBadRecord?.(err, { index, offset });
    if (opts.strict) throw err;
  };

  try {
    let stop = false;
    try {
      for await (const chunk of decoded) {
        if (chunk.length === 0) continue;
        pending.push(chunk);
        pendingLen += chunk.length;
        for (;;) {
          if (!ensure(12)) break;
          const dv = new DataView(buf.buffer, buf.byteOffset + pos, 12);
          const type = dv.getUint16(4);
          const length = dv.getUint32(8);
          const hlen = isExtendedTimestampType(type) ? 16 : 12;
          const bodyLen = hlen === 16 ? length - 4 : length;
          if (bodyLen < 0 || length > maxLen) {
            stats.truncated = true;
            bad(
              new MrtDecodeError(
                bodyLen < 0
                  ? `length ${length} cannot hold the microsecond timestamp; the rest of the stream cannot be framed`
                  : `record length ${length} exceeds the ${maxLen}-byte limit; the rest of the stream cannot be framed`,
                'length',
                offset + 8,
              ),
            );
            stop = true;
            break;
          }
          const total = hlen + bodyLen;
          if (!ensure(total)) break;
          const bytes = buf.subarray(pos, pos + total);
          pos += total;
          stats.bytesDecoded += total;
          const header: MrtHeader = {
            timestamp: dv.getUint32(0),
            type,
            subtype: dv.getUint16(6),
            length: bodyLen,
            ...(hlen === 16 ? { microseconds: new DataView(bytes.buffer, bytes.byteOffset + 12, 4).getUint32(0) } : {}),
          };
          stats.records++;
          yield { header, bytes, index, offset };
          index++;
          offset += total;
        }
        if (stop) break;
      }
    } catch (err) {
      if (err instanceof MrtDecodeError) throw err;
      // zlib reports a cut or damaged gzip stream: what came before is kept.
      const code = (err as { code?: string }).code ?? '';
      if (!code.startsWith('Z_') && !/zlib|gzip|unexpected end/i.test(String((err as Error).message))) throw err;
      stats.truncated = true;
      bad(
        new MrtDecodeError(
          `compressed stream is damaged or cut short: ${(err as Error).message}`,
          'gzip',
          offset,
          MrtErrorCode.TRUNCATED,
          { cause: err },
        ),
      );
      stop = true;
    }
    if (!stop && available() > 0) {
      stats.truncated = true;
      let need = 12;
      if (ensure(12)) {
        const dv = new DataView(buf.buffer, buf.byteOffset + pos, 12);
        // For the _ET types the length already counts the microseconds.
        need = 12 + dv.getUint32(8);
      }
      bad(
        new MrtDecodeError(
          `stream ends inside a record: ${available()} of ${need} bytes present`,
          available() < 12 ? 'header' : 'body',
          offset,
          MrtErrorCode.TRUNCATED,
        ),
      );
    }
  } finally {
    fileStream?.destroy();
    gunzip?.destroy();
    progress();
  }
}

/**
 * Read MRT records one at a time. A record whose body does not decode is
 * skipped and reported through `onBadRecord` and `stats.badRecords`; the
 * records around it are still delivered.
 */
export async function* readMrt(source: MrtSource, opts: ReadMrtOptions = {}): AsyncGenerator<MrtRecord> {
  const stats = opts.stats ?? newMrtReadStats();
  const o = { ...opts, stats };
  for await (const frame of readMrtFrames(source, o)) {
    let value: MrtRecord;
    try {
      value = decode(frame.bytes).value;
    } catch (err) {
      if (!(err instanceof MrtDecodeError)) throw err;
      stats.records--;
      stats.badRecords++;
      opts.onBadRecord?.(err, { index: frame.index, offset: frame.offset });
      if (opts.strict) throw err;
      continue;
    }
    yield value;
  }
}

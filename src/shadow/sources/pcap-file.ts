/**
 * A capture file (pcap or pcapng, told apart by its magic) as a packet
 * source, read in chunks so a file of any size streams through a fixed
 * window. At `pace: 'recorded'` packets are held back on the Clock so they
 * leave at their recorded spacing divided by `speed`.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Clock, Timer } from '../../core/clock.js';
import { RealClock } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';
import { silentLogger } from '../../core/log.js';
import {
  PacketBatchBuilder,
  countDrop,
  newPacketSourceStats,
  type PacketSink,
  type PacketSource,
  type PacketSourceStats,
} from '../../core/packet.js';
import { CaptureStreamReader } from './capture-stream.js';
import { PacketIoError, PacketIoErrorCode } from './errors.js';

export interface PcapFileSourceOptions {
  /** 'fast' (default): as fast as the sink takes them; 'recorded': keep the recorded gaps. */
  readonly pace?: 'fast' | 'recorded';
  /** With pace 'recorded': play this many times faster (default 1). */
  readonly speed?: number;
  /** Packets per batch, 1..256 (default 256). */
  readonly batchSize?: number;
  readonly clock?: Clock;
  /** Source name in batches and logs (default: the path). */
  readonly name?: string;
  /** Virtual network the packets belong to, put on every batch. */
  readonly vnet?: string;
  /** Bytes read per chunk (default 1 MiB). */
  readonly readSize?: number;
  readonly logger?: Logger;
}

/** How many drop messages a source logs in full before it only counts. */
const LOGGED_DROPS = 10;

export class PcapFileSource implements PacketSource {
  readonly name: string;
  readonly stats: PacketSourceStats = newPacketSourceStats();
  /** 'pcap' or 'pcapng' once the run has read the file's first bytes. */
  format: 'pcap' | 'pcapng' | undefined;
  readonly #pace: 'fast' | 'recorded';
  readonly #speed: number;
  readonly #batchSize: number;
  readonly #clock: Clock;
  readonly #readSize: number;
  readonly #log: Logger;
  readonly #vnet: string | undefined;
  #stopped = false;
  #timer: Timer | undefined;
  #wake: (() => void) | undefined;

  constructor(
    readonly path: string,
    options: PcapFileSourceOptions = {},
  ) {
    this.name = options.name ?? path;
    this.#pace = options.pace ?? 'fast';
    this.#speed = options.speed ?? 1;
    this.#batchSize = options.batchSize ?? 256;
    this.#clock = options.clock ?? new RealClock();
    this.#readSize = options.readSize ?? 1024 * 1024;
    this.#log = options.logger ?? silentLogger();
    this.#vnet = options.vnet;
    if (this.#pace !== 'fast' && this.#pace !== 'recorded')
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `pace must be 'fast' or 'recorded', not ${JSON.stringify(this.#pace)}`,
        'pace',
      );
    if (!(this.#speed > 0) || !Number.isFinite(this.#speed))
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `speed must be a positive number, not ${this.#speed}`,
        'speed',
      );
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1 || this.#batchSize > 256)
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `batchSize must be 1..256, not ${this.#batchSize}`,
        'batchSize',
      );
    if (!Number.isInteger(this.#readSize) || this.#readSize < 16)
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `readSize must be an integer of at least 16, not ${this.#readSize}`,
        'readSize',
      );
  }

  /**
   * Read the file to its end (or until {@link stop}), delivering batches.
   * Rejects with {@link PacketIoError} when the file cannot be opened or is
   * not a capture; bad records inside are counted in `stats.dropped`.
   */
  async run(sink: PacketSink): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, 'r');
    } catch (err) {
      throw new PacketIoError(
        PacketIoErrorCode.CAPTURE_READ_FAILED,
        `cannot open capture file ${this.path}: ${(err as Error).message}`,
        undefined,
        undefined,
        { cause: err },
      );
    }
    let logged = 0;
    const reader = new CaptureStreamReader((reason, message) => {
      countDrop(this.stats, reason);
      if (logged++ < LOGGED_DROPS) this.#log.warn({ source: this.name, reason }, `${this.path}: ${message}`);
    });
    let batch: PacketBatchBuilder | undefined;
    const deliver = async (): Promise<void> => {
      if (!batch || batch.count === 0) return;
      this.stats.batches++;
      await sink(batch);
      batch.reset();
    };
    let t0 = -1;
    let w0 = 0;
    try {
      let eof = false;
      while (!this.#stopped) {
        let more: boolean;
        try {
          more = reader.next();
        } catch (err) {
          if (err instanceof PacketIoError)
            throw new PacketIoError(
              err.code as PacketIoErrorCode,
              `${this.path}: ${err.message}`,
              undefined,
              undefined,
              { cause: err },
            );
          throw err;
        }
        if (!more) {
          if (eof) break;
          const room = reader.reserve(this.#readSize);
          let n: number;
          try {
            ({ bytesRead: n } = await fh.read(room, 0, room.length, null));
          } catch (err) {
            throw new PacketIoError(
              PacketIoErrorCode.CAPTURE_READ_FAILED,
              `cannot read ${this.path}: ${(err as Error).message}`,
              undefined,
              reader.bytesFed,
              { cause: err },
            );
          }
          if (n === 0) {
            eof = true;
            reader.end();
          } else reader.commit(n);
          continue;
        }
        this.format ??= reader.format;
        const r = reader.record;
        batch ??= new PacketBatchBuilder(
          this.name,
          r.linkType,
          this.#batchSize,
          Math.max(this.#batchSize * 2048, 65536),
          this.#vnet,
        );
        if (batch.linkType !== r.linkType) {
          await deliver();
          batch.linkType = r.linkType;
        }
        if (this.#pace === 'recorded') {
          const t = r.tsSec * 1000 + r.tsNsec / 1e6;
          if (t0 < 0) {
            t0 = t;
            w0 = this.#clock.now();
          }
          const due = w0 + Math.max(0, t - t0) / this.#speed;
          const wait = due - this.#clock.now();
          if (wait > 0) {
            // Everything due so far leaves now; this packet waits for its time.
            await deliver();
            await this.#sleep(wait);
            if (this.#stopped) break;
          }
        }
        if (!batch.pushFrom(r.data, r.offset, r.length, r.wireLength, r.tsSec, r.tsNsec)) {
          await deliver();
          batch.pushFrom(r.data, r.offset, r.length, r.wireLength, r.tsSec, r.tsNsec);
        }
        this.stats.packets++;
        this.stats.bytes += r.length;
        if (batch.full()) await deliver();
      }
      await deliver();
    } finally {
      await fh.close();
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = this.#clock.setTimer(ms, () => {
        this.#wake = undefined;
        resolve();
      });
    });
  }

  /** Stop reading; `run` resolves once the packets already read are delivered. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

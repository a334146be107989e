/**
 * Copies published on the bus for the analytics workers: the copies written
 * between two flushes travel as one compact message ({@link CopyBatchMessage}),
 * their bytes copied out of the packet batch (which its source reuses).
 * A message is also published early when it reaches `maxCount` copies or
 * `maxBytes` bytes, or when the link type changes.
 */
import type { Bus } from '../../core/bus.js';
import { newTargetStats, type CopyRecord, type CopyTarget, type TargetStats } from '../types.js';
import { PacketIoError, PacketIoErrorCode } from '../sources/errors.js';

/** One bus message: `count` copies back to back in `data`, described by parallel arrays. */
export interface CopyBatchMessage {
  readonly count: number;
  /** The copies' bytes; copy i is `data.subarray(offsets[i], offsets[i] + lengths[i])`. */
  readonly data: Uint8Array;
  readonly offsets: Uint32Array;
  /** Copied (possibly truncated) length of copy i. */
  readonly lengths: Uint32Array;
  /** Original length on the wire of copy i. */
  readonly wireLengths: Uint32Array;
  readonly tsSec: Float64Array;
  readonly tsNsec: Uint32Array;
  /** pcap LINKTYPE of every copy in the message. */
  readonly linkType: number;
  /** Session that selected copy i. */
  readonly sessions: string[];
  /** VNI of copy i's session. */
  readonly vnis: Uint32Array;
}

export interface BusTargetOptions {
  readonly name: string;
  readonly bus: Bus;
  /** Topic the messages are published on. */
  readonly topic: string;
  /** Copies per message at most (default 1024). */
  readonly maxCount?: number;
  /** Bytes of copies per message at most (default 512 KiB), below common broker payload limits. */
  readonly maxBytes?: number;
}

export class BusTarget implements CopyTarget {
  readonly kind = 'bus' as const;
  readonly name: string;
  readonly stats: TargetStats = newTargetStats();
  /** Messages published. */
  messages = 0;
  readonly #bus: Bus;
  readonly #topic: string;
  readonly #maxCount: number;
  readonly #maxBytes: number;
  #data: Uint8Array;
  #used = 0;
  #count = 0;
  #linkType = -1;
  #offsets: Uint32Array;
  #lengths: Uint32Array;
  #wire: Uint32Array;
  #sec: Float64Array;
  #nsec: Uint32Array;
  #vnis: Uint32Array;
  #sessions: string[] = [];
  #closed = false;

  constructor(options: BusTargetOptions) {
    this.name = options.name;
    this.#bus = options.bus;
    this.#topic = options.topic;
    this.#maxCount = options.maxCount ?? 1024;
    this.#maxBytes = options.maxBytes ?? 512 * 1024;
    if (!/^[A-Za-z0-9_.-]+$/.test(options.topic))
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `topic must be letters, digits, _ . -, not ${JSON.stringify(options.topic)}`,
        'topic',
      );
    if (!(Number.isInteger(this.#maxCount) && this.#maxCount > 0))
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `maxCount must be a positive integer`,
        'maxCount',
      );
    const n = Math.min(this.#maxCount, 256);
    this.#data = new Uint8Array(Math.min(this.#maxBytes, 64 * 1024));
    this.#offsets = new Uint32Array(n);
    this.#lengths = new Uint32Array(n);
    this.#wire = new Uint32Array(n);
    this.#sec = new Float64Array(n);
    this.#nsec = new Uint32Array(n);
    this.#vnis = new Uint32Array(n);
  }

  write(record: CopyRecord): void {
    if (this.#closed) {
      this.stats.shed['target-closed'] = (this.stats.shed['target-closed'] ?? 0) + 1;
      return;
    }
    if (
      this.#count > 0 &&
      (record.linkType !== this.#linkType ||
        this.#count >= this.#maxCount ||
        this.#used + record.length > this.#maxBytes)
    )
      this.#publish();
    if (this.#count === this.#offsets.length) this.#growArrays();
    if (this.#used + record.length > this.#data.length) {
      const d = new Uint8Array(Math.max(this.#data.length * 2, this.#used + record.length));
      d.set(this.#data.subarray(0, this.#used));
      this.#data = d;
    }
    const i = this.#count++;
    this.#linkType = record.linkType;
    this.#data.set(record.data.subarray(record.offset, record.offset + record.length), this.#used);
    this.#offsets[i] = this.#used;
    this.#lengths[i] = record.length;
    this.#wire[i] = Math.max(record.wireLength, record.length);
    this.#sec[i] = record.tsSec;
    this.#nsec[i] = record.tsNsec;
    this.#vnis[i] = record.vni;
    this.#sessions.push(record.session);
    this.#used += record.length;
    this.stats.packets++;
    this.stats.bytes += record.length;
  }

  #growArrays(): void {
    const n = Math.min(this.#offsets.length * 2, this.#maxCount);
    const grow = <T extends Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.#offsets = grow(this.#offsets, (k) => new Uint32Array(k));
    this.#lengths = grow(this.#lengths, (k) => new Uint32Array(k));
    this.#wire = grow(this.#wire, (k) => new Uint32Array(k));
    this.#sec = grow(this.#sec, (k) => new Float64Array(k));
    this.#nsec = grow(this.#nsec, (k) => new Uint32Array(k));
    this.#vnis = grow(this.#vnis, (k) => new Uint32Array(k));
  }

  #publish(): void {
    const n = this.#count;
    if (n === 0) return;
    // The message owns its memory: exact-size copies, so subscribers may keep it.
    const message: CopyBatchMessage = {
      count: n,
      data: this.#data.slice(0, this.#used),
      offsets: this.#offsets.slice(0, n),
      lengths: this.#lengths.slice(0, n),
      wireLengths: this.#wire.slice(0, n),
      tsSec: this.#sec.slice(0, n),
      tsNsec: this.#nsec.slice(0, n),
      linkType: this.#linkType,
      sessions: this.#sessions,
      vnis: this.#vnis.slice(0, n),
    };
    this.#count = 0;
    this.#used = 0;
    this.#sessions = [];
    try {
      this.#bus.publish(this.#topic, message);
      this.messages++;
    } catch (err) {
      const reason =
        err instanceof Error && 'code' in err && typeof err.code === 'string'
          ? `publish-${err.code.toLowerCase()}`
          : 'publish-failed';
      this.stats.errors[reason] = (this.stats.errors[reason] ?? 0) + n;
    }
  }

  /** End of an engine batch: the batch's copies go out as one message. */
  endBatch(): void {
    this.#publish();
  }

  /** Publish the copies gathered since the last flush as one message. */
  async flush(): Promise<void> {
    this.#publish();
  }

  async close(): Promise<void> {
    this.#publish();
    this.#closed = true;
  }
}

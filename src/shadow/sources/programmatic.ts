/**
 * A source fed by code (the emulator): `push` packets, `flush` to send a
 * partial batch on. Full batches queue until the running sink takes them;
 * the queue is bounded, and what does not fit is counted as `queue-full`.
 */
import {
  PacketBatchBuilder,
  PacketDirection,
  countDrop,
  newPacketSourceStats,
  type PacketSink,
  type PacketSource,
  type PacketSourceStats,
} from '../../core/packet.js';
import { PacketIoError, PacketIoErrorCode } from './errors.js';

export interface ProgrammaticSourceOptions {
  /** Packets per batch (default 256). */
  readonly batchSize?: number;
  /** Batches waiting for the sink before pushes are dropped (default 64). */
  readonly maxQueuedBatches?: number;
}

export class ProgrammaticSource implements PacketSource {
  readonly stats: PacketSourceStats = newPacketSourceStats();
  readonly #batchSize: number;
  readonly #maxQueued: number;
  #filling: PacketBatchBuilder;
  #queue: PacketBatchBuilder[] = [];
  #spare: PacketBatchBuilder[] = [];
  #waiters: (() => void)[] = [];
  #kick: (() => void) | undefined;
  #running = false;
  #delivering = false;
  #stopped = false;

  constructor(
    readonly name: string,
    readonly linkType: number,
    readonly vnet?: string,
    options: ProgrammaticSourceOptions = {},
  ) {
    this.#batchSize = options.batchSize ?? 256;
    this.#maxQueued = options.maxQueuedBatches ?? 64;
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1)
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `batchSize must be a positive integer, not ${this.#batchSize}`,
        'batchSize',
      );
    this.#filling = this.#builder();
  }

  #builder(): PacketBatchBuilder {
    return (
      this.#spare.pop() ??
      new PacketBatchBuilder(
        this.name,
        this.linkType,
        this.#batchSize,
        Math.max(this.#batchSize * 2048, 65536),
        this.vnet,
      )
    );
  }

  /**
   * Add one packet (copied). Returns false when it was dropped: the source is
   * stopped, or the sink has fallen `maxQueuedBatches` behind.
   */
  push(
    bytes: Uint8Array,
    wireLength: number,
    tsSec: number,
    tsNsec: number,
    direction: PacketDirection = PacketDirection.UNKNOWN,
  ): boolean {
    if (this.#stopped) {
      countDrop(this.stats, 'source-stopped');
      return false;
    }
    if (!this.#filling.push(bytes, wireLength, tsSec, tsNsec, direction)) {
      if (!this.#enqueue()) {
        countDrop(this.stats, 'queue-full');
        return false;
      }
      this.#filling.push(bytes, wireLength, tsSec, tsNsec, direction);
    }
    this.stats.packets++;
    this.stats.bytes += bytes.length;
    if (this.#filling.full()) this.#enqueue();
    return true;
  }

  #enqueue(): boolean {
    if (this.#filling.count === 0) return true;
    if (this.#queue.length >= this.#maxQueued) return false;
    this.#queue.push(this.#filling);
    this.#filling = this.#builder();
    this.#kick?.();
    return true;
  }

  /** Send the partial batch on; resolves when every batch pushed so far has been delivered (at once if no sink runs). */
  flush(): Promise<void> {
    if (!this.#enqueue()) countDrop(this.stats, 'queue-full', this.#filling.count);
    if (!this.#running || (this.#queue.length === 0 && !this.#delivering)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Deliver batches until {@link stop}; what was pushed before stop is delivered first. */
  async run(sink: PacketSink): Promise<void> {
    if (this.#running)
      throw new PacketIoError(PacketIoErrorCode.INVALID_OPTION, `source ${this.name} is already running`);
    this.#running = true;
    try {
      for (;;) {
        const batch = this.#queue.shift();
        if (batch) {
          this.stats.batches++;
          this.#delivering = true;
          try {
            await sink(batch);
          } finally {
            this.#delivering = false;
            batch.reset();
          }
          this.#spare.push(batch);
          continue;
        }
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const w of waiters) w();
        if (this.#stopped) break;
        await new Promise<void>((resolve) => (this.#kick = resolve));
        this.#kick = undefined;
      }
    } finally {
      this.#running = false;
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#enqueue();
    this.#stopped = true;
    this.#kick?.();
  }
}

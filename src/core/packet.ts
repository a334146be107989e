/**
 * Packets as they travel through shadownet: in batches over shared buffers,
 * so the hot path allocates nothing per packet. A batch owns its arrays until
 * the consumer returns; consumers that keep packets must copy them.
 */

/** Where a packet was seen relative to the traffic source it came from. */
export const PacketDirection = { UNKNOWN: 0, INGRESS: 1, EGRESS: 2 } as const;
export type PacketDirection = (typeof PacketDirection)[keyof typeof PacketDirection];

/**
 * The nanoseconds within its second of a time in ms since the epoch (the
 * seconds being `Math.floor(timeMs / 1000)`), rounded and kept below 10^9 so
 * a time a hair before a whole second does not give an impossible 10^9.
 */
export function nanosecondsOfMs(timeMs: number): number {
  return Math.min(999_999_999, Math.round((timeMs - Math.floor(timeMs / 1000) * 1000) * 1e6));
}

export interface PacketBatch {
  /** Number of packets in the batch. */
  readonly count: number;
  /** Bytes of every packet of the batch, back to back. */
  readonly data: Uint8Array;
  /** Start of packet i in `data`. */
  readonly offsets: Uint32Array;
  /** Captured length of packet i (bytes present in `data`). */
  readonly lengths: Uint32Array;
  /** Length of packet i on the wire (≥ captured length). */
  readonly wireLengths: Uint32Array;
  /** Capture time of packet i: whole seconds since the epoch … */
  readonly tsSec: Float64Array;
  /** … and nanoseconds within that second. */
  readonly tsNsec: Uint32Array;
  /** Link-layer type of every packet (pcap LINKTYPE_*: 1 Ethernet, 101 raw IP, …). */
  readonly linkType: number;
  /** Virtual network the packets belong to, when the source knows it (VXLAN VNI, emulator). */
  readonly vnet?: string;
  /** Per-packet direction when the source knows it; absent = unknown. */
  readonly directions?: Uint8Array;
  /** Name of the source, for counters and logs. */
  readonly source: string;
}

/** A batch under construction, reused by a source between deliveries. */
export class PacketBatchBuilder implements PacketBatch {
  count = 0;
  data: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
  wireLengths: Uint32Array;
  tsSec: Float64Array;
  tsNsec: Uint32Array;
  directions: Uint8Array;
  #used = 0;

  constructor(
    readonly source: string,
    public linkType: number,
    readonly capacity = 256,
    byteCapacity = 256 * 2048,
    public vnet?: string,
  ) {
    this.data = new Uint8Array(byteCapacity);
    this.offsets = new Uint32Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.wireLengths = new Uint32Array(capacity);
    this.tsSec = new Float64Array(capacity);
    this.tsNsec = new Uint32Array(capacity);
    this.directions = new Uint8Array(capacity);
  }

  /** True when no more packets (or not `bytes` more bytes) fit. */
  full(bytes = 0): boolean {
    return this.count >= this.capacity || this.#used + bytes > this.data.length;
  }

  /**
   * Append a packet (copied). Returns false when it does not fit: deliver the
   * batch, `reset()`, and push again. A packet larger than the whole buffer
   * grows the buffer.
   */
  push(
    bytes: Uint8Array,
    wireLength: number,
    tsSec: number,
    tsNsec: number,
    direction: PacketDirection = PacketDirection.UNKNOWN,
  ): boolean {
    if (this.count >= this.capacity) return false;
    if (this.#used + bytes.length > this.data.length) {
      if (this.count > 0) return false;
      this.data = new Uint8Array(bytes.length);
    }
    const i = this.count++;
    this.data.set(bytes, this.#used);
    this.offsets[i] = this.#used;
    this.lengths[i] = bytes.length;
    this.wireLengths[i] = Math.max(wireLength, bytes.length);
    this.tsSec[i] = tsSec;
    this.tsNsec[i] = tsNsec;
    this.directions[i] = direction;
    this.#used += bytes.length;
    return true;
  }

  /**
   * Same as {@link push} for the `length` bytes at `source[offset]`, without
   * making a view of them first (for sources that parse records in place).
   */
  pushFrom(
    source: Uint8Array,
    offset: number,
    length: number,
    wireLength: number,
    tsSec: number,
    tsNsec: number,
    direction: PacketDirection = PacketDirection.UNKNOWN,
  ): boolean {
    if (this.count >= this.capacity) return false;
    const used = this.#used;
    if (used + length > this.data.length) {
      if (this.count > 0) return false;
      this.data = new Uint8Array(length);
    }
    const i = this.count++;
    const data = this.data;
    if (length <= 64) for (let k = 0; k < length; k++) data[used + k] = source[offset + k];
    else data.set(source.subarray(offset, offset + length), used);
    this.offsets[i] = used;
    this.lengths[i] = length;
    this.wireLengths[i] = wireLength > length ? wireLength : length;
    this.tsSec[i] = tsSec;
    this.tsNsec[i] = tsNsec;
    this.directions[i] = direction;
    this.#used = used + length;
    return true;
  }

  reset(): void {
    this.count = 0;
    this.#used = 0;
  }
}

/** Receives batches; a returned promise applies backpressure to the source. */
export type PacketSink = (batch: PacketBatch) => void | Promise<void>;

/** Counters every packet source keeps; `dropped` is keyed by kebab-case reason. */
export interface PacketSourceStats {
  packets: number;
  bytes: number;
  batches: number;
  readonly dropped: Record<string, number>;
}

/**
 * Something that produces packets: a capture file, a live interface, a VXLAN
 * mirror receiver, the emulator. `run` resolves when the source is exhausted
 * or stopped; bad input is counted in `stats.dropped`, never thrown, unless
 * the source cannot start at all.
 */
export interface PacketSource {
  readonly name: string;
  readonly stats: PacketSourceStats;
  run(sink: PacketSink): Promise<void>;
  stop(): Promise<void>;
}

export function newPacketSourceStats(): PacketSourceStats {
  return { packets: 0, bytes: 0, batches: 0, dropped: {} };
}

/** Count a dropped packet (or datagram, or record) by reason. */
export function countDrop(stats: PacketSourceStats, reason: string, n = 1): void {
  stats.dropped[reason] = (stats.dropped[reason] ?? 0) + n;
}

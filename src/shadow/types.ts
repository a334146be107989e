/**
 * The traffic shadowing engine's contracts: where copies go (targets) and
 * what is counted. Sessions are configured in the YAML file (`shadow:`, see
 * src/vnet/config.ts) or at run time through the engine.
 */

/** Counters of one copy target. `shed` and `errors` are keyed by kebab-case reason. */
export interface TargetStats {
  packets: number;
  bytes: number;
  readonly shed: Record<string, number>;
  readonly errors: Record<string, number>;
}

export function newTargetStats(): TargetStats {
  return { packets: 0, bytes: 0, shed: {}, errors: {} };
}

/** One copied packet handed to a target. `data[offset, offset+length)` is valid until the target's `endBatch` (see {@link CopyTarget}). */
export interface CopyRecord {
  /** Session that selected the packet. */
  readonly session: string;
  /** The session's VXLAN network identifier (24 bits). */
  readonly vni: number;
  readonly data: Uint8Array;
  readonly offset: number;
  /** Bytes to copy (after truncation). */
  readonly length: number;
  /** Original length on the wire. */
  readonly wireLength: number;
  readonly tsSec: number;
  readonly tsNsec: number;
  /** pcap LINKTYPE of the bytes (1 Ethernet, 101 raw IP, …). */
  readonly linkType: number;
  /**
   * The packet's conversation (a hash of its address pair and
   * protocol, both directions); a target may send copies of different
   * conversations out of order, never those of one. Absent or 0: unknown
   * (such copies keep their order among themselves).
   */
  readonly conversation?: number;
}

/**
 * Where copies go: a VXLAN mirror target (what AWS Traffic Mirroring
 * sends), capture files, or a bus topic for the analytics workers. A target
 * may read `record.data` until its `endBatch` (or `flush`) returns, not
 * after: the engine calls `endBatch` at the end of every batch, before the
 * batch's buffers may be reused, and a caller writing outside an engine
 * batch calls it before changing the bytes. `write` never throws for I/O
 * trouble (errors are counted in `stats.errors`).
 */
export interface CopyTarget {
  readonly name: string;
  readonly kind: 'vxlan' | 'pcap' | 'bus';
  readonly stats: TargetStats;
  write(record: CopyRecord): void;
  /** The engine finished a batch: copy out what is still read from the batch's buffers, and send or hand off what is gathered, without waiting. */
  endBatch?(): void;
  /** A promise while the target holds more than it should let wait (the engine's source then waits for it), else undefined. */
  drain?(): Promise<void> | undefined;
  /** Push out anything buffered; resolves when it has left (on the socket, in the OS's hands). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Feeds a packet producer that also carries flows as counts (the emulator
 * with `materialize: select`) into the engine, synchronously: frames are
 * gathered into one batch per virtual network and processed when the batch
 * is full or at `flush()`; a flow given as counts is counted at once, after
 * its network's gathered frames when they lie in an earlier statistics
 * interval, so the engine sees every interval's traffic before the next
 * one's.
 *
 *   const feed = new FlowFeed(engine);
 *   new Emulator({ …, materialize: { mode: 'select', wants: feed.wants },
 *                  onFrame: (f, t, flow, toServer) => feed.frame(flow.vnet, f, t, toServer),
 *                  onFlow: feed.flow });
 *   …emulator.step(); feed.flush();
 */
import { PacketBatchBuilder, PacketDirection, nanosecondsOfMs, type FlowRecord } from '../core/index.js';
import type { ShadowEngine } from './engine.js';

export class FlowFeed {
  readonly #engine: ShadowEngine;
  readonly #batches = new Map<string, PacketBatchBuilder>();
  /** Per network: the statistics interval (ms / interval length) of the first gathered frame. */
  readonly #firstInterval = new Map<string, number>();
  readonly #capacity: number;

  constructor(engine: ShadowEngine, options: { batchPackets?: number } = {}) {
    this.#engine = engine;
    this.#capacity = options.batchPackets ?? 256;
  }

  /** The producer's selector: the directions of the flow that must come as packets ({@link ShadowEngine.flowPacketsNeeded}). */
  readonly wants = (f: FlowRecord): number => this.#engine.flowPacketsNeeded(f);

  /** One frame of network `vnet` at `timeMs` (copied). */
  frame(vnet: string, frame: Uint8Array, timeMs: number, toServer: boolean): void {
    let b = this.#batches.get(vnet);
    if (!b) {
      b = new PacketBatchBuilder(`emulator:${vnet}`, 1, this.#capacity, this.#capacity * 1600, vnet);
      this.#batches.set(vnet, b);
    }
    const sec = Math.floor(timeMs / 1000);
    const nsec = nanosecondsOfMs(timeMs);
    const dir = toServer ? PacketDirection.INGRESS : PacketDirection.EGRESS;
    if (b.count === 0) this.#firstInterval.set(vnet, Math.floor(timeMs / this.#engine.statsIntervalMs));
    if (!b.push(frame, frame.length, sec, nsec, dir)) {
      this.#deliver(b);
      this.#firstInterval.set(vnet, Math.floor(timeMs / this.#engine.statsIntervalMs));
      b.push(frame, frame.length, sec, nsec, dir);
    }
  }

  /** A flow given as counts. */
  readonly flow = (f: FlowRecord): void => {
    const b = this.#batches.get(f.vnet);
    if (b && b.count > 0 && this.#firstInterval.get(f.vnet)! !== Math.floor(f.startMs / this.#engine.statsIntervalMs)) this.#deliver(b);
    this.#engine.countFlow(f);
  };

  /** Process every gathered frame (end of a step). */
  flush(): void {
    for (const b of this.#batches.values()) if (b.count > 0) this.#deliver(b);
  }

  #deliver(b: PacketBatchBuilder): void {
    this.#engine.process(b);
    b.reset();
  }
}

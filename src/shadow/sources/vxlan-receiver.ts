/**
 * A mirror-target endpoint: a UDP socket that receives what AWS Traffic
 * Mirroring sends (VXLAN, RFC 7348, on port 4789; the VNI names the mirror
 * session, and here the virtual network), and optionally GENEVE (RFC 8926,
 * port 6081, as gateway load balancers send it), and hands on the inner
 * packets in batches, one batch per virtual network.
 *
 * Datagrams that are not usable are counted by reason and dropped:
 * `vxlan-truncated`, `vxlan-bad-flags`, `vxlan-unknown-vni`, and for GENEVE
 * `geneve-truncated`, `geneve-bad-version`, `geneve-oam`,
 * `geneve-critical-option`, `geneve-unknown-protocol`, `geneve-bad-option-length`,
 * `geneve-unknown-vni`; GENEVE-carried IP packets come as link type 228/229;
 * `receiver-overrun` when a network's sink is still busy with two batches.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { RealClock, type Clock } from '../../core/clock.js';
import { silentLogger, type Logger } from '../../core/log.js';
import {
  PacketBatchBuilder,
  countDrop,
  newPacketSourceStats,
  type PacketSink,
  type PacketSource,
  type PacketSourceStats,
} from '../../core/packet.js';
import { PacketIoError, PacketIoErrorCode } from './errors.js';
import { TunnelError, TunnelView, decapsulateVxlan } from '../../wire/vxlan.js';
import { decapsulateGeneve } from '../../wire/geneve.js';

export const VXLAN_PORT = 4789;
export const GENEVE_PORT = 6081;
const ETHERNET_HEADER = 14;

export interface VxlanReceiverOptions {
  /** Address to listen on (IPv4 or IPv6). */
  readonly address: string;
  /** VXLAN port (default 4789; 0 picks a free one, see {@link VxlanReceiver.bound}). */
  readonly port?: number;
  /** VNI → virtual network; a function may accept any VNI it likes. A VNI it does not map is dropped. */
  readonly vniToVnet: ReadonlyMap<number, string> | ((vni: number) => string | undefined);
  /** Also receive GENEVE: true for port 6081, or the port (0 = a free one). Its VNIs map through `vniToVnet` too. */
  readonly geneve?: boolean | number;
  readonly name?: string;
  /** Packets per batch (default 256). */
  readonly batchSize?: number;
  /** Socket receive buffer in bytes (default: the system's). */
  readonly receiveBufferSize?: number;
  /** Stamps the arrival time of every packet. */
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** The receiver's counters: packet-source counters plus every datagram seen. */
export interface VxlanReceiverStats extends PacketSourceStats {
  /** Datagrams received, good or bad. */
  datagrams: number;
}

/** Two builders per (network, link type): one fills while the sink works on the other. */
interface Lane {
  filling: PacketBatchBuilder;
  spare: PacketBatchBuilder | undefined;
}

export class VxlanReceiver implements PacketSource {
  readonly name: string;
  readonly stats: VxlanReceiverStats = { ...newPacketSourceStats(), datagrams: 0 };
  readonly #opts: VxlanReceiverOptions;
  readonly #lookup: (vni: number) => string | undefined;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #batchSize: number;
  #sockets: Socket[] = [];
  #lanes = new Map<string, Lane>();
  #pending = new Set<string>();
  #flushScheduled = false;
  #sink: PacketSink | undefined;
  #inFlight = new Set<Promise<void>>();
  #bound: {
    promise: Promise<{ port: number; genevePort?: number }>;
    resolve: (v: { port: number; genevePort?: number }) => void;
    reject: (e: Error) => void;
  };
  #done: (() => void) | undefined;
  #stopped = false;
  #sinkErrors = 0;
  readonly #tunnel = new TunnelView();

  constructor(options: VxlanReceiverOptions) {
    this.#opts = options;
    this.name = options.name ?? `vxlan:${options.address}:${options.port ?? VXLAN_PORT}`;
    const map = options.vniToVnet;
    this.#lookup = typeof map === 'function' ? map : (vni) => map.get(vni);
    this.#clock = options.clock ?? new RealClock();
    this.#log = options.logger ?? silentLogger();
    this.#batchSize = options.batchSize ?? 256;
    let resolve!: (v: { port: number; genevePort?: number }) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<{ port: number; genevePort?: number }>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => {});
    this.#bound = { promise, resolve, reject };
  }

  /** Resolves with the bound ports once listening; rejects if a socket cannot be bound. */
  bound(): Promise<{ port: number; genevePort?: number }> {
    return this.#bound.promise;
  }

  /** Listen until {@link stop}. Rejects with {@link PacketIoError} when a socket cannot be bound. */
  async run(sink: PacketSink): Promise<void> {
    this.#sink = sink;
    const type = isIPv6(this.#opts.address) ? 'udp6' : 'udp4';
    const g = this.#opts.geneve;
    try {
      const port = await this.#listen(type, this.#opts.port ?? VXLAN_PORT, (msg) => this.#onVxlan(msg));
      const genevePort =
        g === undefined || g === false
          ? undefined
          : await this.#listen(type, g === true ? GENEVE_PORT : g, (msg) => this.#onGeneve(msg));
      this.#bound.resolve(genevePort === undefined ? { port } : { port, genevePort });
    } catch (err) {
      this.#closeSockets();
      this.#bound.reject(err as Error);
      throw err;
    }
    if (!this.#stopped) await new Promise<void>((resolve) => (this.#done = resolve));
    this.#closeSockets();
    this.#flushAll();
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  #listen(type: 'udp4' | 'udp6', port: number, onMessage: (msg: Buffer) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      const s = createSocket({ type, reuseAddr: false });
      this.#sockets.push(s);
      s.once('error', (err) =>
        reject(
          new PacketIoError(
            PacketIoErrorCode.SOCKET_BIND_FAILED,
            `cannot listen on ${this.#opts.address} port ${port}: ${err.message}`,
            'address',
            undefined,
            { cause: err },
          ),
        ),
      );
      s.on('message', onMessage);
      s.bind(port, this.#opts.address, () => {
        s.removeAllListeners('error');
        s.on('error', (err) => this.#log.warn({ source: this.name, err }, 'receiver socket error'));
        if (this.#opts.receiveBufferSize) s.setRecvBufferSize(this.#opts.receiveBufferSize);
        resolve(s.address().port);
      });
    });
  }

  #onVxlan(msg: Buffer): void {
    this.stats.datagrams++;
    const t = decapsulateVxlan(msg, 0, msg.length, this.#tunnel);
    if (typeof t === 'number')
      return countDrop(
        this.stats,
        t === TunnelError.VXLAN_I_FLAG_CLEAR ? 'vxlan-bad-flags' : 'vxlan-truncated',
      );
    if (t.innerLength < ETHERNET_HEADER) return countDrop(this.stats, 'vxlan-truncated');
    const vnet = this.#lookup(t.vni);
    if (vnet === undefined) return countDrop(this.stats, 'vxlan-unknown-vni');
    this.#accept(vnet, t.innerLinkType, msg, t.innerOffset);
  }

  #onGeneve(msg: Buffer): void {
    this.stats.datagrams++;
    const t = decapsulateGeneve(msg, 0, msg.length, this.#tunnel);
    if (typeof t === 'number') {
      const reason =
        t === TunnelError.GENEVE_BAD_VERSION
          ? 'geneve-bad-version'
          : t === TunnelError.GENEVE_UNSUPPORTED_PROTOCOL
            ? 'geneve-unknown-protocol'
            : t === TunnelError.GENEVE_BAD_OPTION_LENGTH
              ? 'geneve-bad-option-length'
              : 'geneve-truncated';
      return countDrop(this.stats, reason);
    }
    // O: a control message for the tunnel endpoint, not a packet to forward.
    if (t.oam) return countDrop(this.stats, 'geneve-oam');
    // C: critical options are present; options are not interpreted here, so RFC 8926 §3.5 says drop.
    if (t.critical) return countDrop(this.stats, 'geneve-critical-option');
    if (t.innerLength < (t.innerLinkType === 1 ? ETHERNET_HEADER : 1))
      return countDrop(this.stats, 'geneve-truncated');
    const vnet = this.#lookup(t.vni);
    if (vnet === undefined) return countDrop(this.stats, 'geneve-unknown-vni');
    this.#accept(vnet, t.innerLinkType, msg, t.innerOffset);
  }

  #accept(vnet: string, linkType: number, msg: Buffer, offset: number): void {
    const key = linkType === 1 ? vnet : `${vnet}\u0000${linkType}`;
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = { filling: this.#builder(vnet, linkType), spare: this.#builder(vnet, linkType) };
      this.#lanes.set(key, lane);
    }
    const now = this.#clock.now();
    const sec = Math.floor(now / 1000);
    const nsec = Math.round((now - sec * 1000) * 1e6);
    const bytes = msg.subarray(offset);
    if (!lane.filling.push(bytes, bytes.length, sec, nsec)) {
      if (!this.#deliver(lane)) return countDrop(this.stats, 'receiver-overrun');
      lane.filling.push(bytes, bytes.length, sec, nsec);
    }
    this.stats.packets++;
    this.stats.bytes += bytes.length;
    if (lane.filling.full()) this.#deliver(lane);
    else {
      this.#pending.add(key);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // Batches close at the end of the current burst of datagrams (after the poll phase), not on a timer.
        setImmediate(() => {
          this.#flushScheduled = false;
          this.#flushAll();
        });
      }
    }
  }

  #builder(vnet: string, linkType: number): PacketBatchBuilder {
    return new PacketBatchBuilder(
      this.name,
      linkType,
      this.#batchSize,
      Math.max(this.#batchSize * 2048, 65536),
      vnet,
    );
  }

  #flushAll(): void {
    for (const key of this.#pending) {
      const lane = this.#lanes.get(key);
      if (lane && lane.filling.count > 0) this.#deliver(lane);
    }
    this.#pending.clear();
  }

  /** Hand the filling batch to the sink and fill the spare; false when the spare is still with the sink. */
  #deliver(lane: Lane): boolean {
    const batch = lane.filling;
    if (batch.count === 0) return true;
    const spare = lane.spare;
    if (!spare || !this.#sink) return false;
    lane.filling = spare;
    lane.spare = undefined;
    this.stats.batches++;
    const done = (): void => {
      batch.reset();
      lane.spare = batch;
      // Packets that arrived while both batches were out leave now.
      if (lane.filling.count > 0 && this.#sink) this.#deliver(lane);
    };
    let result: void | Promise<void>;
    try {
      result = this.#sink(batch);
    } catch (err) {
      this.#sinkError(err);
      done();
      return true;
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      const p: Promise<void> = (result as Promise<void>).then(
        () => done(),
        (err) => {
          this.#sinkError(err);
          done();
        },
      );
      this.#inFlight.add(p);
      void p.finally(() => this.#inFlight.delete(p));
    } else done();
    return true;
  }

  #sinkError(err: unknown): void {
    if (this.#sinkErrors++ < 10) this.#log.error({ source: this.name, err }, 'packet sink failed on a batch');
  }

  #closeSockets(): void {
    for (const s of this.#sockets) {
      try {
        s.close();
      } catch {
        // Already closed.
      }
    }
    this.#sockets = [];
  }

  /** Close the sockets; `run` resolves once the batches in hand are delivered. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#done?.();
  }
}

/**
 * Copies sent as AWS Traffic Mirroring sends them: one UDP datagram per
 * copy, an 8-byte VXLAN header (RFC 7348, I flag, the session's VNI), then
 * the copied frame as Ethernet (a synthetic header is put in front of raw IP
 * and cooked captures, see ethernet-framing.ts). An existing mirror target
 * (Suricata, Zeek, a VXLAN-decapsulating NIC) receives it unchanged.
 *
 * Two ways to send: with the native batch sender (native/udp-batch.c, built
 * by `npm install`), copies are gathered during a batch and leave with one
 * sendmmsg(2) per 256 at the end of the batch (`endBatch`) or when the
 * gathering buffer is full; without it, each copy is one `send` of Node's
 * dgram. `sender` chooses (default `auto`: the native sender when it is
 * built and the address is a literal).
 *
 * With the native sender, copies of equal length that follow each other
 * leave as one UDP GSO message (`gso`, on by default; Linux >= 4.18): the
 * kernel cuts it into the same datagrams at a fraction of the cost per
 * datagram, and the receiver sees no difference. So that they do follow
 * each other, the copies gathered for one send are put in order of length
 * where their conversations allow it (`order: 'conversation'`, the
 * default): a copy moves ahead only of copies of other conversations
 * (address pair and protocol, {@link CopyRecord.conversation}), so each
 * conversation's copies, both directions together, reach the mirror target
 * in the order they were made. Copies leave when 256 are gathered, when
 * 1 MiB is, and at the latest about a millisecond after the engine batch
 * that made them (a timer), or at `flush`. When the kernel refuses GSO
 * on this path the copies are sent again one per message: after a copy too
 * large for the route's MTU, only copies above that size leave alone from
 * then on (`gsoMaxDatagram`); after any other refusal (no UDP GSO in the
 * kernel, no checksum offload) the target stops asking for GSO. It logs
 * once either way. `stats.gsoDatagrams` counts the copies that left inside
 * GSO messages.
 *
 * `write` never waits: when more than `maxQueuedBytes` are still on their
 * way to the socket (dgram), or the socket's buffer is full (native), the
 * copy is shed as `socket-busy`. Send failures are counted in
 * `stats.errors` by errno (`send-econnrefused`, …).
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import { silentLogger, type Logger } from '../../core/log.js';
import { newTargetStats, type CopyRecord, type CopyTarget, type TargetStats } from '../types.js';
import { PacketIoError, PacketIoErrorCode } from '../sources/errors.js';
import {
  ETHERNET_HEADER_LENGTH,
  ethernetFraming,
  writeSyntheticEthernet,
  type EthernetFraming,
} from './ethernet-framing.js';
import { VXLAN_FLAG_I, VXLAN_HEADER_LENGTH } from '../../wire/vxlan.js';
import { parseAddress } from '../../core/prefix.js';
import { DeferredCopies } from './deferred-copies.js';
import { errnoName, sendErrorReason, udpBatch, udpBatchUnavailableReason, type UdpBatch } from './udp-batch.js';

export interface VxlanTargetOptions {
  readonly name: string;
  /** Mirror target address (IPv4 or IPv6). */
  readonly address: string;
  /** Mirror target UDP port (4789 for VXLAN receivers). */
  readonly port: number;
  /** Local UDP port to send from (default: any). */
  readonly sourcePort?: number;
  /** Local address to send from (default: any of the address family). */
  readonly sourceAddress?: string;
  /** Bytes allowed in flight to the socket before copies are shed as `socket-busy` (default 4 MiB). */
  readonly maxQueuedBytes?: number;
  /** `batch`: the native sendmmsg sender (an error when not built); `dgram`: Node's; `auto` (default): `batch` when available. */
  readonly sender?: 'auto' | 'batch' | 'dgram';
  /**
   * Native sender: send runs of equal-length copies as UDP GSO messages
   * (default true). Turned off for good, with one log line, when the kernel
   * refuses GSO on this path. Without the native sender it has no effect.
   */
  readonly gso?: boolean;
  /**
   * `conversation` (default): with GSO, copies of different conversations
   * may change places within one send so that equal lengths leave together;
   * those of one conversation never do. `arrival`: copies leave in the
   * order they were written.
   */
  readonly order?: 'conversation' | 'arrival';
  readonly logger?: Logger;
}

/** A VXLAN target's counters: {@link TargetStats} and how the copies left. */
export interface VxlanTargetStats extends TargetStats {
  /** Copies (of `packets`) that left inside UDP GSO messages; the others left one datagram per message. */
  gsoDatagrams: number;
}

/** Datagrams per native send call, and bytes gathered for them. */
const BATCH_COUNT = 256;
const BATCH_BYTES = 1 << 20;

/** Largest UDP payload; a bigger copy cannot leave as one datagram. */
const MAX_DATAGRAM = 65507;

/** A UDP GSO message's limits in the native sender: datagrams, and bytes of payload. */
const GSO_SEGMENTS = 64;
const GSO_BYTES = 65000;

/** How long gathered copies may wait for more after an engine batch, ms. */
const GATHER_MS = 1;

/** Slots of the per-send table of conversations (a power of two, more than BATCH_COUNT). */
const CONVERSATION_SLOTS = 1024;

export class VxlanTarget implements CopyTarget {
  readonly kind = 'vxlan' as const;
  readonly name: string;
  readonly stats: VxlanTargetStats = { ...newTargetStats(), gsoDatagrams: 0 };
  readonly #opts: VxlanTargetOptions;
  readonly #socket: Socket | null = null;
  // Native batch sender state.
  readonly #native: UdpBatch | null = null;
  #fd = -1;
  readonly #family: 4 | 6 = 4;
  readonly #destination: Uint8Array = new Uint8Array(0);
  readonly #bData: Uint8Array = new Uint8Array(0);
  readonly #bOffsets = new Uint32Array(BATCH_COUNT);
  readonly #bLengths = new Uint32Array(BATCH_COUNT);
  /** Each gathered copy's conversation, and the send order built from them. */
  readonly #bConversations = new Int32Array(BATCH_COUNT);
  readonly #sOffsets = new Uint32Array(BATCH_COUNT);
  readonly #sLengths = new Uint32Array(BATCH_COUNT);
  readonly #order: Orderer | null = null;
  #timer: NodeJS.Timeout | undefined;
  /** The copied bytes, copied out of the batch's buffers at its end. */
  readonly #copies = new DeferredCopies(BATCH_COUNT);
  readonly #bErrors = new Uint32Array(256);
  readonly #bGso = new Uint32Array(3);
  #gso: 0 | 1 = 0;
  /** Largest datagram grouped into GSO messages (0: no limit), lowered when the path refuses a size. */
  #gsoMax = 0;
  #bCount = 0;
  #bUsed = 0;
  readonly #maxQueued: number;
  readonly #log: Logger;
  readonly #framing: EthernetFraming = { skip: 0, etherType: -1 };
  #queuedBytes = 0;
  #queued = 0;
  #idle: (() => void)[] = [];
  #bound: Promise<void>;
  #closed = false;
  #loggedErrors = 0;

  constructor(options: VxlanTargetOptions) {
    this.#opts = options;
    this.name = options.name;
    this.#maxQueued = options.maxQueuedBytes ?? 4 * 1024 * 1024;
    this.#log = options.logger ?? silentLogger();
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535)
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `port must be 1..65535, not ${options.port}`,
        'port',
      );
    const v6 = isIPv6(options.address);
    // An address literal needs no resolver: answer at once instead of one dns.lookup per datagram.
    const family = isIP(options.address);
    const sender = options.sender ?? 'auto';
    const native = sender === 'dgram' || family === 0 ? null : udpBatch();
    if (sender === 'batch' && native === null)
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        family === 0
          ? `the batch sender needs an address literal, not ${options.address}`
          : `the native batch sender is not available (${udpBatchUnavailableReason()}); run \`npm run build\``,
        'sender',
      );
    if (native === null && sender === 'auto' && family !== 0)
      this.#log.info(
        { target: options.name, reason: udpBatchUnavailableReason() },
        'the native VXLAN sender is not built (npm run build:native); sending one datagram per system call',
      );
    if (native !== null) {
      this.#native = native;
      this.#family = v6 ? 6 : 4;
      this.#destination = parseAddress(options.address);
      this.#bData = new Uint8Array(BATCH_BYTES);
      this.#gso = options.gso === false ? 0 : 1;
      if (options.order !== undefined && options.order !== 'conversation' && options.order !== 'arrival')
        throw new PacketIoError(
          PacketIoErrorCode.INVALID_OPTION,
          `order must be conversation or arrival, not ${JSON.stringify(options.order)}`,
          'order',
        );
      if (options.order !== 'arrival') this.#order = new Orderer();
      this.#bound = Promise.resolve();
      const bindAddress = options.sourceAddress === undefined ? null : parseAddress(options.sourceAddress);
      try {
        this.#fd = native.open(this.#family, bindAddress, options.sourcePort ?? 0);
      } catch (err) {
        this.#bound = Promise.reject(
          new PacketIoError(
            PacketIoErrorCode.SOCKET_BIND_FAILED,
            `cannot send from ${options.sourceAddress ?? 'any'} port ${options.sourcePort ?? 0}: ${(err as Error).message}`,
            'sourcePort',
            undefined,
            { cause: err },
          ),
        );
        this.#bound.catch(() => {});
        // Still send, from a port of the system's choosing, as the dgram path does after a failed bind.
        this.#fd = native.open(this.#family, null, 0);
      }
      return;
    }
    const socket = (this.#socket =
      family === 0
        ? createSocket(v6 ? 'udp6' : 'udp4')
        : createSocket({
            type: v6 ? 'udp6' : 'udp4',
            lookup: (host: string, _opts: unknown, cb: (err: Error | null, address: string, family: number) => void) =>
              host === options.address ? cb(null, host, family) : lookup(host, { family }, cb),
          }));
    socket.on('error', (err) => this.#countError(err));
    this.#bound =
      options.sourcePort === undefined && options.sourceAddress === undefined
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const onError = (err: Error): void =>
              reject(
                new PacketIoError(
                  PacketIoErrorCode.SOCKET_BIND_FAILED,
                  `cannot send from ${options.sourceAddress ?? 'any'} port ${options.sourcePort ?? 0}: ${err.message}`,
                  'sourcePort',
                  undefined,
                  { cause: err },
                ),
              );
            socket.once('error', onError);
            socket.bind(options.sourcePort ?? 0, options.sourceAddress, () => {
              socket.off('error', onError);
              resolve();
            });
          });
    this.#bound.catch(() => {});
  }

  /** Resolves once the socket is bound to `sourcePort`; rejects when that fails. */
  ready(): Promise<void> {
    return this.#bound;
  }

  write(record: CopyRecord): void {
    if (this.#closed) return this.#shed('target-closed');
    const f = this.#framing;
    if (!ethernetFraming(record.linkType, record.data, record.offset, record.length, f))
      return this.#shed('unsupported-link-type');
    const synthetic = f.etherType >= 0 ? ETHERNET_HEADER_LENGTH : 0;
    const body = record.length - f.skip;
    const size = VXLAN_HEADER_LENGTH + synthetic + body;
    if (size > MAX_DATAGRAM) return this.#shed('too-large');
    if (this.#native !== null) {
      if (this.#bCount === BATCH_COUNT || this.#bUsed + size > BATCH_BYTES) this.#sendBatch();
      const at = this.#bUsed;
      this.#vxlan(this.#bData, at, record, synthetic, f.skip);
      this.#bOffsets[this.#bCount] = at;
      this.#bConversations[this.#bCount] = record.conversation ?? 0;
      this.#bLengths[this.#bCount++] = size;
      this.#bUsed = at + size;
      this.stats.packets++;
      this.stats.bytes += size;
      return;
    }
    if (this.#queuedBytes + size > this.#maxQueued) return this.#shed('socket-busy');
    const d = Buffer.allocUnsafe(size);
    this.#vxlan(d, 0, record, synthetic, f.skip);
    this.#copies.flush();
    this.#queuedBytes += size;
    this.#queued++;
    this.stats.packets++;
    this.stats.bytes += size;
    const done = (err: Error | null): void => {
      this.#queuedBytes -= size;
      this.#queued--;
      if (err) this.#countError(err);
      if (this.#queued === 0) {
        const idle = this.#idle;
        this.#idle = [];
        for (const f of idle) f();
      }
    };
    this.#socket!.send(d, this.#opts.port, this.#opts.address, done);
  }

  /** The VXLAN header and the (framed) copy at `d[at]`. */
  #vxlan(d: Uint8Array, at: number, record: CopyRecord, synthetic: number, skip: number): void {
    // RFC 7348 §5: flags with only I set, reserved fields zero.
    d[at] = VXLAN_FLAG_I;
    d[at + 1] = 0;
    d[at + 2] = 0;
    d[at + 3] = 0;
    d[at + 4] = (record.vni >>> 16) & 0xff;
    d[at + 5] = (record.vni >>> 8) & 0xff;
    d[at + 6] = record.vni & 0xff;
    d[at + 7] = 0;
    if (synthetic) writeSyntheticEthernet(d, at + VXLAN_HEADER_LENGTH, this.#framing.etherType);
    this.#copies.add(d, at + VXLAN_HEADER_LENGTH + synthetic, record.data, record.offset + skip, record.length - skip);
  }

  /** Native sender: send what was gathered; what the full socket buffer refuses is shed as `socket-busy`. */
  #sendBatch(): void {
    this.#copies.flush();
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const n = this.#bCount;
    if (n === 0 || this.#native === null) return;
    let offsets = this.#bOffsets;
    let lengths = this.#bLengths;
    if (this.#gso === 1 && this.#order !== null && n > 2) {
      this.#order.order(n, offsets, lengths, this.#bConversations, this.#gsoMax, this.#sOffsets, this.#sLengths);
      offsets = this.#sOffsets;
      lengths = this.#sLengths;
    }
    const handled = this.#native.send(
      this.#fd,
      this.#family,
      this.#destination,
      this.#opts.port,
      this.#bData,
      offsets,
      lengths,
      n,
      this.#bErrors,
      this.#gso,
      this.#bGso,
      this.#gsoMax,
    );
    this.stats.gsoDatagrams += this.#bGso[0];
    if (this.#bGso[1] !== 0) this.#gsoRefused(this.#bGso[1], this.#bGso[2]);
    for (let i = handled; i < n; i++) {
      this.stats.packets--;
      this.stats.bytes -= lengths[i];
      this.#shed('socket-busy');
    }
    const errs = this.#bErrors;
    for (let e = 0; e < errs.length; e++) {
      if (errs[e] === 0) continue;
      const reason = sendErrorReason(e);
      this.stats.errors[reason] = (this.stats.errors[reason] ?? 0) + errs[e];
      if (this.#loggedErrors++ < 10) this.#log.warn({ target: this.name, reason, count: errs[e] }, `VXLAN copies to ${this.#opts.address}:${this.#opts.port} failed`);
      errs[e] = 0;
    }
    this.#bCount = 0;
    this.#bUsed = 0;
  }

  /** The kernel refused GSO on this path (the copies went one by one): ask no more, and say why once. */
  #gsoRefused(errno: number, maxSize: number): void {
    if (this.#gso === 0) return;
    if (maxSize > 0) {
      // A size the path cannot take in one segment: larger copies leave one by one, smaller ones still grouped.
      const first = this.#gsoMax === 0;
      this.#gsoMax = maxSize;
      if (first)
        this.#log.info(
          { target: this.name, reason: `gso-${errnoName(errno).toLowerCase()}`, gsoMaxDatagram: maxSize },
          `the path to ${this.#opts.address}:${this.#opts.port} refused a UDP GSO segment (${errnoName(errno)}: larger than its MTU allows); ` +
            `VXLAN copies above ${maxSize} bytes leave one datagram per message from now on`,
        );
      return;
    }
    this.#gso = 0;
    this.#log.info(
      { target: this.name, reason: `gso-${errnoName(errno).toLowerCase()}` },
      `the kernel refused UDP GSO for VXLAN copies to ${this.#opts.address}:${this.#opts.port} (${errnoName(errno)}: ` +
        'no UDP GSO in the kernel, a copy larger than the path MTU, or no checksum offload); ' +
        'sending one datagram per message from now on',
    );
  }

  /** Whether copies still leave as UDP GSO messages where they can (native sender, `gso` not off, not refused by the kernel). */
  get gso(): boolean {
    return this.#gso === 1;
  }

  /** The largest datagram still grouped into GSO messages, after the path refused a larger one (0: no limit). */
  get gsoMaxDatagram(): number {
    return this.#gsoMax;
  }

  /**
   * End of an engine batch: the gathered copies leave now if they are half
   * a send, else when more join them or the timer fires (about 1 ms).
   */
  endBatch(): void {
    // The engine may reuse the batch's buffer once this returns.
    this.#copies.flush();
    if (this.#bCount >= BATCH_COUNT / 2) this.#sendBatch();
    else if (this.#bCount > 0 && this.#timer === undefined) this.#timer = setTimeout(() => this.#sendBatch(), GATHER_MS);
  }

  /** A promise while more than half of `maxQueuedBytes` waits for the socket (dgram sender), else undefined. */
  drain(): Promise<void> | undefined {
    return this.#queuedBytes > this.#maxQueued / 2 ? this.flush() : undefined;
  }

  #shed(reason: string): void {
    this.stats.shed[reason] = (this.stats.shed[reason] ?? 0) + 1;
  }

  #countError(err: NodeJS.ErrnoException): void {
    const reason = `send-${(err.code ?? 'failed').toLowerCase().replace(/_/g, '-')}`;
    this.stats.errors[reason] = (this.stats.errors[reason] ?? 0) + 1;
    if (this.#loggedErrors++ < 10)
      this.#log.warn(
        { target: this.name, err },
        `VXLAN copy to ${this.#opts.address}:${this.#opts.port} failed`,
      );
  }

  /** Resolves when every datagram written so far has been handed to the kernel. */
  flush(): Promise<void> {
    this.#sendBatch();
    if (this.#queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    if (this.#native !== null) this.#native.close(this.#fd);
    else await new Promise<void>((resolve) => this.#socket!.close(() => resolve()));
  }
}

/**
 * The send order of gathered copies for UDP GSO: each copy joins the
 * latest group of its length when that group has room (64 copies, 65,000
 * bytes) and no copy of its conversation was put in a later group; else it
 * starts a new group. Groups leave in the order they were started, each in
 * the order its copies were written. So a copy only ever moves ahead of
 * copies of other conversations. Allocates nothing per send.
 */
class Orderer {
  readonly #groupCount = new Int32Array(BATCH_COUNT);
  readonly #groupBytes = new Int32Array(BATCH_COUNT);
  readonly #groupHead = new Int32Array(BATCH_COUNT);
  readonly #groupTail = new Int32Array(BATCH_COUNT);
  /** The next copy of the same group (-1: the last). */
  readonly #next = new Int32Array(BATCH_COUNT);
  /** Latest group of each length, by length (cleared at each send). */
  readonly #latest = new Map<number, number>();
  /** Open-addressed table: conversation → latest group holding one of its copies; a slot is live when its stamp is this send's. */
  readonly #convKey = new Int32Array(CONVERSATION_SLOTS);
  readonly #convGroup = new Int32Array(CONVERSATION_SLOTS);
  readonly #convStamp = new Uint32Array(CONVERSATION_SLOTS);
  #stamp = 0;

  /** Put copies 0..n-1 (`offsets`, `lengths`, `conversations`) into `outOffsets`/`outLengths` in send order. */
  order(
    n: number,
    offsets: Uint32Array,
    lengths: Uint32Array,
    conversations: Int32Array,
    gsoMax: number,
    outOffsets: Uint32Array,
    outLengths: Uint32Array,
  ): void {
    const latest = this.#latest;
    latest.clear();
    if (++this.#stamp === 0xffffffff) {
      this.#convStamp.fill(0);
      this.#stamp = 1;
    }
    const stamp = this.#stamp;
    const gCount = this.#groupCount;
    const gBytes = this.#groupBytes;
    const gTail = this.#groupTail;
    const next = this.#next;
    let groups = 0;
    for (let i = 0; i < n; i++) {
      const len = lengths[i];
      const conv = conversations[i];
      // The conversation's slot: its latest group so far, or -1.
      let slot = (Math.imul(conv, 0x9e3779b1) >>> 22) & (CONVERSATION_SLOTS - 1);
      while (this.#convStamp[slot] === stamp && this.#convKey[slot] !== conv) slot = (slot + 1) & (CONVERSATION_SLOTS - 1);
      const convLatest = this.#convStamp[slot] === stamp ? this.#convGroup[slot] : -1;
      const groupable = gsoMax === 0 || len <= gsoMax;
      let g = groupable ? (latest.get(len) ?? -1) : -1;
      if (g >= 0 && (g < convLatest || gCount[g] >= GSO_SEGMENTS || gBytes[g] + len > GSO_BYTES)) g = -1;
      next[i] = -1;
      if (g < 0) {
        g = groups++;
        gCount[g] = 1;
        gBytes[g] = len;
        this.#groupHead[g] = i;
        gTail[g] = i;
        if (groupable) latest.set(len, g);
      } else {
        gCount[g]++;
        gBytes[g] += len;
        next[gTail[g]] = i;
        gTail[g] = i;
      }
      this.#convStamp[slot] = stamp;
      this.#convKey[slot] = conv;
      this.#convGroup[slot] = g;
    }
    let o = 0;
    for (let g = 0; g < groups; g++)
      for (let i = this.#groupHead[g]; i >= 0; i = next[i]) {
        outOffsets[o] = offsets[i];
        outLengths[o++] = lengths[i];
      }
  }
}

/**
 * Copies sent as AWS Traffic Mirroring sends them: one UDP datagram per
 * copy, an 8-byte VXLAN header (RFC 7348, I flag, the session's VNI), then
 * the copied frame as Ethernet (a synthetic header is put in front of raw IP
 * and cooked captures, see ethernet-framing.ts). An existing mirror target
 * (Suricata, Zeek, a VXLAN-decapsulating NIC) receives it unchanged.
 *
 * `write` never waits: when more than `maxQueuedBytes` are still on their
 * way to the socket, the copy is shed as `socket-busy`. Send failures are
 * counted in `stats.errors` by errno (`send-econnrefused`, …).
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
  readonly logger?: Logger;
}

/** Largest UDP payload; a bigger copy cannot leave as one datagram. */
const MAX_DATAGRAM = 65507;

export class VxlanTarget implements CopyTarget {
  readonly kind = 'vxlan' as const;
  readonly name: string;
  readonly stats: TargetStats = newTargetStats();
  readonly #opts: VxlanTargetOptions;
  readonly #socket: Socket;
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
    this.#socket =
      family === 0
        ? createSocket(v6 ? 'udp6' : 'udp4')
        : createSocket({
            type: v6 ? 'udp6' : 'udp4',
            lookup: (host: string, _opts: unknown, cb: (err: Error | null, address: string, family: number) => void) =>
              host === options.address ? cb(null, host, family) : lookup(host, { family }, cb),
          });
    this.#socket.on('error', (err) => this.#countError(err));
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
            this.#socket.once('error', onError);
            this.#socket.bind(options.sourcePort ?? 0, options.sourceAddress, () => {
              this.#socket.off('error', onError);
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
    if (this.#queuedBytes + size > this.#maxQueued) return this.#shed('socket-busy');
    const d = Buffer.allocUnsafe(size);
    // RFC 7348 §5: flags with only I set, reserved fields zero.
    d[0] = VXLAN_FLAG_I;
    d[1] = 0;
    d[2] = 0;
    d[3] = 0;
    d[4] = (record.vni >>> 16) & 0xff;
    d[5] = (record.vni >>> 8) & 0xff;
    d[6] = record.vni & 0xff;
    d[7] = 0;
    if (synthetic) writeSyntheticEthernet(d, VXLAN_HEADER_LENGTH, f.etherType);
    d.set(
      record.data.subarray(record.offset + f.skip, record.offset + record.length),
      VXLAN_HEADER_LENGTH + synthetic,
    );
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
    this.#socket.send(d, this.#opts.port, this.#opts.address, done);
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
    if (this.#queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }
}

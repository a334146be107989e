/**
 * A BGP speaker standing in for one virtual router: one listening socket on
 * the router's address, one {@link BgpPeer} per configured neighbour.
 * Connections from addresses that are not configured neighbours are refused
 * (Cease/5 first), reported and counted; one peer's trouble never touches another.
 */
import net from 'node:net';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';
import { CeaseSubcode, NotificationCode, encodeMessage } from '../../wire/bgp/index.js';
import { BgpSessionError, SessionErrorCode } from './errors.js';
import { BgpPeer, canonicalAddress, type PeerSettings, type SpeakerHandlers } from './peer.js';

export interface BgpSpeakerOptions {
  /** Name of the virtual router (logs, events). */
  readonly name: string;
  readonly localAs: number;
  /** BGP identifier, dotted quad. */
  readonly routerId: string;
  /** Where to accept connections; null = never listen (active peers only). Port 0 picks a free port. */
  readonly listen: { readonly address: string; readonly port: number } | null;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly peers: readonly PeerSettings[];
  readonly handlers: SpeakerHandlers;
}

export interface SpeakerCounters {
  connectionsAccepted: number;
  /** Connections refused, by reason (`unknown-peer`, `session-established`, ...). */
  readonly refused: Record<string, number>;
}

export class BgpSpeaker {
  readonly name: string;
  readonly localAs: number;
  readonly routerId: string;
  readonly counters: SpeakerCounters = { connectionsAccepted: 0, refused: {} };
  readonly #opts: BgpSpeakerOptions;
  readonly #peers = new Map<string, BgpPeer>();
  #server: net.Server | null = null;
  #started = false;

  constructor(opts: BgpSpeakerOptions) {
    if (!net.isIPv4(opts.routerId) || opts.routerId === '0.0.0.0') {
      throw new BgpSessionError(
        SessionErrorCode.PEER_CONFIG,
        `${opts.name}: routerId must be a non-zero dotted quad, got ${JSON.stringify(opts.routerId)}`,
      );
    }
    if (!Number.isInteger(opts.localAs) || opts.localAs < 1 || opts.localAs > 0xffffffff) {
      throw new BgpSessionError(
        SessionErrorCode.PEER_CONFIG,
        `${opts.name}: localAs must be 1..4294967295, got ${opts.localAs}`,
      );
    }
    this.name = opts.name;
    this.localAs = opts.localAs;
    this.routerId = opts.routerId;
    this.#opts = opts;
    for (const s of opts.peers) this.#addPeer(s);
  }

  #addPeer(s: PeerSettings): BgpPeer {
    const key = canonicalAddress(s.address);
    if (!net.isIP(key))
      throw new BgpSessionError(
        SessionErrorCode.PEER_CONFIG,
        `${this.name}: peer address ${JSON.stringify(s.address)} is not an IP address`,
      );
    if (this.#peers.has(key))
      throw new BgpSessionError(SessionErrorCode.PEER_CONFIG, `${this.name}: peer ${key} configured twice`);
    if (
      s.holdTime !== undefined &&
      (s.holdTime === 1 || s.holdTime === 2 || s.holdTime < 0 || s.holdTime > 65535)
    ) {
      throw new BgpSessionError(
        SessionErrorCode.PEER_CONFIG,
        `${this.name}: peer ${key}: hold time must be 0 or 3..65535 seconds, got ${s.holdTime}`,
      );
    }
    const peer = new BgpPeer(s, {
      speaker: this.name,
      localAs: this.localAs,
      routerId: this.routerId,
      listenAddress: this.#opts.listen?.address ?? null,
      clock: this.#opts.clock,
      logger: this.#opts.logger,
      handlers: this.#opts.handlers,
    });
    this.#peers.set(key, peer);
    return peer;
  }

  peers(): BgpPeer[] {
    return [...this.#peers.values()];
  }

  peer(address: string): BgpPeer | undefined {
    return this.#peers.get(canonicalAddress(address));
  }

  /** The bound listen address (useful with port 0), or null when not listening. */
  address(): { address: string; port: number } | null {
    const a = this.#server?.address();
    return a && typeof a === 'object' ? { address: a.address, port: a.port } : null;
  }

  /** Listen (when configured) and start every peer. Rejects with LISTEN_FAILED when the address is unavailable. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const listen = this.#opts.listen;
    if (listen) {
      const server = net.createServer((socket) => this.#onConnection(socket));
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) =>
          reject(
            new BgpSessionError(
              SessionErrorCode.LISTEN_FAILED,
              `${this.name}: cannot listen on ${listen.address}:${listen.port}: ${err.message}`,
              { cause: err },
            ),
          );
        server.once('error', onError);
        server.listen({ host: listen.address, port: listen.port, exclusive: true }, () => {
          server.off('error', onError);
          resolve();
        });
      });
      server.on('error', (err) =>
        this.#opts.logger.error({ speaker: this.name, err: err.message }, 'bgp listener error'),
      );
      this.#server = server;
    }
    for (const p of this.#peers.values()) p.start();
  }

  /** Cease/2 to every session, close every socket, cancel every timer; resolves when all are closed. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    this.#started = false;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    await Promise.all([...this.#peers.values()].map((p) => p.stop()));
    await closed;
  }

  #onConnection(socket: net.Socket): void {
    // Never let a socket error escape before a peer owns the socket.
    socket.on('error', () => {});
    const remote = canonicalAddress(socket.remoteAddress ?? '');
    const port = socket.remotePort ?? 0;
    const peer = this.#peers.get(remote);
    if (!peer) return this.#refuse(socket, remote, port, 'unknown-peer');
    const r = peer.acceptIncoming(socket);
    if (!r.accepted) return this.#refuse(socket, remote, port, r.reason);
    this.counters.connectionsAccepted++;
  }

  #refuse(socket: net.Socket, remote: string, port: number, reason: string): void {
    this.counters.refused[reason] = (this.counters.refused[reason] ?? 0) + 1;
    this.#opts.logger.warn({ speaker: this.name, remote, port, reason }, 'bgp connection refused');
    // Discard whatever the remote sends so its FIN is seen and the socket can close.
    socket.resume();
    try {
      // RFC 4486 §4: Connection Rejected (or Collision Resolution for a second connection to an Established peer).
      const subcode =
        reason === 'session-established'
          ? CeaseSubcode.CONNECTION_COLLISION_RESOLUTION
          : CeaseSubcode.CONNECTION_REJECTED;
      socket.end(
        encodeMessage({
          type: 'notification',
          code: NotificationCode.CEASE,
          subcode,
          data: new Uint8Array(0),
        }),
      );
    } catch {
      socket.destroy();
    }
    const t = this.#opts.clock.setTimer(3_000, () => socket.destroy());
    socket.once('close', () => t.cancel());
    try {
      this.#opts.handlers.onRefused?.(remote, port, reason);
    } catch (err) {
      this.#opts.logger.error(
        { speaker: this.name, err: err instanceof Error ? err.message : String(err) },
        'onRefused handler threw',
      );
    }
  }
}

/**
 * One BGP neighbour of a speaker: the session FSM bound to a TCP socket, the
 * frame reader and the codec. Handles OPEN negotiation, connection collisions
 * (RFC 4271 §6.8), error NOTIFICATIONs, End-of-RIB detection and counters.
 * Nothing a peer sends can throw out of here: bad input is answered with the
 * NOTIFICATION the RFCs prescribe, counted, and the session goes Idle.
 */
import net from 'node:net';
import type { Clock, Timer } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';
import { SessionState } from '../../core/types.js';
import {
  AS_TRANS,
  BgpDecodeError,
  BgpFrameReader,
  CeaseSubcode,
  HeaderSubcode,
  MessageType,
  NotificationCode,
  OpenSubcode,
  Safi,
  decodeMessage,
  encodeMessage,
  type BgpMessage,
  type Capability,
  type DecodeContext,
  type NotificationMessage,
  type OpenMessage,
  type UpdateMessage,
} from '../../wire/bgp/index.js';
import { BgpSessionError, SessionErrorCode } from './errors.js';
import {
  DEFAULT_CONNECT_RETRY_TIME,
  DEFAULT_HOLD_TIME,
  SessionFsm,
  TransitionReason,
  keepaliveInterval,
  negotiateHoldTime,
  type FsmAction,
  type FsmTransition,
  type NotificationSpec,
} from './fsm.js';

export type FamilyName = 'ipv4' | 'ipv6';

/** How one neighbour is configured. */
export interface PeerSettings {
  readonly address: string;
  /** Remote port for active connects; default 179. */
  readonly port?: number;
  readonly asn: number;
  /** Wait for the peer to connect; never connect out. */
  readonly passive?: boolean;
  /** Address to bind before connecting; default the speaker's listen address. */
  readonly localAddress?: string;
  /** Seconds, default 90. 0 = no keepalives. */
  readonly holdTime?: number;
  /** Seconds, default 30. */
  readonly connectRetryTime?: number;
  /** Seconds to wait in Idle before restarting after an error; default 5. */
  readonly idleHoldTime?: number;
  /** Graceful restart capability (RFC 4724) we advertise; default `{ restartTime: 120 }`. */
  readonly gracefulRestart?: { readonly restartTime: number } | false;
  /** Address families offered (multiprotocol capability); default both. */
  readonly families?: readonly FamilyName[];
  /** Families in which we are willing to receive ADD-PATH (RFC 7911) path identifiers; default none. */
  readonly addPathReceive?: readonly FamilyName[];
  readonly description?: string;
}

/** What both sides agreed at OPEN time. */
export interface NegotiatedSession {
  readonly peerAs: number;
  readonly peerBgpId: string;
  readonly fourOctetAs: boolean;
  /** Seconds; 0 = no keepalives. */
  readonly holdTime: number;
  readonly keepalive: number;
  /** AFI/SAFI pairs both sides advertised (IPv4 unicast implied when the peer sent no multiprotocol capability). */
  readonly families: readonly { readonly afi: number; readonly safi: number }[];
  /** The peer's graceful restart capability when both sides advertised one. */
  readonly gracefulRestart: {
    readonly restartTime: number;
    readonly restarting: boolean;
    readonly families: readonly {
      readonly afi: number;
      readonly safi: number;
      readonly forwardingPreserved: boolean;
    }[];
  } | null;
  readonly routeRefresh: boolean;
  /** `${afi}/${safi}` pairs whose NLRI carry path identifiers towards us. */
  readonly addPathReceive: ReadonlySet<string>;
  /** The context to decode this peer's UPDATEs with. */
  readonly decodeContext: DecodeContext;
}

export interface PeerCounters {
  /** Messages received, by type name (`open`, `update`, `notification`, `keepalive`, `route-refresh`, `unknown`). */
  readonly messagesIn: Record<string, number>;
  readonly messagesOut: Record<string, number>;
  updatesIn: number;
  updatesOut: number;
  /** NLRI announced to us (IPv4 field + MP_REACH). */
  prefixesReceived: number;
  prefixesWithdrawn: number;
  endOfRibReceived: number;
  /** By `code/subcode`. */
  readonly notificationsSent: Record<string, number>;
  readonly notificationsReceived: Record<string, number>;
  /** Fatal problems by kebab-case reason (header-error, open-error, update-error, socket-error, ...). */
  readonly errors: Record<string, number>;
  /** RFC 7606 non-fatal UPDATE problems by their reason. */
  readonly updateIssues: Record<string, number>;
  lastError: string | null;
  /** Clock time the session last reached Established; null when not Established. */
  establishedSince: number | null;
  /** Times the session left Established. */
  flaps: number;
  connectionsIn: number;
  connectionsOut: number;
}

/** A NOTIFICATION attached to a state change. */
export interface StateChangeNotification {
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
  readonly direction: 'sent' | 'received';
}

/** Callbacks of a speaker; invoked synchronously, in message order per peer. */
export interface SpeakerHandlers {
  onStateChange?(
    peer: BgpPeer,
    from: SessionState,
    to: SessionState,
    reason: string,
    notification?: StateChangeNotification,
  ): void;
  onUpdate?(peer: BgpPeer, update: UpdateMessage): void;
  onEndOfRib?(peer: BgpPeer, afi: number, safi: number): void;
  onRouteRefresh?(peer: BgpPeer, afi: number, safi: number): void;
  onRefused?(remoteAddress: string, remotePort: number, reason: string): void;
  onPeerError?(peer: BgpPeer, err: Error): void;
}

/** The speaker-wide facts a peer needs. */
export interface PeerContext {
  readonly speaker: string;
  readonly localAs: number;
  readonly routerId: string;
  /** Listen address, used as the default local address of active connects. */
  readonly listenAddress: string | null;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly handlers: SpeakerHandlers;
}

const FAMILY: Record<FamilyName, { afi: number; safi: number }> = {
  ipv4: { afi: 1, safi: Safi.UNICAST },
  ipv6: { afi: 2, safi: Safi.UNICAST },
};
const MESSAGE_NAMES: Record<number, string> = {
  1: 'open',
  2: 'update',
  3: 'notification',
  4: 'keepalive',
  5: 'route-refresh',
};
const typeName = (t: number): string => MESSAGE_NAMES[t] ?? 'unknown';
const EMPTY = new Uint8Array(0);
/** A socket that will not flush its last NOTIFICATION is destroyed after this long. */
const CLOSE_GRACE_MS = 3_000;

function ipv4ToInt(s: string): number {
  const p = s.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

/** Canonical text of an address: v4-mapped IPv6 folded to IPv4, IPv6 compressed. */
export function canonicalAddress(address: string): string {
  let a = address.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) a = mapped[1];
  if (net.isIPv6(a)) {
    // The URL parser prints IPv6 addresses in RFC 5952 form.
    try {
      return new URL(`http://[${a}]/`).hostname.slice(1, -1);
    } catch {
      return a.toLowerCase();
    }
  }
  return a;
}

interface Connection {
  readonly socket: net.Socket;
  readonly direction: 'in' | 'out';
  readonly reader: BgpFrameReader;
  /** True once we stopped reading from it (dropped, or handed over). */
  closed: boolean;
  /** Set when the socket has fully closed. */
  done: Promise<void>;
  /** An incoming connection kept aside while the FSM's own connection is in OpenSent/OpenConfirm. */
  candidateOpen?: OpenMessage;
}

/**
 * One neighbour. Created by {@link BgpSpeaker}; exposes its state, settings,
 * negotiated session facts and counters, and can send UPDATEs as a route source.
 */
export class BgpPeer {
  readonly settings: PeerSettings;
  /** Canonical remote address (the key the speaker matches incoming connections by). */
  readonly address: string;
  readonly counters: PeerCounters;
  readonly #ctx: PeerContext;
  readonly #fsm: SessionFsm;
  #conn: Connection | null = null;
  #candidate: Connection | null = null;
  #negotiated: NegotiatedSession | null = null;
  #remoteBgpId: string | null = null;
  /** Started and not administratively stopped. */
  #enabled = false;
  #restartTimer: Timer | null = null;
  readonly #sockets = new Set<Connection>();

  constructor(settings: PeerSettings, ctx: PeerContext) {
    this.settings = settings;
    this.address = canonicalAddress(settings.address);
    this.#ctx = ctx;
    this.counters = {
      messagesIn: {},
      messagesOut: {},
      updatesIn: 0,
      updatesOut: 0,
      prefixesReceived: 0,
      prefixesWithdrawn: 0,
      endOfRibReceived: 0,
      notificationsSent: {},
      notificationsReceived: {},
      errors: {},
      updateIssues: {},
      lastError: null,
      establishedSince: null,
      flaps: 0,
      connectionsIn: 0,
      connectionsOut: 0,
    };
    this.#fsm = new SessionFsm({
      clock: ctx.clock,
      connectRetryTime: settings.connectRetryTime ?? DEFAULT_CONNECT_RETRY_TIME,
      holdTime: this.holdTime,
      passive: settings.passive ?? false,
      perform: (a) => this.#perform(a),
      onTransition: (t) => this.#onTransition(t),
    });
  }

  get state(): SessionState {
    return this.#fsm.state;
  }

  /**
   * What the current (or, once down, the last) session negotiated; null until
   * a first OPEN was accepted. Check `state` to know whether it is up.
   */
  get negotiated(): NegotiatedSession | null {
    return this.#negotiated;
  }

  /** The BGP identifier from the peer's last accepted OPEN. */
  get remoteBgpId(): string | null {
    return this.#remoteBgpId;
  }

  get holdTime(): number {
    return this.settings.holdTime ?? DEFAULT_HOLD_TIME;
  }

  /** Milliseconds in Established, 0 when not Established. */
  get uptime(): number {
    return this.counters.establishedSince === null
      ? 0
      : this.#ctx.clock.now() - this.counters.establishedSince;
  }

  /** The last transitions, oldest first. */
  get trace(): readonly FsmTransition[] {
    return this.#fsm.trace;
  }

  /** ManualStart (passive peers: ManualStart_with_PassiveTcpEstablishment). */
  start(): void {
    this.#enabled = true;
    this.#cancelRestart();
    this.#fsm.handle({ type: this.settings.passive ? 'manual-start-passive' : 'manual-start' });
  }

  /**
   * Send `notification` (default Cease/2 administrative shutdown) when a
   * connection is up, and go Idle. With `restartAfterMs`, AutomaticStart
   * after that delay; otherwise the peer stays down until {@link start}.
   */
  shutdown(notification?: NotificationSpec, opts: { restartAfterMs?: number } = {}): void {
    this.#cancelRestart();
    this.#enabled = false;
    const maxPrefix =
      notification?.code === NotificationCode.CEASE &&
      notification.subcode === CeaseSubcode.MAX_PREFIXES_REACHED;
    const reason = maxPrefix ? TransitionReason.MAX_PREFIX_EXCEEDED : TransitionReason.MANUAL_STOP;
    this.#dropCandidate(
      notification ?? { code: NotificationCode.CEASE, subcode: CeaseSubcode.ADMINISTRATIVE_SHUTDOWN },
    );
    this.#fsm.handle({
      type: 'manual-stop',
      ...(notification ? { notification } : {}),
      reason,
    });
    if (opts.restartAfterMs !== undefined) {
      this.#restartTimer = this.#ctx.clock.setTimer(opts.restartAfterMs, () => {
        this.#restartTimer = null;
        this.#enabled = true;
        this.#fsm.handle({ type: this.settings.passive ? 'automatic-start-passive' : 'automatic-start' });
      });
    }
  }

  /** Shut down (Cease/2) and resolve once every socket of this peer has closed. */
  async stop(): Promise<void> {
    this.shutdown();
    this.#cancelRestart();
    this.#fsm.dispose();
    await Promise.all([...this.#sockets].map((c) => c.done));
  }

  /** Send an UPDATE (the speaker as a route source). Throws when not Established. */
  sendUpdate(msg: UpdateMessage): void {
    const conn = this.#requireEstablished('UPDATE');
    this.#send(conn, msg);
    this.counters.updatesOut++;
  }

  /** Ask the peer to resend its routes of one family (RFC 2918). */
  requestRouteRefresh(afi: number, safi: number): void {
    const conn = this.#requireEstablished('ROUTE-REFRESH');
    this.#send(conn, { type: 'route-refresh', afi, safi, subtype: 0 });
  }

  /** Send End-of-RIB for a family (RFC 4724 §2). */
  sendEndOfRib(afi: number, safi: number): void {
    const conn = this.#requireEstablished('End-of-RIB');
    if (afi === 1 && safi === Safi.UNICAST) {
      this.#send(conn, { type: 'update', withdrawn: [], attributes: [], nlri: [], issues: [] });
    } else {
      this.#send(conn, {
        type: 'update',
        withdrawn: [],
        attributes: [{ type: 'mp-unreach', flags: 0x80, afi, safi, withdrawn: [] }],
        nlri: [],
        issues: [],
      });
    }
  }

  #requireEstablished(what: string): Connection {
    if (this.#fsm.state !== SessionState.ESTABLISHED || !this.#conn) {
      throw new BgpSessionError(
        SessionErrorCode.NOT_ESTABLISHED,
        `cannot send ${what} to ${this.address}: session is ${this.#fsm.state}`,
      );
    }
    return this.#conn;
  }

  // ---------------------------------------------------------------- connections

  /**
   * An incoming TCP connection from this peer's address. Returns false when
   * the peer does not want it (the speaker then refuses it).
   */
  acceptIncoming(socket: net.Socket): { accepted: true } | { accepted: false; reason: string } {
    if (!this.#enabled) return { accepted: false, reason: 'peer-administratively-down' };
    const state = this.#fsm.state;
    const gracefulRestart = state === SessionState.ESTABLISHED && this.#negotiated?.gracefulRestart;
    if (state === SessionState.ESTABLISHED && !gracefulRestart) {
      // RFC 4271 §6.8: a collision with an Established session closes the new connection.
      return { accepted: false, reason: 'session-established' };
    }
    const conn = this.#wrap(socket, 'in');
    this.counters.connectionsIn++;
    if (
      gracefulRestart ||
      state === SessionState.CONNECT ||
      state === SessionState.OPEN_SENT ||
      state === SessionState.OPEN_CONFIRM
    ) {
      // Possible collision (RFC 4271 §6.8): keep it aside until its OPEN tells us
      // which connection wins. In Connect, our own attempt may still complete first.
      this.#dropCandidate({
        code: NotificationCode.CEASE,
        subcode: CeaseSubcode.CONNECTION_COLLISION_RESOLUTION,
      });
      this.#candidate = conn;
      return { accepted: true };
    }
    if (state === SessionState.IDLE) {
      this.#cancelRestart();
      this.#fsm.handle({ type: 'automatic-start-passive' });
    }
    // Active: nothing of ours is in flight.
    if (this.#conn) this.#close(this.#conn);
    this.#conn = conn;
    this.#fsm.handle({ type: 'tcp-connection-confirmed' });
    return { accepted: true };
  }

  #connectOut(): void {
    if (this.#conn) this.#close(this.#conn);
    const local = this.#localAddressFor(this.address);
    const socket = net.connect({
      host: this.address,
      port: this.settings.port ?? 179,
      ...(local ? { localAddress: local } : {}),
    });
    const conn = this.#wrap(socket, 'out');
    this.#conn = conn;
    this.counters.connectionsOut++;
    socket.once('connect', () => {
      if (this.#conn !== conn || conn.closed) return;
      this.#fsm.handle({ type: 'tcp-cr-acked' });
    });
  }

  #localAddressFor(remote: string): string | undefined {
    const local = this.settings.localAddress ?? this.#ctx.listenAddress ?? undefined;
    if (!local || local === '0.0.0.0' || local === '::') return undefined;
    // Bind only an address of the remote's family.
    if (net.isIPv4(local) !== net.isIPv4(remote)) return undefined;
    return local;
  }

  #wrap(socket: net.Socket, direction: 'in' | 'out'): Connection {
    socket.setNoDelay(true);
    let resolveDone!: () => void;
    const conn: Connection = {
      socket,
      direction,
      reader: new BgpFrameReader(),
      closed: false,
      done: new Promise<void>((r) => (resolveDone = r)),
    };
    this.#sockets.add(conn);
    socket.on('data', (chunk: Buffer) => this.#onData(conn, chunk));
    socket.on('error', (err) => this.#onSocketError(conn, err));
    socket.on('close', () => {
      this.#sockets.delete(conn);
      resolveDone();
      this.#onSocketClosed(conn);
    });
    return conn;
  }

  #onSocketError(conn: Connection, err: Error): void {
    if (conn.closed) return;
    this.#countError('socket-error', `${err.message}`);
    this.#reportError(
      new BgpSessionError(SessionErrorCode.PEER_SOCKET, `peer ${this.address}: ${err.message}`, {
        cause: err,
      }),
    );
  }

  #onSocketClosed(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    if (conn.reader.buffered > 0) {
      this.#countError(
        'truncated-message',
        `connection closed with ${conn.reader.buffered} bytes of an incomplete message`,
      );
    }
    if (conn === this.#candidate) {
      this.#candidate = null;
      return;
    }
    if (conn === this.#conn) {
      this.#conn = null;
      this.#fsm.handle({ type: 'tcp-connection-fails' });
    }
  }

  /** Stop reading a connection and close it once anything already written has been flushed. */
  #close(conn: Connection): void {
    if (conn === this.#conn) this.#conn = null;
    if (conn === this.#candidate) this.#candidate = null;
    if (conn.closed && conn.socket.destroyed) return;
    conn.closed = true;
    const s = conn.socket;
    if (s.destroyed) return;
    if (s.connecting || !s.writable) {
      s.destroy();
      return;
    }
    s.end(() => s.destroy());
    const t = this.#ctx.clock.setTimer(CLOSE_GRACE_MS, () => s.destroy());
    s.once('close', () => t.cancel());
  }

  #dropCandidate(n: NotificationSpec): void {
    const c = this.#candidate;
    if (!c) return;
    this.#sendNotification(c, n);
    this.#close(c);
  }

  // ---------------------------------------------------------------- receiving

  #onData(conn: Connection, chunk: Uint8Array): void {
    if (conn.closed) return;
    try {
      conn.reader.push(chunk);
      for (;;) {
        if (conn.closed) return;
        const frame = conn.reader.next();
        if (!frame) return;
        if (conn === this.#candidate) this.#onCandidateFrame(conn, frame);
        else if (conn === this.#conn) this.#onFrame(frame);
        else return;
      }
    } catch (err) {
      // Framing errors: wrong marker, bad length. The stream cannot be resynchronised.
      const e = err instanceof BgpDecodeError ? err : this.#unexpected(err, 0);
      this.#countError('header-error', e.message);
      this.#reportError(e);
      if (conn === this.#conn) this.#fsm.handle({ type: 'bgp-header-err', notification: e.notification });
      else {
        this.#sendNotification(conn, e.notification);
        this.#close(conn);
      }
    }
  }

  #decode(frame: Uint8Array): BgpMessage | BgpDecodeError {
    try {
      return decodeMessage(frame, 0, this.#negotiated?.decodeContext ?? {}).value;
    } catch (err) {
      return err instanceof BgpDecodeError ? err : this.#unexpected(err, frame[18] ?? 0);
    }
  }

  /** A decoder failure that is not a BgpDecodeError is a bug, but the peer is still answered. */
  #unexpected(err: unknown, type: number): BgpDecodeError {
    const code =
      type === MessageType.OPEN
        ? NotificationCode.OPEN_MESSAGE
        : type === MessageType.UPDATE
          ? NotificationCode.UPDATE_MESSAGE
          : NotificationCode.MESSAGE_HEADER;
    const msg = err instanceof Error ? err.message : String(err);
    this.#ctx.logger.error({ peer: this.address, err: msg }, 'unexpected decoder failure');
    return new BgpDecodeError(
      `unexpected decoder failure: ${msg}`,
      { code, subcode: 0, data: EMPTY },
      'session-reset',
      'message',
      0,
      { cause: err },
    );
  }

  #onFrame(frame: Uint8Array): void {
    const type = frame[18];
    this.#count(this.counters.messagesIn, typeName(type));
    const msg = this.#decode(frame);
    if (msg instanceof BgpDecodeError) {
      this.#reportError(msg);
      if (type === MessageType.OPEN) {
        this.#countError('open-error', msg.message);
        this.#fsm.handle({ type: 'bgp-open-msg-err', notification: msg.notification });
      } else if (type === MessageType.UPDATE) {
        this.#countError('update-error', msg.message);
        this.#fsm.handle({ type: 'update-msg-err', notification: msg.notification });
      } else {
        this.#countError('header-error', msg.message);
        this.#fsm.handle({ type: 'bgp-header-err', notification: msg.notification });
      }
      return;
    }
    switch (msg.type) {
      case 'open':
        return this.#onOpen(msg);
      case 'keepalive':
        return this.#fsm.handle({ type: 'keepalive-msg' });
      case 'update':
        return this.#onUpdate(msg);
      case 'notification':
        return this.#onNotification(msg);
      case 'route-refresh':
        if (this.#fsm.state === SessionState.ESTABLISHED) {
          this.#invoke(() => this.#ctx.handlers.onRouteRefresh?.(this, msg.afi, msg.safi));
        }
        return;
      case 'unknown': {
        // RFC 4271 §6.1: Bad Message Type; the Data field is the erroneous Type field.
        const text = `unknown message type ${msg.code}`;
        this.#countError('header-error', text);
        const notification = {
          code: NotificationCode.MESSAGE_HEADER,
          subcode: HeaderSubcode.BAD_MESSAGE_TYPE,
          data: Uint8Array.of(msg.code),
        };
        this.#reportError(
          new BgpSessionError(SessionErrorCode.PEER_PROTOCOL, `peer ${this.address}: ${text}`),
        );
        return this.#fsm.handle({ type: 'bgp-header-err', notification });
      }
    }
  }

  #onOpen(open: OpenMessage): void {
    if (this.#fsm.state !== SessionState.OPEN_SENT) {
      return this.#fsm.handle({ type: 'bgp-open', holdTime: open.holdTime });
    }
    const problem = this.#checkOpen(open);
    if (problem) {
      this.#countError('open-error', problem.text);
      this.#reportError(
        new BgpSessionError(SessionErrorCode.PEER_PROTOCOL, `peer ${this.address}: ${problem.text}`),
      );
      return this.#fsm.handle({ type: 'bgp-open-msg-err', notification: problem.notification });
    }
    this.#negotiated = this.#negotiate(open);
    this.#remoteBgpId = open.bgpId;
    this.#fsm.handle({ type: 'bgp-open', holdTime: this.#negotiated.holdTime });
  }

  #onUpdate(update: UpdateMessage): void {
    this.#fsm.handle({ type: 'update-msg' });
    if (this.#fsm.state !== SessionState.ESTABLISHED) return;
    this.counters.updatesIn++;
    for (const issue of update.issues) this.#count(this.counters.updateIssues, issue.reason);
    const eor = endOfRib(update);
    if (eor) {
      this.counters.endOfRibReceived++;
      this.#invoke(() => this.#ctx.handlers.onEndOfRib?.(this, eor.afi, eor.safi));
      return;
    }
    let announced = update.nlri.length;
    let withdrawn = update.withdrawn.length;
    for (const a of update.attributes) {
      if (a.type === 'mp-reach') announced += a.nlri.length;
      else if (a.type === 'mp-unreach') withdrawn += a.withdrawn.length;
    }
    this.counters.prefixesReceived += announced;
    this.counters.prefixesWithdrawn += withdrawn;
    this.#invoke(() => this.#ctx.handlers.onUpdate?.(this, update));
  }

  #onNotification(n: NotificationMessage): void {
    this.#count(this.counters.notificationsReceived, `${n.code}/${n.subcode}`);
    this.counters.lastError = `received NOTIFICATION ${n.code}/${n.subcode}`;
    const notification = { code: n.code, subcode: n.subcode, data: n.data };
    const verErr =
      this.#fsm.state === SessionState.OPEN_SENT &&
      n.code === NotificationCode.OPEN_MESSAGE &&
      n.subcode === OpenSubcode.UNSUPPORTED_VERSION;
    this.#fsm.handle({ type: verErr ? 'notif-msg-ver-err' : 'notif-msg', notification });
  }

  /** RFC 4271 §6.2 checks that need the session's configuration. */
  #checkOpen(open: OpenMessage): { text: string; notification: NotificationSpec } | null {
    const openErr = (subcode: number, text: string, data: Uint8Array = EMPTY) => ({
      text,
      notification: { code: NotificationCode.OPEN_MESSAGE, subcode, data },
    });
    if (open.version !== 4)
      return openErr(
        OpenSubcode.UNSUPPORTED_VERSION,
        `unsupported BGP version ${open.version}`,
        Uint8Array.of(0, 4),
      );
    const cap = open.capabilities.find((c) => c.type === 'four-octet-as');
    const expected = this.settings.asn;
    if (cap && cap.type === 'four-octet-as') {
      // RFC 6793 §4.1: the real ASN is in the capability; My AS is AS_TRANS when it needs 4 octets.
      if (cap.asn !== expected)
        return openErr(
          OpenSubcode.BAD_PEER_AS,
          `peer AS ${cap.asn} (4-octet capability), expected ${expected}`,
        );
      const myAsOk = open.myAs === (expected > 0xffff ? AS_TRANS : expected) || open.myAs === AS_TRANS;
      if (!myAsOk)
        return openErr(OpenSubcode.BAD_PEER_AS, `My AS ${open.myAs} disagrees with 4-octet AS ${cap.asn}`);
    } else if (open.myAs !== expected) {
      return openErr(OpenSubcode.BAD_PEER_AS, `peer AS ${open.myAs}, expected ${expected}`);
    }
    if (negotiateHoldTime(this.holdTime, open.holdTime) === null) {
      return openErr(OpenSubcode.UNACCEPTABLE_HOLD_TIME, `unacceptable hold time ${open.holdTime}`);
    }
    if (!net.isIPv4(open.bgpId) || open.bgpId === '0.0.0.0')
      return openErr(OpenSubcode.BAD_BGP_IDENTIFIER, `bad BGP identifier ${open.bgpId}`);
    // RFC 6286 §2.2: an internal peer may not share our identifier (an external one may).
    if (expected === this.#ctx.localAs && open.bgpId === this.#ctx.routerId) {
      return openErr(OpenSubcode.BAD_BGP_IDENTIFIER, `internal peer uses our BGP identifier ${open.bgpId}`);
    }
    return null;
  }

  #negotiate(open: OpenMessage): NegotiatedSession {
    const ours = this.#ourCapabilities();
    const has = (caps: readonly Capability[], type: Capability['type']) => caps.some((c) => c.type === type);
    const fourOctetAs = has(open.capabilities, 'four-octet-as');
    const holdTime = negotiateHoldTime(this.holdTime, open.holdTime) ?? 0;
    const theirMp = open.capabilities.filter((c) => c.type === 'multiprotocol');
    // RFC 4760 §8: a speaker that sends no multiprotocol capability speaks IPv4 unicast only.
    const theirFamilies =
      theirMp.length > 0 ? theirMp.map((c) => ({ afi: c.afi, safi: c.safi })) : [{ afi: 1, safi: 1 }];
    const ourFamilies = ours.flatMap((c) =>
      c.type === 'multiprotocol' ? [{ afi: c.afi, safi: c.safi }] : [],
    );
    const families = ourFamilies.filter((f) =>
      theirFamilies.some((t) => t.afi === f.afi && t.safi === f.safi),
    );
    const gr = open.capabilities.find((c) => c.type === 'graceful-restart');
    const weGr = has(ours, 'graceful-restart');
    const gracefulRestart =
      gr && gr.type === 'graceful-restart' && weGr
        ? {
            restartTime: gr.restartTime,
            restarting: gr.restarting,
            families: gr.families.map((f) => ({ ...f })),
          }
        : null;
    const addPathReceive = new Set<string>();
    const ourAp = ours.find((c) => c.type === 'add-path');
    const theirAp = open.capabilities.find((c) => c.type === 'add-path');
    if (ourAp?.type === 'add-path' && theirAp?.type === 'add-path') {
      for (const f of ourAp.families) {
        // RFC 7911 §4: we receive path ids when we said receive and they said send.
        const t = theirAp.families.find((x) => x.afi === f.afi && x.safi === f.safi);
        if (t && (f.sendReceive & 1) !== 0 && (t.sendReceive & 2) !== 0)
          addPathReceive.add(`${f.afi}/${f.safi}`);
      }
    }
    const routeRefresh = open.capabilities.some(
      (c) =>
        c.type === 'route-refresh' ||
        c.type === 'enhanced-route-refresh' ||
        (c.type === 'unknown' && c.code === 128),
    );
    return {
      peerAs: this.settings.asn,
      peerBgpId: open.bgpId,
      fourOctetAs,
      holdTime,
      keepalive: keepaliveInterval(holdTime),
      families,
      gracefulRestart,
      routeRefresh,
      addPathReceive,
      decodeContext: { fourOctetAs, addPathReceive },
    };
  }

  // ---------------------------------------------------------------- collisions

  /** The FSM's connection is in OpenSent/OpenConfirm and a second one sent its OPEN (RFC 4271 §6.8). */
  #onCandidateFrame(conn: Connection, frame: Uint8Array): void {
    const type = frame[18];
    this.#count(this.counters.messagesIn, typeName(type));
    const msg = this.#decode(frame);
    if (msg instanceof BgpDecodeError || msg.type !== 'open') {
      if (msg instanceof BgpDecodeError) {
        this.#countError('open-error', msg.message);
        this.#sendNotification(conn, msg.notification);
      }
      this.#close(conn);
      return;
    }
    const problem = this.#checkOpen(msg);
    if (problem) {
      this.#countError('open-error', problem.text);
      this.#sendNotification(conn, problem.notification);
      this.#close(conn);
      return;
    }
    const existing = this.#conn;
    const state = this.#fsm.state;
    if (state === SessionState.ESTABLISHED) {
      // RFC 4724 §4.2: a new OPEN from a graceful-restart peer ends the old session;
      // its routes are the RIB's to keep as stale.
      this.#candidate = null;
      this.#fsm.handle({ type: 'peer-restarted' });
      this.#adopt(conn, msg);
      return;
    }
    if (!existing || (state !== SessionState.OPEN_SENT && state !== SessionState.OPEN_CONFIRM)) {
      // The other connection went away meanwhile: this one simply takes over.
      this.#candidate = null;
      this.#adopt(conn, msg);
      return;
    }
    const local = ipv4ToInt(this.#ctx.routerId);
    const remote = ipv4ToInt(msg.bgpId);
    // RFC 4271 §6.8: keep the connection initiated by the speaker with the higher
    // identifier; RFC 6286 §2.3 breaks a tie with the higher AS number.
    const localWins = local !== remote ? local > remote : this.#ctx.localAs > this.settings.asn;
    const keepExisting = localWins ? existing.direction === 'out' : false;
    this.#count(this.counters.errors, 'connection-collision');
    if (keepExisting) {
      this.#dropCandidate({
        code: NotificationCode.CEASE,
        subcode: CeaseSubcode.CONNECTION_COLLISION_RESOLUTION,
      });
      return;
    }
    this.#candidate = null;
    this.#fsm.handle({ type: 'open-collision-dump' });
    this.#adopt(conn, msg);
  }

  /** Make `conn`, whose OPEN already arrived, the FSM's connection. */
  #adopt(conn: Connection, open: OpenMessage): void {
    if (this.#conn && this.#conn !== conn) this.#close(this.#conn);
    if (this.#fsm.state === SessionState.IDLE) this.#fsm.handle({ type: 'automatic-start-passive' });
    this.#conn = conn;
    this.#fsm.handle({ type: 'tcp-connection-confirmed' });
    this.#onOpen(open);
  }

  // ---------------------------------------------------------------- FSM actions

  #perform(a: FsmAction): void {
    switch (a.type) {
      case 'connect':
        return this.#connectOut();
      case 'drop-tcp':
        if (this.#conn) this.#close(this.#conn);
        return;
      case 'send-open':
        if (this.#conn) this.#send(this.#conn, this.#ourOpen());
        return;
      case 'send-keepalive':
        if (this.#conn) this.#send(this.#conn, { type: 'keepalive' });
        return;
      case 'send-notification':
        if (this.#conn) this.#sendNotification(this.#conn, a);
        return;
      case 'release-resources':
        // `negotiated` outlives the session so that state-change handlers can
        // read it (graceful restart time); the next OPEN replaces it.
        return;
      case 'session-established':
        this.counters.establishedSince = this.#ctx.clock.now();
        return;
      case 'start-timer':
      case 'stop-timer':
        return;
    }
  }

  #onTransition(t: FsmTransition): void {
    if (t.from === SessionState.ESTABLISHED) {
      this.counters.flaps++;
      this.counters.establishedSince = null;
    }
    const log = { speaker: this.#ctx.speaker, peer: this.address, from: t.from, to: t.to, reason: t.reason };
    if (t.to === SessionState.IDLE || t.to === SessionState.ESTABLISHED)
      this.#ctx.logger.info(log, 'bgp session state');
    else this.#ctx.logger.debug(log, 'bgp session state');
    const n = t.notification
      ? {
          code: t.notification.code,
          subcode: t.notification.subcode,
          data: t.notification.data ?? EMPTY,
          direction: t.notification.direction,
        }
      : undefined;
    this.#invoke(() => this.#ctx.handlers.onStateChange?.(this, t.from, t.to, t.reason, n));
    const handedOver =
      t.reason === TransitionReason.CONNECTION_COLLISION || t.reason === TransitionReason.PEER_RESTARTED;
    if (t.to === SessionState.IDLE && this.#enabled && !handedOver) this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    this.#cancelRestart();
    const delay = (this.settings.idleHoldTime ?? 5) * 1000;
    this.#restartTimer = this.#ctx.clock.setTimer(delay, () => {
      this.#restartTimer = null;
      if (!this.#enabled || this.#fsm.state !== SessionState.IDLE) return;
      this.#fsm.handle({ type: this.settings.passive ? 'automatic-start-passive' : 'automatic-start' });
    });
  }

  #cancelRestart(): void {
    this.#restartTimer?.cancel();
    this.#restartTimer = null;
  }

  #ourCapabilities(): Capability[] {
    const caps: Capability[] = [];
    const families = this.settings.families ?? ['ipv4', 'ipv6'];
    for (const f of families) caps.push({ type: 'multiprotocol', ...FAMILY[f] });
    caps.push({ type: 'route-refresh' });
    caps.push({ type: 'four-octet-as', asn: this.#ctx.localAs });
    const gr = this.settings.gracefulRestart ?? { restartTime: 120 };
    if (gr) {
      caps.push({
        type: 'graceful-restart',
        restarting: false,
        notification: false,
        restartTime: Math.min(4095, gr.restartTime),
        families: families.map((f) => ({ ...FAMILY[f], forwardingPreserved: false })),
      });
    }
    const ap = this.settings.addPathReceive ?? [];
    if (ap.length > 0)
      caps.push({ type: 'add-path', families: ap.map((f) => ({ ...FAMILY[f], sendReceive: 1 })) });
    return caps;
  }

  #ourOpen(): OpenMessage {
    const asn = this.#ctx.localAs;
    return {
      type: 'open',
      version: 4,
      // RFC 6793 §4.1: AS_TRANS in My AS when the ASN needs 4 octets.
      myAs: asn > 0xffff ? AS_TRANS : asn,
      holdTime: this.holdTime,
      bgpId: this.#ctx.routerId,
      capabilities: this.#ourCapabilities(),
    };
  }

  // ---------------------------------------------------------------- sending

  #send(conn: Connection, msg: BgpMessage): void {
    if (conn.socket.destroyed || !conn.socket.writable) return;
    const ctx: DecodeContext = { fourOctetAs: this.#negotiated?.fourOctetAs ?? false };
    const bytes = encodeMessage(msg, undefined, 0, ctx);
    conn.socket.write(bytes);
    this.#count(this.counters.messagesOut, msg.type);
  }

  #sendNotification(conn: Connection, n: NotificationSpec): void {
    if (conn.socket.destroyed || !conn.socket.writable) return;
    this.#count(this.counters.notificationsSent, `${n.code}/${n.subcode}`);
    this.#send(conn, { type: 'notification', code: n.code, subcode: n.subcode, data: n.data ?? EMPTY });
  }

  // ---------------------------------------------------------------- bookkeeping

  #count(map: Record<string, number>, key: string): void {
    map[key] = (map[key] ?? 0) + 1;
  }

  #countError(reason: string, text: string): void {
    this.#count(this.counters.errors, reason);
    this.counters.lastError = text;
    this.#ctx.logger.warn(
      { speaker: this.#ctx.speaker, peer: this.address, reason, err: text },
      'bgp peer error',
    );
  }

  #reportError(err: Error): void {
    this.#invoke(() => this.#ctx.handlers.onPeerError?.(this, err));
  }

  /** A handler that throws must not take the session (or the process) down with it. */
  #invoke(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#count(this.counters.errors, 'handler-error');
      this.#ctx.logger.error(
        { peer: this.address, err: err instanceof Error ? err.message : String(err) },
        'bgp handler threw',
      );
    }
  }
}

/**
 * RFC 4724 §2: End-of-RIB is an UPDATE with nothing in it (IPv4 unicast), or
 * one carrying only an MP_UNREACH_NLRI with no withdrawn routes (other families).
 */
export function endOfRib(u: UpdateMessage): { afi: number; safi: number } | null {
  if (u.withdrawn.length > 0 || u.nlri.length > 0 || u.issues.length > 0) return null;
  if (u.attributes.length === 0) return { afi: 1, safi: Safi.UNICAST };
  if (u.attributes.length !== 1) return null;
  const a = u.attributes[0];
  if (a.type !== 'mp-unreach' || a.withdrawn.length > 0 || (a.rawWithdrawn && a.rawWithdrawn.length > 0))
    return null;
  return { afi: a.afi, safi: a.safi };
}

/**
 * The BGP-4 finite state machine (RFC 4271 §8). The transition function is
 * pure: one handler per state maps an event to `{ next, reason, actions }`.
 * {@link SessionFsm} runs it against a {@link Clock}: it owns the three
 * session timers, hands every other action to its driver (the peer, which
 * owns the socket), and emits each transition so tests can assert a trace.
 */
import type { Clock, Timer } from '../../core/clock.js';
import { SessionState } from '../../core/types.js';
import { CeaseSubcode, FsmSubcode, NotificationCode } from '../../wire/bgp/errors.js';

type State = SessionState;

/** A NOTIFICATION as the FSM handles it. */
export interface NotificationSpec {
  readonly code: number;
  readonly subcode: number;
  readonly data?: Uint8Array;
}

/** Transition reasons (kebab-case, stable: logs, events and tests rely on them). */
export const TransitionReason = {
  MANUAL_START: 'manual-start',
  AUTOMATIC_START: 'automatic-start',
  MANUAL_STOP: 'manual-stop',
  MAX_PREFIX_EXCEEDED: 'max-prefix-exceeded',
  CONNECT_RETRY_TIMER_EXPIRED: 'connect-retry-timer-expired',
  TCP_CONNECTION_ESTABLISHED: 'tcp-connection-established',
  TCP_CONNECTION_FAILED: 'tcp-connection-failed',
  OPEN_RECEIVED: 'open-received',
  KEEPALIVE_RECEIVED: 'keepalive-received',
  HOLD_TIMER_EXPIRED: 'hold-timer-expired',
  NOTIFICATION_RECEIVED: 'notification-received',
  HEADER_ERROR: 'header-error',
  OPEN_ERROR: 'open-error',
  UPDATE_ERROR: 'update-error',
  FSM_ERROR: 'fsm-error',
  CONNECTION_COLLISION: 'connection-collision',
  /** The peer opened a new connection while Established with graceful restart (RFC 4724 §4.2). */
  PEER_RESTARTED: 'peer-restarted',
} as const;
export type TransitionReason = (typeof TransitionReason)[keyof typeof TransitionReason];

/** The RFC 4271 §8.1 events this FSM handles (names follow the RFC's). */
export type FsmEvent =
  /** Event 1 (active) and Event 4 (ManualStart_with_PassiveTcpEstablishment). */
  | { readonly type: 'manual-start' }
  | { readonly type: 'manual-start-passive' }
  /** Event 2. `notification` replaces the default Cease/2; `reason` the default `manual-stop`. */
  | { readonly type: 'manual-stop'; readonly notification?: NotificationSpec; readonly reason?: string }
  /** Events 3 and 5: restart after an error or a max-prefix shutdown. */
  | { readonly type: 'automatic-start' }
  | { readonly type: 'automatic-start-passive' }
  | { readonly type: 'connect-retry-timer-expires' }
  | { readonly type: 'hold-timer-expires' }
  | { readonly type: 'keepalive-timer-expires' }
  /** Event 16: our outgoing connection completed. */
  | { readonly type: 'tcp-cr-acked' }
  /** Event 17: an incoming connection was accepted. */
  | { readonly type: 'tcp-connection-confirmed' }
  | { readonly type: 'tcp-connection-fails' }
  /** Event 19: a valid OPEN; `holdTime` is the negotiated hold time in seconds. */
  | { readonly type: 'bgp-open'; readonly holdTime: number }
  | { readonly type: 'bgp-header-err'; readonly notification: NotificationSpec }
  | { readonly type: 'bgp-open-msg-err'; readonly notification: NotificationSpec }
  | { readonly type: 'notif-msg-ver-err'; readonly notification?: NotificationSpec }
  | { readonly type: 'notif-msg'; readonly notification?: NotificationSpec }
  | { readonly type: 'keepalive-msg' }
  | { readonly type: 'update-msg' }
  | { readonly type: 'update-msg-err'; readonly notification: NotificationSpec }
  | { readonly type: 'open-collision-dump' }
  /**
   * Not an RFC 4271 event: a graceful-restart peer reconnected while we were
   * Established, so the old session is over (RFC 4724 §4.2). No NOTIFICATION.
   */
  | { readonly type: 'peer-restarted' };
export type FsmEventType = FsmEvent['type'];

export type FsmTimerName = 'connect-retry' | 'hold' | 'keepalive';

/** What a transition asks to be done, in order. */
export type FsmAction =
  | { readonly type: 'connect' }
  | { readonly type: 'drop-tcp' }
  | { readonly type: 'send-open' }
  | { readonly type: 'send-keepalive' }
  | {
      readonly type: 'send-notification';
      readonly code: number;
      readonly subcode: number;
      readonly data: Uint8Array;
    }
  | { readonly type: 'start-timer'; readonly timer: FsmTimerName; readonly seconds: number }
  | { readonly type: 'stop-timer'; readonly timer: FsmTimerName }
  | { readonly type: 'release-resources' }
  | { readonly type: 'session-established' };

export interface FsmResult {
  readonly next: State;
  /** Empty when the state does not change. */
  readonly reason: string;
  readonly actions: readonly FsmAction[];
}

export interface FsmConfig {
  /** Seconds (RFC 4271 §10 suggests 120; shadownet defaults to 30). */
  readonly connectRetryTime: number;
  /** Hold time we offer in our OPEN, seconds. */
  readonly holdTime: number;
  /** Never initiate connections (wait for the peer). */
  readonly passive: boolean;
}

/** RFC 4271 §8.2.2: "a large value" for the hold timer while OpenSent; 4 minutes suggested. */
export const LARGE_HOLD_TIME = 240;
export const DEFAULT_CONNECT_RETRY_TIME = 30;
export const DEFAULT_HOLD_TIME = 90;

/** RFC 4271 §4.4 / §10: keepalive interval is one third of the hold time. */
export function keepaliveInterval(holdTime: number): number {
  return holdTime === 0 ? 0 : Math.max(1, Math.floor(holdTime / 3));
}

/**
 * RFC 4271 §4.2: the hold time is the smaller of both offers; it must be 0
 * or at least 3 seconds, so an offer of 1 or 2 is refused with (2,6).
 * Returns null for an unacceptable offer.
 */
export function negotiateHoldTime(ours: number, theirs: number): number | null {
  if (theirs === 1 || theirs === 2) return null;
  return Math.min(ours, theirs);
}

const EMPTY = new Uint8Array(0);
const stay = (state: State, ...actions: FsmAction[]): FsmResult => ({ next: state, reason: '', actions });
const go = (next: State, reason: string, ...actions: FsmAction[]): FsmResult => ({ next, reason, actions });
const notify = (n: NotificationSpec): FsmAction => ({
  type: 'send-notification',
  code: n.code,
  subcode: n.subcode,
  data: n.data ?? EMPTY,
});
const start = (timer: FsmTimerName, seconds: number): FsmAction => ({ type: 'start-timer', timer, seconds });
const stop = (timer: FsmTimerName): FsmAction => ({ type: 'stop-timer', timer });
const STOP_ALL: FsmAction[] = [stop('connect-retry'), stop('hold'), stop('keepalive')];
const ADMIN_SHUTDOWN: NotificationSpec = {
  code: NotificationCode.CEASE,
  subcode: CeaseSubcode.ADMINISTRATIVE_SHUTDOWN,
};
const HOLD_EXPIRED: NotificationSpec = { code: NotificationCode.HOLD_TIMER_EXPIRED, subcode: 0 };
const COLLISION: NotificationSpec = {
  code: NotificationCode.CEASE,
  subcode: CeaseSubcode.CONNECTION_COLLISION_RESOLUTION,
};

/** Tear the connection down and go Idle, optionally telling the peer why first. */
function toIdle(reason: string, notification?: NotificationSpec): FsmResult {
  const actions: FsmAction[] = [];
  if (notification) actions.push(notify(notification));
  actions.push(...STOP_ALL, { type: 'drop-tcp' }, { type: 'release-resources' });
  return go(SessionState.IDLE, reason, ...actions);
}

function stopReason(ev: { readonly reason?: string }): string {
  return ev.reason ?? TransitionReason.MANUAL_STOP;
}

/** RFC 4271 §8.2.2 Idle. */
function idle(ev: FsmEvent, cfg: FsmConfig): FsmResult {
  switch (ev.type) {
    case 'manual-start':
    case 'automatic-start': {
      const reason =
        ev.type === 'manual-start' ? TransitionReason.MANUAL_START : TransitionReason.AUTOMATIC_START;
      if (cfg.passive) return go(SessionState.ACTIVE, reason);
      return go(SessionState.CONNECT, reason, start('connect-retry', cfg.connectRetryTime), {
        type: 'connect',
      });
    }
    case 'manual-start-passive':
      return go(SessionState.ACTIVE, TransitionReason.MANUAL_START);
    case 'automatic-start-passive':
      return go(SessionState.ACTIVE, TransitionReason.AUTOMATIC_START);
    default:
      // Every other event is ignored in Idle.
      return stay(SessionState.IDLE);
  }
}

/** A connection came up (either direction): send OPEN and wait for the peer's (§8.2.2 Connect/Active). */
function connectionUp(): FsmResult {
  return go(
    SessionState.OPEN_SENT,
    TransitionReason.TCP_CONNECTION_ESTABLISHED,
    stop('connect-retry'),
    { type: 'send-open' },
    start('hold', LARGE_HOLD_TIME),
  );
}

/** RFC 4271 §8.2.2 Connect. */
function connect(ev: FsmEvent, cfg: FsmConfig): FsmResult {
  switch (ev.type) {
    case 'manual-stop':
      return toIdle(stopReason(ev));
    case 'connect-retry-timer-expires':
      return stay(SessionState.CONNECT, { type: 'drop-tcp' }, start('connect-retry', cfg.connectRetryTime), {
        type: 'connect',
      });
    case 'tcp-cr-acked':
    case 'tcp-connection-confirmed':
      return connectionUp();
    case 'tcp-connection-fails':
      // Wait in Active for the peer or for the next retry (the RFC 1771 behaviour most daemons keep).
      return go(
        SessionState.ACTIVE,
        TransitionReason.TCP_CONNECTION_FAILED,
        { type: 'drop-tcp' },
        start('connect-retry', cfg.connectRetryTime),
      );
    case 'manual-start':
    case 'manual-start-passive':
    case 'automatic-start':
    case 'automatic-start-passive':
      return stay(SessionState.CONNECT);
    default:
      return toIdle(TransitionReason.FSM_ERROR);
  }
}

/** RFC 4271 §8.2.2 Active. */
function active(ev: FsmEvent, cfg: FsmConfig): FsmResult {
  switch (ev.type) {
    case 'manual-stop':
      return toIdle(stopReason(ev));
    case 'connect-retry-timer-expires':
      if (cfg.passive) return stay(SessionState.ACTIVE);
      return go(
        SessionState.CONNECT,
        TransitionReason.CONNECT_RETRY_TIMER_EXPIRED,
        start('connect-retry', cfg.connectRetryTime),
        {
          type: 'connect',
        },
      );
    case 'tcp-cr-acked':
    case 'tcp-connection-confirmed':
      return connectionUp();
    case 'tcp-connection-fails':
      return stay(SessionState.ACTIVE, { type: 'drop-tcp' });
    case 'manual-start':
    case 'manual-start-passive':
    case 'automatic-start':
    case 'automatic-start-passive':
      return stay(SessionState.ACTIVE);
    default:
      return toIdle(TransitionReason.FSM_ERROR);
  }
}

/** Events that end any session with a connection the same way in OpenSent, OpenConfirm and Established. */
function common(ev: FsmEvent, fsmSubcode: number): FsmResult | null {
  switch (ev.type) {
    case 'manual-stop':
      return toIdle(stopReason(ev), ev.notification ?? ADMIN_SHUTDOWN);
    case 'hold-timer-expires':
      // RFC 4271 §6.5
      return toIdle(TransitionReason.HOLD_TIMER_EXPIRED, HOLD_EXPIRED);
    case 'tcp-connection-fails':
      return toIdle(TransitionReason.TCP_CONNECTION_FAILED);
    case 'notif-msg':
    case 'notif-msg-ver-err':
      return toIdle(TransitionReason.NOTIFICATION_RECEIVED);
    case 'bgp-header-err':
      return toIdle(TransitionReason.HEADER_ERROR, ev.notification);
    case 'bgp-open-msg-err':
      return toIdle(TransitionReason.OPEN_ERROR, ev.notification);
    case 'open-collision-dump':
      return toIdle(TransitionReason.CONNECTION_COLLISION, COLLISION);
    case 'peer-restarted':
      return toIdle(TransitionReason.PEER_RESTARTED);
    case 'update-msg-err':
      if (fsmSubcode === FsmSubcode.UNEXPECTED_MESSAGE_IN_ESTABLISHED)
        return toIdle(TransitionReason.UPDATE_ERROR, ev.notification);
      return toIdle(TransitionReason.FSM_ERROR, { code: NotificationCode.FSM, subcode: fsmSubcode });
    default:
      // Starts and second connections are the peer's business (collision detection), not this FSM's.
      return null;
  }
}

/** RFC 6608: a message that is not allowed in this state. */
function fsmError(subcode: number): FsmResult {
  return toIdle(TransitionReason.FSM_ERROR, { code: NotificationCode.FSM, subcode });
}

/** RFC 4271 §8.2.2 OpenSent. */
function openSent(ev: FsmEvent): FsmResult {
  const c = common(ev, FsmSubcode.UNEXPECTED_MESSAGE_IN_OPEN_SENT);
  if (c) return c;
  switch (ev.type) {
    case 'bgp-open': {
      const actions: FsmAction[] = [stop('connect-retry'), { type: 'send-keepalive' }];
      if (ev.holdTime > 0) {
        actions.push(start('keepalive', keepaliveInterval(ev.holdTime)), start('hold', ev.holdTime));
      } else {
        // Hold time 0: no keepalives, no hold timer (RFC 4271 §4.2).
        actions.push(stop('hold'), stop('keepalive'));
      }
      return go(SessionState.OPEN_CONFIRM, TransitionReason.OPEN_RECEIVED, ...actions);
    }
    case 'tcp-cr-acked':
    case 'tcp-connection-confirmed':
    case 'manual-start':
    case 'manual-start-passive':
    case 'automatic-start':
    case 'automatic-start-passive':
    case 'connect-retry-timer-expires':
      return stay(SessionState.OPEN_SENT);
    default:
      return fsmError(FsmSubcode.UNEXPECTED_MESSAGE_IN_OPEN_SENT);
  }
}

/** RFC 4271 §8.2.2 OpenConfirm. */
function openConfirm(ev: FsmEvent, st: RunState): FsmResult {
  const c = common(ev, FsmSubcode.UNEXPECTED_MESSAGE_IN_OPEN_CONFIRM);
  if (c) return c;
  switch (ev.type) {
    case 'keepalive-msg': {
      const actions: FsmAction[] = [];
      if (st.negotiatedHoldTime > 0) actions.push(start('hold', st.negotiatedHoldTime));
      actions.push({ type: 'session-established' });
      return go(SessionState.ESTABLISHED, TransitionReason.KEEPALIVE_RECEIVED, ...actions);
    }
    case 'keepalive-timer-expires':
      return stay(
        SessionState.OPEN_CONFIRM,
        { type: 'send-keepalive' },
        start('keepalive', keepaliveInterval(st.negotiatedHoldTime)),
      );
    case 'tcp-cr-acked':
    case 'tcp-connection-confirmed':
    case 'manual-start':
    case 'manual-start-passive':
    case 'automatic-start':
    case 'automatic-start-passive':
    case 'connect-retry-timer-expires':
      return stay(SessionState.OPEN_CONFIRM);
    default:
      return fsmError(FsmSubcode.UNEXPECTED_MESSAGE_IN_OPEN_CONFIRM);
  }
}

/** RFC 4271 §8.2.2 Established. */
function established(ev: FsmEvent, st: RunState): FsmResult {
  const c = common(ev, FsmSubcode.UNEXPECTED_MESSAGE_IN_ESTABLISHED);
  if (c) return c;
  switch (ev.type) {
    case 'keepalive-msg':
    case 'update-msg':
      return stay(
        SessionState.ESTABLISHED,
        ...(st.negotiatedHoldTime > 0 ? [start('hold', st.negotiatedHoldTime)] : []),
      );
    case 'keepalive-timer-expires':
      return stay(
        SessionState.ESTABLISHED,
        { type: 'send-keepalive' },
        start('keepalive', keepaliveInterval(st.negotiatedHoldTime)),
      );
    case 'tcp-cr-acked':
    case 'tcp-connection-confirmed':
    case 'manual-start':
    case 'manual-start-passive':
    case 'automatic-start':
    case 'automatic-start-passive':
    case 'connect-retry-timer-expires':
      return stay(SessionState.ESTABLISHED);
    default:
      return fsmError(FsmSubcode.UNEXPECTED_MESSAGE_IN_ESTABLISHED);
  }
}

/** What the transition function needs to know beyond the state itself. */
export interface RunState {
  readonly state: State;
  /** Negotiated hold time (seconds) once an OPEN was accepted; 0 = no keepalives. */
  readonly negotiatedHoldTime: number;
}

/** The pure transition function: one handler per state. */
export function transition(st: RunState, ev: FsmEvent, cfg: FsmConfig): FsmResult {
  switch (st.state) {
    case SessionState.IDLE:
      return idle(ev, cfg);
    case SessionState.CONNECT:
      return connect(ev, cfg);
    case SessionState.ACTIVE:
      return active(ev, cfg);
    case SessionState.OPEN_SENT:
      return openSent(ev);
    case SessionState.OPEN_CONFIRM:
      return openConfirm(ev, st);
    case SessionState.ESTABLISHED:
      return established(ev, st);
  }
}

/** One transition, as emitted for logs, events and test traces. */
export interface FsmTransition {
  readonly type: 'transition';
  readonly from: State;
  readonly to: State;
  readonly reason: string;
  readonly event: FsmEventType;
  /** The NOTIFICATION sent (or received) that ended the session, if any. */
  readonly notification?: NotificationSpec & { readonly direction: 'sent' | 'received' };
  readonly time: number;
}

export interface SessionFsmOptions extends FsmConfig {
  readonly clock: Clock;
  /** Performs every action except timers, which the FSM keeps itself. */
  readonly perform: (action: FsmAction) => void;
  readonly onTransition?: (t: FsmTransition) => void;
}

/**
 * The FSM bound to a clock. Events raised while a previous event is being
 * handled (an action that fails synchronously, say) are queued and handled
 * afterwards, so actions always see the state their transition produced.
 */
export class SessionFsm {
  #state: State = SessionState.IDLE;
  #negotiatedHoldTime = 0;
  readonly #timers = new Map<FsmTimerName, Timer>();
  readonly #queue: FsmEvent[] = [];
  #busy = false;
  readonly #opts: SessionFsmOptions;
  readonly #trace: FsmTransition[] = [];

  constructor(opts: SessionFsmOptions) {
    this.#opts = opts;
  }

  get state(): State {
    return this.#state;
  }

  get negotiatedHoldTime(): number {
    return this.#negotiatedHoldTime;
  }

  /** True while the named timer is armed. */
  timerActive(name: FsmTimerName): boolean {
    return this.#timers.get(name)?.active ?? false;
  }

  /** The most recent transitions (bounded), oldest first. */
  get trace(): readonly FsmTransition[] {
    return this.#trace;
  }

  handle(ev: FsmEvent): void {
    this.#queue.push(ev);
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (let e = this.#queue.shift(); e; e = this.#queue.shift()) this.#step(e);
    } finally {
      this.#busy = false;
    }
  }

  #step(ev: FsmEvent): void {
    const from = this.#state;
    if (ev.type === 'bgp-open') this.#negotiatedHoldTime = ev.holdTime;
    const res = transition({ state: from, negotiatedHoldTime: this.#negotiatedHoldTime }, ev, this.#opts);
    this.#state = res.next;
    if (res.next === SessionState.IDLE) this.#negotiatedHoldTime = 0;
    let sent: FsmTransition['notification'];
    for (const a of res.actions) {
      if (a.type === 'start-timer') this.#startTimer(a.timer, a.seconds);
      else if (a.type === 'stop-timer') this.#stopTimer(a.timer);
      else {
        if (a.type === 'send-notification')
          sent = { code: a.code, subcode: a.subcode, data: a.data, direction: 'sent' };
        this.#opts.perform(a);
      }
    }
    if (res.reason === '' && res.next === from) return;
    let notification = sent;
    if (!notification && (ev.type === 'notif-msg' || ev.type === 'notif-msg-ver-err') && ev.notification) {
      notification = { ...ev.notification, direction: 'received' };
    }
    const t: FsmTransition = {
      type: 'transition',
      from,
      to: res.next,
      reason: res.reason,
      event: ev.type,
      time: this.#opts.clock.now(),
      ...(notification ? { notification } : {}),
    };
    this.#trace.push(t);
    if (this.#trace.length > 64) this.#trace.shift();
    this.#opts.onTransition?.(t);
  }

  #startTimer(name: FsmTimerName, seconds: number): void {
    this.#stopTimer(name);
    const event: FsmEvent =
      name === 'connect-retry'
        ? { type: 'connect-retry-timer-expires' }
        : name === 'hold'
          ? { type: 'hold-timer-expires' }
          : { type: 'keepalive-timer-expires' };
    this.#timers.set(
      name,
      this.#opts.clock.setTimer(seconds * 1000, () => this.handle(event)),
    );
  }

  #stopTimer(name: FsmTimerName): void {
    this.#timers.get(name)?.cancel();
    this.#timers.delete(name);
  }

  /** Cancel every timer (the owner is going away). */
  dispose(): void {
    for (const name of [...this.#timers.keys()]) this.#stopTimer(name);
    this.#queue.length = 0;
  }
}

import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../core/clock.js';
import {
  SessionFsm,
  negotiateHoldTime,
  keepaliveInterval,
  transition,
  type FsmAction,
  type FsmConfig,
} from './fsm.js';

function harness(cfg: Partial<FsmConfig> = {}) {
  const clock = new SimulatedClock(0);
  const actions: { at: number; action: FsmAction }[] = [];
  const fsm = new SessionFsm({
    clock,
    connectRetryTime: 30,
    holdTime: 90,
    passive: false,
    ...cfg,
    perform: (action) => actions.push({ at: clock.now(), action }),
  });
  const trace = () => fsm.trace.map((t) => `${t.from}>${t.to}:${t.reason}`);
  const sent = (type: FsmAction['type']) => actions.filter((a) => a.action.type === type);
  return { clock, fsm, actions, trace, sent };
}

/** Drive an active session to Established with the given negotiated hold time. */
function establish(h: ReturnType<typeof harness>, holdTime: number) {
  h.fsm.handle({ type: 'manual-start' });
  h.fsm.handle({ type: 'tcp-cr-acked' });
  h.fsm.handle({ type: 'bgp-open', holdTime });
  h.fsm.handle({ type: 'keepalive-msg' });
}

describe('SessionFsm', () => {
  it('walks Idle → Connect → OpenSent → OpenConfirm → Established', () => {
    const h = harness();
    establish(h, 90);
    expect(h.trace()).toEqual([
      'idle>connect:manual-start',
      'connect>open-sent:tcp-connection-established',
      'open-sent>open-confirm:open-received',
      'open-confirm>established:keepalive-received',
    ]);
    expect(h.actions.map((a) => a.action.type)).toEqual([
      'connect',
      'send-open',
      'send-keepalive',
      'session-established',
    ]);
    expect(h.fsm.state).toBe('established');
  });

  it('expires the hold timer: sends NOTIFICATION (4,0) and goes Idle', () => {
    const h = harness();
    establish(h, 9);
    h.clock.advance(8_999);
    expect(h.fsm.state).toBe('established');
    h.clock.advance(1);
    expect(h.fsm.state).toBe('idle');
    const last = h.fsm.trace.at(-1)!;
    expect(last.reason).toBe('hold-timer-expired');
    expect(last.notification).toMatchObject({ code: 4, subcode: 0, direction: 'sent' });
    const notes = h.sent('send-notification');
    expect(notes).toHaveLength(1);
    expect(notes[0].action).toMatchObject({ code: 4, subcode: 0 });
    // Notification goes out before the connection is dropped.
    const types = h.actions.map((a) => a.action.type);
    expect(types.indexOf('send-notification')).toBeLessThan(types.lastIndexOf('drop-tcp'));
    expect(h.clock.pending).toBe(0);
  });

  it('keeps the session up while KEEPALIVEs arrive inside the hold time', () => {
    const h = harness();
    establish(h, 9);
    for (let i = 0; i < 10; i++) {
      h.clock.advance(8_000);
      h.fsm.handle({ type: 'keepalive-msg' });
    }
    expect(h.fsm.state).toBe('established');
  });

  it('sends a KEEPALIVE every hold/3 seconds', () => {
    const h = harness();
    establish(h, 30);
    const before = h.sent('send-keepalive').length;
    h.clock.advance(9_999);
    expect(h.sent('send-keepalive').length).toBe(before);
    h.clock.advance(1);
    expect(h.sent('send-keepalive').length).toBe(before + 1);
    h.fsm.handle({ type: 'keepalive-msg' });
    h.clock.advance(20_000);
    h.fsm.handle({ type: 'keepalive-msg' });
    expect(
      h
        .sent('send-keepalive')
        .map((a) => a.at)
        .slice(before),
    ).toEqual([10_000, 20_000, 30_000]);
  });

  it('with hold time 0 sends no keepalives and never expires', () => {
    const h = harness();
    establish(h, 0);
    const before = h.sent('send-keepalive').length;
    h.clock.advance(24 * 3600_000);
    expect(h.fsm.state).toBe('established');
    expect(h.sent('send-keepalive').length).toBe(before);
  });

  it('holds OpenSent with the large 4-minute hold timer', () => {
    const h = harness();
    h.fsm.handle({ type: 'manual-start' });
    h.fsm.handle({ type: 'tcp-cr-acked' });
    h.clock.advance(239_999);
    expect(h.fsm.state).toBe('open-sent');
    h.clock.advance(1);
    expect(h.trace().at(-1)).toBe('open-sent>idle:hold-timer-expired');
  });

  it('retries the connection every ConnectRetryTime', () => {
    const h = harness({ connectRetryTime: 5 });
    h.fsm.handle({ type: 'manual-start' });
    h.fsm.handle({ type: 'tcp-connection-fails' });
    expect(h.fsm.state).toBe('active');
    h.clock.advance(5_000);
    expect(h.fsm.state).toBe('connect');
    // Still connecting when the timer fires again: drop and try again, stay in Connect.
    h.clock.advance(5_000);
    expect(h.fsm.state).toBe('connect');
    expect(h.sent('connect').map((a) => a.at)).toEqual([0, 5_000, 10_000]);
    expect(h.trace()).toEqual([
      'idle>connect:manual-start',
      'connect>active:tcp-connection-failed',
      'active>connect:connect-retry-timer-expired',
    ]);
  });

  it('passive sessions wait in Active and never connect', () => {
    const h = harness({ passive: true });
    h.fsm.handle({ type: 'manual-start-passive' });
    h.clock.advance(600_000);
    expect(h.fsm.state).toBe('active');
    expect(h.sent('connect')).toHaveLength(0);
    h.fsm.handle({ type: 'tcp-connection-confirmed' });
    expect(h.fsm.state).toBe('open-sent');
  });

  it('OPEN collision dump sends Cease/7 and goes Idle', () => {
    const h = harness();
    h.fsm.handle({ type: 'manual-start' });
    h.fsm.handle({ type: 'tcp-cr-acked' });
    h.fsm.handle({ type: 'bgp-open', holdTime: 90 });
    h.fsm.handle({ type: 'open-collision-dump' });
    expect(h.trace().at(-1)).toBe('open-confirm>idle:connection-collision');
    expect(h.sent('send-notification')[0].action).toMatchObject({ code: 6, subcode: 7 });
    expect(h.clock.pending).toBe(0);
  });

  it('an UPDATE before Established is an FSM error (RFC 6608)', () => {
    const h = harness();
    h.fsm.handle({ type: 'manual-start' });
    h.fsm.handle({ type: 'tcp-cr-acked' });
    h.fsm.handle({ type: 'bgp-open', holdTime: 90 });
    h.fsm.handle({ type: 'update-msg' });
    expect(h.trace().at(-1)).toBe('open-confirm>idle:fsm-error');
    expect(h.sent('send-notification')[0].action).toMatchObject({ code: 5, subcode: 2 });
  });

  it('manual stop with a max-prefix notification reports that reason', () => {
    const h = harness();
    establish(h, 90);
    const data = Uint8Array.of(0, 1, 1, 0, 0, 0, 10);
    h.fsm.handle({
      type: 'manual-stop',
      notification: { code: 6, subcode: 1, data },
      reason: 'max-prefix-exceeded',
    });
    expect(h.trace().at(-1)).toBe('established>idle:max-prefix-exceeded');
    expect(h.sent('send-notification')[0].action).toMatchObject({ code: 6, subcode: 1, data });
  });

  it('a received NOTIFICATION is reported on the transition and sends nothing back', () => {
    const h = harness();
    establish(h, 90);
    h.fsm.handle({ type: 'notif-msg', notification: { code: 6, subcode: 2 } });
    const last = h.fsm.trace.at(-1)!;
    expect(last.reason).toBe('notification-received');
    expect(last.notification).toMatchObject({ code: 6, subcode: 2, direction: 'received' });
    expect(h.sent('send-notification')).toHaveLength(0);
  });

  it('an UPDATE error in Established sends the given NOTIFICATION', () => {
    const h = harness();
    establish(h, 90);
    h.fsm.handle({ type: 'update-msg-err', notification: { code: 3, subcode: 1 } });
    expect(h.trace().at(-1)).toBe('established>idle:update-error');
    expect(h.sent('send-notification')[0].action).toMatchObject({ code: 3, subcode: 1 });
  });

  it('ignores everything but starts in Idle', () => {
    for (const type of [
      'keepalive-msg',
      'update-msg',
      'hold-timer-expires',
      'tcp-connection-fails',
    ] as const) {
      expect(
        transition(
          { state: 'idle', negotiatedHoldTime: 0 },
          { type },
          { connectRetryTime: 30, holdTime: 90, passive: false },
        ),
      ).toEqual({
        next: 'idle',
        reason: '',
        actions: [],
      });
    }
  });
});

describe('hold time negotiation', () => {
  it('takes the smaller offer and refuses 1 and 2 seconds', () => {
    expect(negotiateHoldTime(90, 30)).toBe(30);
    expect(negotiateHoldTime(9, 180)).toBe(9);
    expect(negotiateHoldTime(90, 0)).toBe(0);
    expect(negotiateHoldTime(90, 1)).toBeNull();
    expect(negotiateHoldTime(90, 2)).toBeNull();
    expect(negotiateHoldTime(90, 3)).toBe(3);
    expect(keepaliveInterval(90)).toBe(30);
    expect(keepaliveInterval(3)).toBe(1);
    expect(keepaliveInterval(0)).toBe(0);
  });
});

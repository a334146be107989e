import { describe, expect, it } from 'vitest';
import { Budgets, ShedReason, TokenBucket, shedReasonName } from './budget.js';

/** Offer `n` packets of `bytes` every `gapNs` from t0 for session `session`; returns copied bytes. */
function flood(b: Budgets, session: number, n: number, bytes: number, gapNs: number, t0 = 1_700_000_000): { copied: number; packets: number } {
  let copied = 0;
  let packets = 0;
  for (let i = 0; i < n; i++) {
    const ns = i * gapNs;
    if (b.admit(session, bytes, t0 + Math.floor(ns / 1e9), ns % 1e9) === ShedReason.NONE) {
      copied += bytes;
      packets++;
    }
  }
  return { copied, packets };
}

describe('budgets', () => {
  it('a session budget holds under a flood: copied bytes ≤ rate × time + burst, and the rate is used', () => {
    const rate = 8_000_000; // 1 MB/s
    const b = new Budgets([{ name: 's', priority: 1, target: 't', budget: { bitsPerSecond: rate, burstSeconds: 0.5 } }], [{ name: 't' }]);
    // 15 MB/s offered for 2 s.
    const n = 20_000;
    const { copied, packets } = flood(b, 0, n, 1500, 100_000);
    const seconds = ((n - 1) * 100_000) / 1e9;
    expect(copied).toBeLessThanOrEqual((rate / 8) * seconds + (rate / 8) * 0.5);
    expect(copied).toBeGreaterThan((rate / 8) * seconds);
    expect(b.sessionShed[0]).toEqual({ 'session-budget': n - packets });
    expect(b.targetShed.t).toEqual({});
  });

  it('a packet-rate budget on a target holds, counted as target-budget', () => {
    const b = new Budgets([{ name: 's', priority: 1, target: 't' }], [{ name: 't', budget: { packetsPerSecond: 1000, burstSeconds: 0.1 } }]);
    const { packets } = flood(b, 0, 50_000, 100, 20_000); // 50 kpps for 1 s
    expect(packets).toBeLessThanOrEqual(1000 * 1 + 100);
    expect(packets).toBeGreaterThanOrEqual(1000);
    expect(b.targetShed.t).toEqual({ 'target-budget': 50_000 - packets });
    expect(b.sessionShed[0]).toEqual({ 'target-budget': 50_000 - packets });
  });

  it('on a shared target, lower-priority sessions shed first', () => {
    const sessions = [
      { name: 'low', priority: 300, target: 't' },
      { name: 'high', priority: 10, target: 't' },
    ];
    const b = new Budgets(sessions, [{ name: 't', budget: { packetsPerSecond: 1000 } }]);
    expect(b.reserveOf(1)).toBe(0);
    expect(b.reserveOf(0)).toBe(0.5);
    // Both offer 900 pps for 10 s, interleaved: 1800 pps against 1000.
    const got = [0, 0];
    for (let i = 0; i < 9000; i++) {
      const ns = Math.round((i * 1e9) / 900);
      for (const s of [0, 1]) if (b.admit(s, 500, 100 + Math.floor(ns / 1e9), ns % 1e9) === ShedReason.NONE) got[s]++;
    }
    expect(got[1]).toBe(9000);
    expect(got[0]).toBeLessThan(1000 * 10 + 1000 - 9000);
    expect(got[0]).toBeGreaterThan(500);
    expect(b.sessionShed[0]).toEqual({ 'target-budget-reserved-for-higher-priority': 9000 - got[0] });
    expect(b.sessionShed[1]).toEqual({});
    // Alone, the low-priority session reaches the full rate.
    const alone = new Budgets(sessions, [{ name: 't', budget: { packetsPerSecond: 1000 } }]);
    const { packets } = flood(alone, 0, 20_000, 500, 500_000); // 2000 pps for 10 s
    expect(packets).toBeGreaterThanOrEqual(10_000);
    expect(packets).toBeLessThanOrEqual(11_000);
  });

  it('decisions are a function of packet time: a replay decides alike, time going back refills nothing', () => {
    const mk = () => new Budgets([{ name: 's', priority: 1, target: 't', budget: { packetsPerSecond: 10 } }], [{ name: 't' }]);
    const a = flood(mk(), 0, 1000, 64, 7_000_000);
    expect(flood(mk(), 0, 1000, 64, 7_000_000)).toEqual(a);
    const bucket = new TokenBucket(10, 10);
    bucket.refill(100, 0);
    bucket.take(10);
    bucket.refill(99, 0);
    expect(bucket.tokens).toBe(0);
    bucket.refill(100, 500_000_000);
    expect(bucket.tokens).toBeCloseTo(5);
  });

  it('a rebuild keeps bucket levels and counters of unchanged sessions', () => {
    const cfg = [{ name: 's', priority: 1, target: 't', budget: { packetsPerSecond: 10 } }];
    const a = new Budgets(cfg, [{ name: 't' }]);
    flood(a, 0, 20, 64, 1000);
    const b = new Budgets(cfg, [{ name: 't' }], a);
    expect(b.admit(0, 64, 1_700_000_000, 30_000)).toBe(ShedReason.SESSION_BUDGET);
    expect(b.shedOf('s')['session-budget']).toBe(11);
    expect(shedReasonName(3)).toBe('target-budget-reserved-for-higher-priority');
    expect(shedReasonName(9)).toBe('UNKNOWN_9');
  });
});

import { describe, expect, it } from 'vitest';
import { ApplicationSchema, type ApplicationConfig } from '../../config.js';
import { appFlowPlan, appRate, burstWindows, createRng, FlowBatch, generateAppBatch, generateAppFlows, inBurst } from './rhythm.js';
import { materializeFlow } from './flows.js';

const MONDAY = Date.parse('2026-01-05T00:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function app(over: Partial<ApplicationConfig['rhythm']> = {}, extra: Record<string, unknown> = {}): ApplicationConfig {
  return ApplicationSchema.parse({
    name: 'shop',
    kind: 'web',
    protocol: 'tls',
    port: 443,
    hostname: 'shop.example.com',
    clients: ['198.51.100.0/24'],
    requestsPerSecond: 10,
    rhythm: { daily: 0.5, peakHour: 14, weekly: 0.3, growthPerWeek: 0, burstsPerDay: 0, ...over },
    ...extra,
  });
}

describe('appRate', () => {
  it('peaks at the peak hour and is lowest twelve hours away', () => {
    const a = app();
    const hours = Array.from({ length: 24 }, (_, h) => appRate(a, MONDAY + h * HOUR, MONDAY));
    expect(hours.indexOf(Math.max(...hours))).toBe(14);
    expect(hours.indexOf(Math.min(...hours))).toBe(2);
    expect(Math.max(...hours)).toBeCloseTo(15);
    // The daily cycle averages to the baseline.
    expect(hours.reduce((s, x) => s + x, 0) / 24).toBeCloseTo(10);
  });

  it('dips at the weekend and grows week on week', () => {
    const a = app({ weekly: 0.4, growthPerWeek: 0.1 });
    const sat = MONDAY + 5 * DAY + 14 * HOUR;
    const fri = MONDAY + 4 * DAY + 14 * HOUR;
    expect(appRate(a, sat, MONDAY) / appRate(a, fri, MONDAY)).toBeCloseTo(0.6 * Math.pow(1.1, 1 / 7), 6);
    expect(appRate(a, MONDAY + 7 * DAY, MONDAY) / appRate(a, MONDAY, MONDAY)).toBeCloseTo(1.1, 9);
  });

  it('places bursts deterministically from the seed, tripling the rate for ten minutes', () => {
    const a = app({ daily: 0, weekly: 0, burstsPerDay: 4 });
    const days = Array.from({ length: 7 }, (_, d) => burstWindows(a, Math.floor(MONDAY / DAY) + d, 11));
    const all = days.flat();
    expect(all.length).toBeGreaterThan(10);
    expect(burstWindows(a, Math.floor(MONDAY / DAY), 11)).toEqual(days[0]);
    expect(burstWindows(a, Math.floor(MONDAY / DAY), 12)).not.toEqual(days[0]);
    const [s, e] = all[0];
    expect(e - s).toBe(10 * 60_000);
    expect(inBurst(a, s + 1000, 11)).toBe(true);
    expect(appRate(a, s + 1000, MONDAY, 11)).toBeGreaterThanOrEqual(30);
    expect(appRate(app({ daily: 0, weekly: 0 }), s + 1000, MONDAY, 11)).toBe(10);
  });
});

describe('generateAppFlows', () => {
  it('draws Poisson arrivals at the rate, from the client prefixes, deterministically', () => {
    const a = app({ daily: 0, weekly: 0 }, { requestsPerSecond: 50 });
    const gen = (seed: number) => generateAppFlows(a, 'prod', a.clients, '10.2.0.5', MONDAY, MONDAY + 60_000, createRng(seed));
    const flows = gen(3);
    expect(flows.length).toBeGreaterThan(2700);
    expect(flows.length).toBeLessThan(3300);
    expect(gen(3)).toEqual(flows);
    expect(gen(4)).not.toEqual(flows);
    for (const f of flows.slice(0, 50)) {
      expect(f.client).toMatch(/^198\.51\.100\.\d+$/);
      expect(f.kind).toBe('tls');
      expect(f.hostname).toBe('shop.example.com');
      expect(f.start).toBeGreaterThanOrEqual(MONDAY);
      expect(f.start).toBeLessThan(MONDAY + 60_000);
    }
    const mean = flows.reduce((s, f) => s + f.bytesToClient + f.bytesToServer, 0) / flows.length;
    expect(mean).toBeGreaterThan(40_000);
    expect(mean).toBeLessThan(90_000);
    let n = 0;
    materializeFlow(flows[0], () => n++);
    expect(n).toBe(flows[0].packetsToServer + flows[0].packetsToClient);
  });

  it('follows the daily cycle: more flows at the peak hour than at night', () => {
    const a = app({ daily: 0.8 });
    const count = (h: number) => generateAppFlows(a, 'prod', a.clients, '10.2.0.5', MONDAY + h * HOUR, MONDAY + h * HOUR + 60_000, createRng(h)).length;
    expect(count(14)).toBeGreaterThan(3 * count(2));
  });
});

describe('generateAppBatch', () => {
  it('makes the flows generateAppFlows makes, from the same draws, as numbers', () => {
    const cases: [ApplicationConfig, string[]][] = [
      [app({ burstsPerDay: 6, growthPerWeek: 0.05 }), ['198.51.100.0/24']],
      [app({}, { name: 'api', protocol: 'http', port: 80, hostname: 'api.example.com' }), ['10.1.1.0/24', '10.200.0.0/16', '2001:db8::/64']],
      [app({}, { name: 'db', protocol: 'bulk', port: 5432, bytesPerFlow: 20000 }), ['10.1.2.0/24', '10.0.0.0/30', '10.9.9.9/32']],
      [app({ daily: 0 }, { name: 'dns', protocol: 'dns', port: 53, hostname: undefined }), ['0.0.0.0/0', '172.16.0.0/12']],
      [app({}, { name: 'ssh', protocol: 'ssh', port: 22, bytesPerFlow: 200000 }), ['192.168.7.0/25']],
    ];
    const batch = new FlowBatch();
    expect(burstWindows(cases[0][0], Math.floor((MONDAY + 5 * DAY) / DAY), 9).length).toBeGreaterThan(0);
    for (const [a, clients] of cases) {
      const plan = appFlowPlan(a, 'prod', clients, '10.10.0.10');
      batch.plans.push(plan);
      const k = batch.plans.length - 1;
      // Across the start of a burst where the application has them.
      const bursts = burstWindows(a, Math.floor((MONDAY + 5 * DAY) / DAY), 9);
      const from = bursts.length > 0 ? bursts[0][0] - 30_000 : MONDAY + 5 * DAY + 13 * HOUR;
      const opts = { startMs: MONDAY, seed: 9 };
      let idA = 100;
      let idB = 100;
      const expected = generateAppFlows(a, 'prod', clients, '10.10.0.10', from, from + 60_000, createRng(k), { ...opts, nextId: () => ++idA });
      batch.clear();
      const rng = createRng(k);
      const n = generateAppBatch(batch, k, from, from + 60_000, rng, { ...opts, nextId: () => ++idB });
      expect(n).toBe(expected.length);
      expect(n).toBeGreaterThan(100);
      expect(Array.from({ length: n }, (_, i) => batch.flow(i))).toEqual(expected);
      // The generator is left where generateAppFlows leaves it.
      const after = createRng(k);
      generateAppFlows(a, 'prod', clients, '10.10.0.10', from, from + 60_000, after, opts);
      expect(rng.next()).toBe(after.next());
    }
  });

  it('leaves services over IPv6 to generateAppFlows', () => {
    expect(appFlowPlan(app(), 'prod', ['2001:db8::/64'], '2001:db8:1::10')).toBeNull();
  });
});

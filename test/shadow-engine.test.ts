/**
 * The shadowing engine fed by a real RIB: routing facts decide what is
 * copied, and a routing change takes effect at the next batch; budgets hold
 * under a flood; statistics per prefix and application reach the bus.
 */
import { describe, expect, it } from 'vitest';
import { PacketBatchBuilder, parsePrefix, routeAttributes, SimulatedClock, type RouteAttributes } from '../src/core/index.js';
import { RoutingInterceptor } from '../src/routing/index.js';
import { ShadowEngine, type CopyBatchMessage, type TrafficStatsMessage } from '../src/shadow/index.js';
import { parseConfig } from '../src/vnet/index.js';
import { frame, type FrameSpec } from './helpers/packets.js';

const yaml = (sessions: string, targets = '    - { name: asc, type: bus, topic: copies }') => `
vnets:
  - name: prod
    cidrs: [10.0.0.0/8, 2001:db8::/32]
    prefixTags:
      - { prefix: 10.10.0.0/16, tags: { app: checkout, critical: true } }
shadow:
  statsInterval: 10
  ipSets: [{ name: threats, entries: [] }]
  targets:
${targets}
  sessions:
${sessions}
`;

const attrs = (asns: number[], communities: number[] = []): RouteAttributes => routeAttributes({ asSequence: asns, communities, nextHop: '198.51.100.1' });

function setup(sessions: string, targets?: string) {
  const config = parseConfig(yaml(sessions, targets));
  const clock = new SimulatedClock(Date.UTC(2026, 0, 5));
  const rii = new RoutingInterceptor({ config, clock });
  const rib = rii.rib('prod');
  rib.addPeer({ id: 'p1', router: 'vr1', address: '192.0.2.1', asn: 65001, bgpId: '192.0.2.1', ibgp: false });
  const engine = new ShadowEngine({ config, bus: rii.bus, clock, routing: rii });
  const copies: CopyBatchMessage[] = [];
  const stats: TrafficStatsMessage[] = [];
  rii.bus.subscribe<CopyBatchMessage>('copies', (m) => copies.push(m));
  rii.bus.subscribe<TrafficStatsMessage>('shadow.stats.>', (m) => stats.push(m));
  let t = Date.UTC(2026, 0, 5) / 1000;
  const run = async (specs: FrameSpec[], opts: { gapSec?: number } = {}) => {
    const b = new PacketBatchBuilder('test', 1, 4096, 4096 * 1600, 'prod');
    for (const s of specs) {
      const f = frame(s);
      if (!b.push(f, f.length, Math.floor(t), Math.round((t % 1) * 1e9))) throw new Error('batch full');
      t += opts.gapSec ?? 0.0001;
    }
    engine.process(b);
    await engine.flush();
  };
  const copied = () => copies.reduce((n, m) => n + m.count, 0);
  return { config, rii, rib, engine, copies, stats, run, copied, advance: (s: number) => (t += s) };
}

const toCritical = (n: number, extra: Partial<FrameSpec> = {}): FrameSpec[] =>
  Array.from({ length: n }, (_, i) => ({ src: `10.1.0.${(i % 200) + 1}`, dst: '10.10.1.5', dstPort: 443, srcPort: 40000 + i, payload: 100, ...extra }));

describe('ShadowEngine', () => {
  it('copies by routing facts and stops at the next batch after a withdrawal', async () => {
    const { rib, run, copied, engine } = setup(`
    - name: from-65010
      vnet: prod
      priority: 10
      target: asc
      rules: [{ action: accept, protocol: tcp, destinationRoute: { originAs: [65010], community: ["65001:*"] } }]`);
    engine.start();
    rib.announce('p1', parsePrefix('10.10.0.0/16'), attrs([65001, 65010], [(65001 << 16) | 7]));
    rib.announce('p1', parsePrefix('10.20.0.0/16'), attrs([65001, 65020], [(65001 << 16) | 7]));
    await run([...toCritical(10), ...toCritical(5, { dst: '10.20.0.9' })]);
    expect(copied()).toBe(10);
    rib.withdraw('p1', parsePrefix('10.10.0.0/16'));
    await run(toCritical(10));
    expect(copied()).toBe(10);
    expect(engine.stats().engine.routeChangesCommitted).toBeGreaterThanOrEqual(3);
    // Re-announced with another origin: still no copies; with the origin back: copies again.
    rib.announce('p1', parsePrefix('10.10.0.0/16'), attrs([65001, 65099], [(65001 << 16) | 7]));
    await run(toCritical(4));
    expect(copied()).toBe(10);
    rib.announce('p1', parsePrefix('10.10.0.0/16'), attrs([65001, 65010], [(65001 << 16) | 7]));
    await run(toCritical(4));
    expect(copied()).toBe(14);
    const s = engine.stats().sessions[0];
    expect(s).toMatchObject({ name: 'from-65010', matched: 14, copied: 14, vni: 1000 });
  });

  it('truncates, samples 1 in N, and counts what it drops', async () => {
    const { run, copies, engine } = setup(`
    - { name: t, vnet: prod, priority: 1, target: asc, truncate: 64, sample: { oneIn: 4 }, rules: [{ action: accept }] }`);
    engine.start();
    await run([...toCritical(40), { src: '10.1.0.1', dst: '10.10.0.1', protocol: 'udp', payload: 10 }]);
    const b = new PacketBatchBuilder('test', 1, 8, 8192, 'prod');
    b.push(Uint8Array.of(1, 2, 3), 3, 1, 0);
    engine.process(b);
    const st = engine.stats();
    // Packets 1, 5, …, 41 are sampled; the last is a 52-byte UDP packet, shorter than the truncation length.
    expect(st.sessions[0]).toMatchObject({ matched: 41, copied: 11, sampledOut: 30, truncated: 10 });
    expect(copies.flatMap((m) => Array.from(m.lengths.subarray(0, m.count)))).toEqual([...new Array(10).fill(64), 52]);
    expect(st.engine.dropped).toEqual({ 'truncated-l2': 1 });
  });

  it('places packets without a named network by address, and counts the ones outside every network', async () => {
    const { engine, copies } = setup(`
    - { name: all, vnet: prod, priority: 1, target: asc, rules: [{ action: accept }] }`);
    engine.start();
    const b = new PacketBatchBuilder('test', 1, 8, 8192);
    for (const spec of [
      { src: '10.1.0.1', dst: '192.0.2.1' },
      { src: '192.0.2.1', dst: '10.1.0.1' },
      { src: '192.0.2.1', dst: '198.51.100.1' },
    ]) {
      const f = frame(spec);
      b.push(f, f.length, 1_767_571_200, 0);
    }
    engine.process(b);
    await engine.flush();
    expect(copies.reduce((n, m) => n + m.count, 0)).toBe(2);
    expect(engine.stats().engine.dropped).toEqual({ 'no-vnet-for-address': 1 });
  });

  it('holds a session budget under a flood, counting the shed packets', async () => {
    const { run, copied, engine } = setup(`
    - { name: b, vnet: prod, priority: 1, target: asc, budget: { packetsPerSecond: 100, burstSeconds: 1 }, rules: [{ action: accept }] }`);
    engine.start();
    // 4,000 packets in 2 s of packet time: at most 100/s × 2 s + a 100-packet burst may pass.
    await run(toCritical(4000), { gapSec: 0.0005 });
    const s = engine.stats().sessions[0];
    expect(copied()).toBeLessThanOrEqual(300);
    expect(copied()).toBeGreaterThanOrEqual(200);
    expect(s.copied + (s.shed['session-budget'] ?? 0)).toBe(4000);
  });

  it('sheds the lower-priority session first when a target is over budget', async () => {
    const { run, engine } = setup(
      `
    - { name: high, vnet: prod, priority: 1, target: ids, rules: [{ action: accept, protocol: tcp, destinationPorts: 443 }] }
    - { name: low, vnet: prod, priority: 2, target: ids, rules: [{ action: accept }] }`,
      '    - { name: ids, type: bus, topic: copies, budget: { packetsPerSecond: 200 } }',
    );
    engine.start();
    const mixed: FrameSpec[] = [];
    for (let i = 0; i < 2000; i++) mixed.push(i % 2 ? toCritical(1)[0] : { src: '10.1.0.1', dst: '10.10.0.1', protocol: 'udp', srcPort: 5000 + i, dstPort: 53 });
    await run(mixed, { gapSec: 0.001 });
    const [high, low] = engine.stats().sessions;
    expect(high.matched).toBe(1000);
    expect(low.matched).toBe(1000);
    expect(high.copied).toBeGreaterThan(low.copied);
    expect(Object.keys(low.shed)).toContain('target-budget-reserved-for-higher-priority');
  });

  it('follows IP sets and session changes made at run time', async () => {
    const { run, copied, engine } = setup(`
    - { name: intel, vnet: prod, priority: 1, target: asc, rules: [{ action: accept, destinationRoute: { ipSet: threats } }] }`);
    engine.start();
    await run(toCritical(5));
    expect(copied()).toBe(0);
    engine.setIpSet('threats', ['10.10.1.0/24']);
    await run(toCritical(5));
    expect(copied()).toBe(5);
    engine.upsertSession({ name: 'all-udp', vnet: 'prod', priority: 5, target: 'asc', rules: [{ action: 'accept', protocol: 'udp' }] });
    await run([{ src: '10.1.0.1', dst: '10.2.0.1', protocol: 'udp' }]);
    expect(copied()).toBe(6);
    engine.removeSession('intel');
    await run(toCritical(5));
    expect(copied()).toBe(6);
    expect(() => engine.upsertSession({ name: 'x', vnet: 'prod', priority: 0, target: 'asc', rules: [] })).toThrow(/priority/);
    expect(() => engine.upsertSession({ name: 'x', vnet: 'prod', priority: 3, target: 'nowhere', rules: [{ action: 'accept' }] })).toThrow(/no target named "nowhere"/);
  });

  it("copies unrouted destinations for a noRoute session, but not the network's own addresses", async () => {
    const { rib, run, copied, engine } = setup(`
    - { name: unrouted, vnet: prod, priority: 1, target: asc, rules: [{ action: accept, destinationRoute: { noRoute: true } }] }`);
    engine.start();
    rib.announce('p1', parsePrefix('203.0.113.0/24'), attrs([65001]));
    await run([
      { src: '10.1.0.1', dst: '198.51.100.7' }, // unrouted: copied
      { src: '10.1.0.1', dst: '203.0.113.7' }, // announced route
      { src: '198.51.100.7', dst: '10.1.0.1' }, // inside prod's CIDR: local route
      { src: '2001:db8::1', dst: '2001:db8:5::1' }, // inside prod's IPv6 CIDR
      { src: '2001:db8::1', dst: '2001:db9::1' }, // unrouted: copied
    ]);
    expect(copied()).toBe(2);
  });

  it('counts every packet of a long flow in the interval it was seen, across batches and intervals', async () => {
    const { rib, run, stats, engine, advance } = setup(`
    - { name: none, vnet: prod, priority: 1, target: asc, rules: [{ action: reject }] }`);
    engine.start();
    rib.announce('p1', parsePrefix('10.10.0.0/16'), attrs([65001]));
    const flow = (n: number) => Array.from({ length: n }, () => ({ src: '10.1.0.1', dst: '10.10.1.5', srcPort: 40000, dstPort: 443, payload: 100 }));
    await run(flow(7));
    await run(flow(5));
    advance(20);
    await run(flow(3));
    advance(20);
    await run(flow(1));
    expect(stats).toHaveLength(2);
    expect(stats[0].prefixes.find((p) => p.prefix === '10.10.0.0/16')).toMatchObject({ packetsIn: 12, bytesIn: 12 * 154 });
    expect(stats[1].prefixes.find((p) => p.prefix === '10.10.0.0/16')).toMatchObject({ packetsIn: 3, bytesIn: 3 * 154 });
    // A route change between batches: the counts so far stay with the route they were counted for.
    rib.announce('p1', parsePrefix('10.10.1.0/24'), attrs([65001]));
    await run(flow(4));
    advance(20);
    await run(flow(1));
    const last = stats[stats.length - 1];
    expect(last.prefixes.find((p) => p.prefix === '10.10.0.0/16')).toMatchObject({ packetsIn: 1 });
    expect(last.prefixes.find((p) => p.prefix === '10.10.1.0/24')).toMatchObject({ packetsIn: 4 });
  });

  it('publishes per-prefix and per-application traffic each interval', async () => {
    const { rib, run, stats, engine, advance } = setup(`
    - { name: none, vnet: prod, priority: 1, target: asc, rules: [{ action: reject }] }`);
    engine.start();
    rib.announce('p1', parsePrefix('10.10.0.0/16'), attrs([65001]));
    rib.announce('p1', parsePrefix('10.1.0.0/16'), attrs([65001]));
    await run(toCritical(3)); // 10.1.0.x → 10.10.1.5, 154 bytes each
    await run([{ src: '10.10.1.5', dst: '10.99.0.1', protocol: 'udp' }]);
    advance(20);
    await run([{ src: '10.1.0.1', dst: '10.10.0.1', protocol: 'udp' }]);
    expect(stats).toHaveLength(1);
    const m = stats[0];
    expect(m).toMatchObject({ vnet: 'prod', packets: 4, end: m.start + 10_000 });
    const checkout = m.prefixes.find((p) => p.prefix === '10.10.0.0/16')!;
    expect(checkout).toMatchObject({ app: 'checkout', packetsIn: 3, bytesIn: 3 * 154, packetsOut: 1 });
    expect(m.prefixes.find((p) => p.prefix === '10.1.0.0/16')).toMatchObject({ packetsOut: 3, packetsIn: 0 });
    expect(m.applications).toEqual([{ app: 'checkout', packetsIn: 3, bytesIn: 462, packetsOut: 1, bytesOut: 42 }]);
    // 10.99.0.1 has no announced route: the network's own CIDR (a local route) counts it, and it is not unrouted.
    expect(m.prefixes.find((p) => p.prefix === '10.0.0.0/8')).toMatchObject({ packetsIn: 1, packetsOut: 0 });
    expect(m.unrouted).toEqual({ packets: 0, bytes: 0 });
    // The next interval starts from zero: only the packet sent after the first report counts.
    advance(20);
    await run([{ src: '10.1.0.1', dst: '10.99.0.1', protocol: 'udp' }]);
    expect(stats).toHaveLength(2);
    const next = stats[1];
    expect(next.packets).toBe(1);
    expect(next.prefixes.map((p) => [p.prefix, p.packetsIn, p.packetsOut])).toEqual([
      ['10.10.0.0/16', 1, 0],
      ['10.1.0.0/16', 0, 1],
    ]);
  });
  it('copies and counts alike whatever the batch length, below and above the 256 packets it takes through each step together', async () => {
    // 700 packets: 60 flows in both directions, packets outside every network, and ones that do not dissect.
    const packets: Uint8Array[] = [];
    for (let i = 0; i < 700; i++) {
      if (i % 97 === 13) packets.push(Uint8Array.of(0, 1, 2, 3, 4, 5));
      else if (i % 89 === 7) packets.push(frame({ src: '192.0.2.1', dst: '198.51.100.1', payload: 40 }));
      else {
        const f = i % 60;
        const up = i % 3 !== 0;
        const client = `10.1.0.${f + 1}`;
        const server = f % 2 ? '10.10.1.5' : '10.20.0.9';
        packets.push(
          frame({
            src: up ? client : server,
            dst: up ? server : client,
            srcPort: up ? 40000 + f : 443,
            dstPort: up ? 443 : 40000 + f,
            payload: (i * 37) % 900,
          }),
        );
      }
    }
    const sessions = `
    - { name: critical, vnet: prod, priority: 1, target: asc, truncate: 200, rules: [{ action: accept, destinationRoute: { tags: { critical: true } } }] }
    - { name: rest, vnet: prod, priority: 2, target: asc, sample: { oneIn: 3 }, rules: [{ action: accept, protocol: tcp }] }`;
    const runIn = async (batchLength: number) => {
      const { engine, copies, rib } = setup(sessions);
      engine.start();
      rib.announce('p1', parsePrefix('10.10.0.0/16'), attrs([65001, 65010]));
      for (let at = 0; at < packets.length; at += batchLength) {
        // Unnamed batches: each packet's network is found by its addresses.
        const b = new PacketBatchBuilder('test', 1, batchLength, batchLength * 1600);
        packets.slice(at, at + batchLength).forEach((f, i) => b.push(f, f.length, 1_767_571_200, (at + i) * 1000));
        engine.process(b);
      }
      await engine.flush();
      const bytes = copies.flatMap((m) =>
        Array.from({ length: m.count }, (_, i) => `${m.sessions[i]} ${Buffer.from(m.data.subarray(m.offsets[i], m.offsets[i] + m.lengths[i])).toString('hex')}`),
      );
      const st = engine.stats();
      return { bytes, sessions: st.sessions, dropped: st.engine.dropped, packets: st.engine.packets, bytesIn: st.engine.bytes };
    };
    const whole = await runIn(700);
    expect(whole.packets).toBe(700);
    expect(whole.dropped).toEqual({ 'truncated-l2': 8, 'no-vnet-for-address': 8 });
    expect(whole.sessions.map((x) => x.copied)).toEqual([expect.any(Number), expect.any(Number)]);
    expect(whole.sessions[0].copied).toBeGreaterThan(100);
    expect(whole.sessions[1].copied).toBeGreaterThan(50);
    for (const length of [1, 100, 256, 257, 512]) expect(await runIn(length), `batches of ${length}`).toEqual(whole);
  });
  it('judges route age at each packet time with the flow cache on, emptying the cache only when a route ages past a window', async () => {
    const { rib, run, copied, engine, advance } = setup(`
    - { name: fresh, vnet: prod, priority: 1, target: asc, rules: [{ action: accept, destinationRoute: { announcedWithin: 10m } }] }`);
    engine.start();
    // Announced at the clock's time, which is also the first packet's time.
    rib.announce('p1', parsePrefix('10.10.0.0/16'), attrs([65001, 65010]));
    const packet = toCritical(1)[0];
    // One flow, a packet every 2 s up to 9 min 58 s: all copied, from one decision.
    await run(new Array<FrameSpec>(300).fill(packet), { gapSec: 2 });
    expect(copied()).toBe(300);
    expect(engine.counters.flowCacheMisses).toBe(1);
    // At 10 min the route is still fresh; from 10 min 1 s it is not, although the flow's decision was cached.
    await run(new Array<FrameSpec>(10).fill(packet), { gapSec: 1 });
    expect(copied()).toBe(301);
    expect(engine.counters.flowCacheMisses).toBe(2);
    // Packet time going back before that instant (another capture replayed): fresh again.
    advance(-311);
    await run([packet]);
    expect(copied()).toBe(302);
    expect(engine.counters.flowCacheMisses).toBe(3);
  });
  it('forgets only the cached decisions a routing change concerns, and follows the change at the next batch', async () => {
    const { rib, run, copied, engine } = setup(`
    - name: from-65010
      vnet: prod
      priority: 10
      target: asc
      rules: [{ action: accept, protocol: tcp, destinationRoute: { originAs: [65010] } }]`);
    engine.start();
    rib.announce('p1', parsePrefix('10.10.0.0/16'), attrs([65001, 65010]));
    rib.announce('p1', parsePrefix('10.20.0.0/16'), attrs([65001, 65020]));
    const to10 = toCritical(20);
    const to10sub = toCritical(5, { dst: '10.10.9.9' });
    const to20 = toCritical(20, { dst: '10.20.0.9' });
    await run([...to10, ...to10sub, ...to20]);
    expect(copied()).toBe(25);
    const misses = () => engine.counters.flowCacheMisses;
    expect(misses()).toBe(45);
    // Another origin for 10.20/16: only its 20 flows are classified again (and still not copied).
    rib.announce('p1', parsePrefix('10.20.0.0/16'), attrs([65001, 65030]));
    await run([...to10, ...to10sub, ...to20]);
    expect(copied()).toBe(50);
    expect(misses()).toBe(65);
    expect(engine.counters.flowDecisionsForgotten).toBe(20);
    // A more specific 10.10.9.0/24 from another origin: its flows stop being copied; the rest of 10.10/16 keep being.
    rib.announce('p1', parsePrefix('10.10.9.0/24'), attrs([65001, 65099]));
    await run([...to10, ...to10sub, ...to20]);
    expect(copied()).toBe(70);
    // The 25 flows that had 10.10/16 as their destination route were forgotten.
    expect(misses()).toBe(90);
    // Withdrawn again: those five are copied again.
    rib.withdraw('p1', parsePrefix('10.10.9.0/24'));
    await run([...to10, ...to10sub, ...to20]);
    expect(copied()).toBe(95);
    expect(misses()).toBe(95);
  });
  it('counts a flow under the route it had when each packet was seen, across routing changes within an interval', async () => {
    const { rib, run, stats, engine, advance } = setup(`
    - { name: none, vnet: prod, priority: 1, target: asc, rules: [{ action: reject }] }`);
    engine.start();
    rib.announce('p1', parsePrefix('10.10.0.0/16'), attrs([65001]));
    rib.announce('p1', parsePrefix('10.30.0.0/16'), attrs([65001]));
    const flow = toCritical(1)[0]; // 10.1.0.1 → 10.10.1.5
    const other = { ...flow, dst: '10.30.0.7' };
    await run([flow, flow, other, other, other]);
    // A more specific route takes the flow's destination; 10.30/16 is withdrawn, and its route index may be given to a new prefix.
    rib.announce('p1', parsePrefix('10.10.1.0/24'), attrs([65001]));
    rib.withdraw('p1', parsePrefix('10.30.0.0/16'));
    await run([flow]);
    rib.announce('p1', parsePrefix('10.40.0.0/16'), attrs([65001]));
    await run([flow, { ...flow, dst: '10.40.0.9' }]);
    advance(20);
    await run([flow]);
    expect(stats).toHaveLength(1);
    const byPrefix = Object.fromEntries(stats[0].prefixes.filter((p) => p.packetsIn > 0).map((p) => [p.prefix, p.packetsIn]));
    // 10.30/16's three packets are reported under it although it was withdrawn during the interval, and not under
    // 10.40/16, which may have taken its route index.
    expect(byPrefix).toEqual({ '10.10.0.0/16': 2, '10.10.1.0/24': 2, '10.30.0.0/16': 3, '10.40.0.0/16': 1 });
    expect(stats[0].packets).toBe(8);
  });
});

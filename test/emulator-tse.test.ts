/**
 * Flows carried as counts into the shadowing engine are exact. One emulated
 * network (appliances over real BGP to the RII, a hijack, a failover, a port
 * scan from an address on a threat list) feeds two engines on the same routing table: one gets every packet,
 * the other gets as packets only the directions of flows it says it needs
 * (ShadowEngine.flowPacketsNeeded) and the others as counts (countFlow).
 * Copies, session and target counters, and the per-prefix traffic published
 * each interval must come out identical, with route-age, tag, IP-set,
 * no-route, sampling and budget sessions in play.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FlowDirection, FlowRecord, InProcessBus, SimulatedClock, parseAddress } from '../src/core/index.js';
import { RoutingInterceptor } from '../src/routing/index.js';
import { parseConfig } from '../src/vnet/index.js';
import { Emulator } from '../src/vnet/emulator/emulator.js';
import { flowFor, materializeFlow } from '../src/vnet/emulator/traffic/flows.js';
import { FlowFeed, ShadowEngine, newTargetStats, trafficStatsTopic, type CopyRecord, type CopyTarget } from '../src/shadow/index.js';

const PORT = 25180;
const config = parseConfig(`
substrate:
  hosts: [{ name: gw }, { name: h1 }, { name: h2 }]
  links:
    - { a: h1, b: gw, capacity: 10Gbps }
    - { a: h2, b: gw, capacity: 10Gbps }
vnets:
  - name: prod
    vni: 1001
    cidrs: [10.0.0.0/8]
    prefixTags:
      - { prefix: 10.10.0.0/16, tags: { app: shop, critical: true } }
    routers:
      - name: vr1
        asn: 65000
        routerId: 10.255.0.1
        listen: { address: 127.0.0.1, port: ${PORT} }
        host: gw
        peers:
          - { address: 127.0.0.2, asn: 65001 }
          - { address: 127.0.0.3, asn: 65001 }
          - { address: 127.0.0.4, asn: 65066 }
    subnets:
      - { name: edge, cidr: 10.1.0.0/24 }
      - { name: web, cidr: 10.1.1.0/24 }
    nodes:
      - { name: lb-1, host: h1, address: 10.1.0.11, subnet: edge, appliance: { router: vr1, asn: 65001, bgpAddress: 127.0.0.2, announce: [10.10.0.0/16, 10.20.0.0/16] } }
      - { name: lb-2, host: h2, address: 10.1.0.12, subnet: edge, appliance: { router: vr1, asn: 65001, bgpAddress: 127.0.0.3, announce: [10.10.0.0/16] } }
      - { name: rogue-1, host: h2, address: 10.1.0.66, subnet: edge, appliance: { router: vr1, asn: 65066, bgpAddress: 127.0.0.4 } }
      - { name: web-1, host: h1, address: 10.1.1.11, subnet: web, apps: [shop] }
      - { name: dns-1, host: h2, address: 10.1.0.53, subnet: edge, apps: [dns] }
      - { name: api-1, host: h1, address: 10.1.1.12, subnet: web, apps: [api] }
    applications:
      - { name: shop, kind: web, protocol: tls, port: 443, hostname: shop.example.org, prefix: 10.10.0.0/16, clients: [10.200.0.0/16], requestsPerSecond: 4 }
      - { name: api, kind: api, protocol: http, port: 80, hostname: api.example.org, prefix: 10.20.0.0/16, clients: [10.1.1.0/24], requestsPerSecond: 6 }
      - { name: dns, kind: dns, protocol: dns, port: 53, hostname: www.example.org, clients: [10.1.1.0/24], requestsPerSecond: 8 }
emulation:
  seed: 11
  start: 2026-01-05T00:00:00Z
  step: 10
  script:
    - { at: 4m, action: failover, vnet: prod, node: lb-1, to: lb-2, prefix: 10.20.0.0/16 }
  attacks:
    - { kind: port-scan, vnet: prod, at: 1m, duration: 1m, source: 10.200.66.6, target: 10.1.1.0/28, rate: 10 }
    - { kind: prefix-hijack, vnet: prod, at: 3m, duration: 2m, node: rogue-1, prefix: 10.10.0.0/24 }
shadow:
  statsInterval: 30
  ipSets: [{ name: threats, entries: [10.200.66.6/32] }]
  targets:
    - { name: asc, type: bus, budget: { packetsPerSecond: 40 } }
  sessions:
    - { name: threat-intel, vnet: prod, priority: 5, target: asc, rules: [{ action: accept, sourceRoute: { ipSet: threats } }] }
    - { name: hijacker, vnet: prod, priority: 8, target: asc, rules: [{ action: accept, destinationRoute: { originAs: [65066] } }] }
    - name: critical
      vnet: prod
      priority: 10
      target: asc
      sample: { oneIn: 3 }
      rules: [{ action: accept, direction: ingress, destinationRoute: { tags: { critical: true } } }]
    - { name: fresh, vnet: prod, priority: 20, target: asc, truncate: 128, rules: [{ action: accept, destinationRoute: { announcedWithin: 90s } }] }
    - name: dns-but-not-api
      vnet: prod
      priority: 30
      target: asc
      sample: { oneIn: 4, perFlow: true }
      rules:
        - { action: reject, source: [10.1.1.12/32] }
        - { action: accept, protocol: udp, destinationPorts: 53 }
log: { level: silent }
`);

/** A target that keeps what it is given: session, time, lengths and a digest of the bytes. */
class Collect implements CopyTarget {
  readonly kind = 'bus' as const;
  readonly stats = newTargetStats();
  readonly copies: string[] = [];
  constructor(readonly name: string) {}
  write(r: CopyRecord): void {
    const digest = createHash('sha1').update(r.data.subarray(r.offset, r.offset + r.length)).digest('hex').slice(0, 16);
    this.copies.push(`${r.session} ${r.tsSec}.${r.tsNsec} ${r.length}/${r.wireLength} ${digest}`);
    this.stats.packets++;
    this.stats.bytes += r.length;
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('flows as counts into the shadowing engine', () => {
  it('give the same copies, counters and per-prefix traffic as their packets', { timeout: 120_000 }, async () => {
    const clock = new SimulatedClock(Date.parse(config.emulation!.start));
    const rii = new RoutingInterceptor({ config, clock });
    await rii.start();
    // Engine B sees the same routing events, on a bus of its own (its statistics stay apart).
    const busB = new InProcessBus();
    rii.bus.subscribe('routing.events.>', (m, topic) => busB.publish(topic, m));
    const targetA = new Collect('asc');
    const targetB = new Collect('asc');
    const engineA = new ShadowEngine({ config, bus: rii.bus, clock, routing: rii, targets: [targetA] });
    const engineB = new ShadowEngine({ config, bus: busB, clock, routing: rii, targets: [targetB] });
    const statsA: unknown[] = [];
    const statsB: unknown[] = [];
    rii.bus.subscribe(trafficStatsTopic('prod'), (m) => statsA.push(m));
    busB.subscribe(trafficStatsTopic('prod'), (m) => statsB.push(m));
    const feedA = new FlowFeed(engineA);
    const feedB = new FlowFeed(engineB);
    // Every flow becomes packets for A. B's answer is kept: the directions it leaves out reach B as counts at the
    // flow's first packet, the others as packets.
    const asCounts = new Map<number, { record: FlowRecord | null; needed: number }>();
    const emulator = new Emulator({
      config,
      clock,
      rii,
      materialize: {
        mode: 'select',
        wants: (f) => {
          const needed = feedB.wants(f);
          if (needed !== FlowDirection.BOTH) {
            const record = Object.assign(new FlowRecord(), f, { addresses6: f.addresses6.slice() });
            if (needed & FlowDirection.TO_SERVER) record.packetsToServer = record.bytesToServer = 0;
            if (needed & FlowDirection.TO_CLIENT) record.packetsToClient = record.bytesToClient = 0;
            asCounts.set(f.id, { record, needed });
          }
          return FlowDirection.BOTH;
        },
      },
      reuseFrameMemory: true,
      onFrame: (frame, t, flow, toServer) => {
        feedA.frame(flow.vnet, frame, t, toServer);
        const c = asCounts.get(flow.id);
        if (c === undefined) return feedB.frame(flow.vnet, frame, t, toServer);
        if (c.record !== null) {
          feedB.flow(c.record);
          c.record = null;
        }
        if (c.needed & (toServer ? FlowDirection.TO_SERVER : FlowDirection.TO_CLIENT)) feedB.frame(flow.vnet, frame, t, toServer);
      },
    });
    try {
      await emulator.start({ waitEstablished: true });
      for (let i = 0; i < 300 && rii.stats().prefixes < emulator.fleet.initialAnnouncements(); i++) await new Promise((r) => setTimeout(r, 10));
      engineA.start();
      engineB.start();
      for (let s = 0; s < 48; s++) {
        clock.advance(emulator.stepMs);
        // Routing changes travel over TCP: give them turns of the event loop.
        for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
        emulator.step();
        feedA.flush();
        feedB.flush();
      }
    } finally {
      await emulator.stop();
      await engineA.stop();
      await engineB.stop();
      await rii.stop();
    }
    const a = engineA.stats();
    const b = engineB.stats();
    // B really took flows (and directions of flows) as counts.
    expect(engineA.counters.flowsCounted).toBe(0);
    expect(engineB.counters.flowsCounted).toBeGreaterThan(emulator.counters.flows / 10);
    expect(engineB.counters.packetsCounted).toBeGreaterThan(engineB.counters.packets / 10);
    expect(engineB.counters.packets).toBe(engineA.counters.packets);
    expect(engineB.counters.bytes).toBe(engineA.counters.bytes);
    expect(engineA.counters.packets).toBe(emulator.counters.materializedPackets);
    // Every kind of session copied something, and the budget shed.
    const copied = Object.fromEntries(a.sessions.map((s) => [s.name, s.copied]));
    for (const name of ['threat-intel', 'hijacker', 'critical', 'fresh', 'dns-but-not-api']) expect(copied[name], name).toBeGreaterThan(0);
    expect(a.sessions.some((s) => Object.keys(s.shed).length > 0)).toBe(true);
    // Identical results.
    expect(b.sessions).toEqual(a.sessions);
    expect(targetB.copies).toEqual(targetA.copies);
    expect(targetB.stats).toEqual(targetA.stats);
    expect(statsA.length).toBeGreaterThanOrEqual(16);
    expect(statsB).toEqual(statsA);
  });
});

describe('flows as counts, IPv4 and IPv6, across statistics intervals', () => {
  const small = parseConfig(`
vnets:
  - name: prod
    cidrs: [10.0.0.0/8, 2001:db8::/32]
shadow:
  statsInterval: 10
  targets: [{ name: asc, type: bus }]
  sessions:
    - { name: v6-tls-requests, vnet: prod, priority: 10, target: asc, truncate: 200, rules: [{ action: accept, protocol: tcp, destination: [2001:db8:2::/48], destinationPorts: 443 }] }
    - { name: v4-dns-answers, vnet: prod, priority: 20, target: asc, sample: { oneIn: 2 }, rules: [{ action: accept, protocol: udp, sourcePorts: 53 }] }
log: { level: silent }
`);
  const START = Date.parse('2026-01-05T00:00:00Z');
  const kinds = ['dns', 'http', 'tls', 'ssh'] as const;
  const flows = Array.from({ length: 240 }, (_, n) => {
    const v6 = Math.floor(n / 4) % 2 === 1;
    const kind = kinds[n % 4];
    return flowFor(kind, {
      id: n + 1,
      vnet: 'prod',
      client: v6 ? `2001:db8:1::${(n + 10).toString(16)}` : `10.1.0.${n + 10}`,
      clientPort: 40000 + n,
      server: v6 ? '2001:db8:2::5' : '10.2.0.5',
      serverPort: kind === 'dns' ? 53 : kind === 'http' ? 80 : kind === 'ssh' ? 22 : 443,
      hostname: 'shop.example.org',
      start: START + n * 250 + (n % 7) * 13,
      seed: 500 + n,
    });
  });

  it('counts exactly what the packets would have counted', async () => {
    const run = async (asCounts: boolean) => {
      const clock = new SimulatedClock(START);
      const bus = new InProcessBus();
      const target = new Collect('asc');
      const engine = new ShadowEngine({ config: small, bus, clock, targets: [target] });
      const stats: unknown[] = [];
      bus.subscribe(trafficStatsTopic('prod'), (m) => stats.push(m));
      engine.start();
      const feed = new FlowFeed(engine);
      // Everything the engine is given, in time order: frames, and (first at equal times) flows as counts.
      const events: { t: number; k: number; frame?: Uint8Array; toServer?: boolean; record?: FlowRecord }[] = [];
      let k = 0;
      for (const f of flows) {
        let needed: number = FlowDirection.BOTH;
        if (asCounts) {
          const r = new FlowRecord();
          r.id = f.id;
          r.vnet = f.vnet;
          r.setAddresses(parseAddress(f.client), parseAddress(f.server));
          r.clientPort = f.clientPort;
          r.serverPort = f.serverPort;
          r.protocol = f.protocol;
          r.startMs = f.start;
          r.endMs = f.start + f.duration;
          r.packetsToServer = f.packetsToServer;
          r.bytesToServer = f.bytesToServer;
          r.packetsToClient = f.packetsToClient;
          r.bytesToClient = f.bytesToClient;
          needed = feed.wants(r);
          if (needed & FlowDirection.TO_SERVER) r.packetsToServer = r.bytesToServer = 0;
          if (needed & FlowDirection.TO_CLIENT) r.packetsToClient = r.bytesToClient = 0;
          if (needed !== FlowDirection.BOTH) events.push({ t: f.start, k: -1, record: r });
        }
        if (needed !== FlowDirection.NONE) materializeFlow(f, (frame, t, toServer) => events.push({ t, k: k++, frame: frame.slice(), toServer }), needed);
      }
      events.sort((a, b) => a.t - b.t || a.k - b.k);
      for (const e of events) {
        if (e.record) feed.flow(e.record);
        else feed.frame('prod', e.frame!, e.t, e.toServer!);
      }
      feed.flush();
      await engine.stop();
      return { engine: engine.stats(), copies: target.copies, stats };
    };
    const packets = await run(false);
    const counts = await run(true);
    expect(packets.engine.engine.packetsCounted).toBe(0);
    expect(counts.engine.engine.flowsCounted).toBeGreaterThan(100);
    expect(counts.engine.engine.packets).toBe(packets.engine.engine.packets);
    expect(counts.engine.engine.bytes).toBe(packets.engine.engine.bytes);
    for (const s of packets.engine.sessions) expect(s.copied, s.name).toBeGreaterThan(0);
    expect(counts.engine.sessions).toEqual(packets.engine.sessions);
    expect(counts.copies).toEqual(packets.copies);
    expect(packets.stats.length).toBeGreaterThanOrEqual(6);
    expect(counts.stats).toEqual(packets.stats);
  });
});

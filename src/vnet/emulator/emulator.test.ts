import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FlowDirection, FlowRecord, InProcessBus, SimulatedClock, parseAddress, parsePrefix, addressInPrefix, routeEventTopic, type Prefix } from '../../core/index.js';
import type { RoutingInterceptor } from '../../routing/index.js';
import { parseConfig } from '../config.js';
import { Emulator } from './emulator.js';

const config = parseConfig(`
substrate:
  hosts: [{ name: gw }, { name: h1 }]
  links: [{ a: gw, b: h1, capacity: 10Gbps, latency: 1ms }]
vnets:
  - name: prod
    vni: 1001
    cidrs: [10.0.0.0/8]
    routers:
      - { name: vr1, asn: 65000, routerId: 10.255.0.1, host: gw, listen: { address: 127.0.0.1, port: 1179 }, peers: [{ address: 127.0.0.2, asn: 65001 }] }
    subnets: [{ name: edge, cidr: 10.1.0.0/24 }]
    nodes:
      - { name: lb1, host: h1, address: 10.1.0.11, subnet: edge, appliance: { router: vr1, asn: 65001, bgpAddress: 127.0.0.2 } }
      - { name: web1, host: h1, address: 10.1.0.21, subnet: edge, apps: [shop] }
    applications:
      - { name: shop, kind: web, protocol: http, port: 80, prefix: 10.10.0.0/16, clients: [10.200.0.0/16], requestsPerSecond: 20 }
emulation: { seed: 3, start: 2026-01-05T00:00:00Z, step: 10 }
`);

/** An RII stand-in: a table the test edits, and the bus its changes are published on. */
function fakeRii() {
  const bus = new InProcessBus();
  const routes = new Map<string, { prefix: Prefix; nextHop: string }>();
  const rii = {
    bus,
    rib: () => ({
      lookup: (address: string) => {
        const a = parseAddress(address);
        let best: { prefix: Prefix; nextHop: string } | undefined;
        for (const r of routes.values()) if (addressInPrefix(r.prefix, a) && (!best || r.prefix.length > best.prefix.length)) best = r;
        return best && { prefix: best.prefix, ecmp: [{ attributes: { nextHop: best.nextHop } }] };
      },
    }),
  } as unknown as RoutingInterceptor;
  const changed = (prefix: string) => bus.publish(routeEventTopic('prod'), { type: 'best-path-change', vnet: 'prod', prefix });
  return {
    rii,
    announce: (prefix: string, nextHop: string) => (routes.set(prefix, { prefix: parsePrefix(prefix), nextHop }), changed(prefix)),
    withdraw: (prefix: string) => (routes.delete(prefix), changed(prefix)),
  };
}

describe('Emulator.step', () => {
  it('forwards by the routing table as it changes: no route, announced, withdrawn', async () => {
    const t = fakeRii();
    const clock = new SimulatedClock(Date.parse('2026-01-05T00:00:00Z'));
    const emu = new Emulator({ config, clock, rii: t.rii });
    const noRoute = () => emu.counters.droppedFlows['no-route'] ?? 0;
    const run = () => {
      const before = { flows: emu.counters.flows, dropped: noRoute() };
      clock.advance(10_000);
      emu.step();
      return { flows: emu.counters.flows - before.flows, dropped: noRoute() - before.dropped };
    };
    let r = run();
    expect(r.flows).toBeGreaterThan(0);
    expect(r.dropped).toBe(r.flows);
    t.announce('10.10.0.0/16', '10.1.0.11');
    r = run();
    expect(r.flows).toBeGreaterThan(0);
    expect(r.dropped).toBe(0);
    t.withdraw('10.10.0.0/16');
    r = run();
    expect(r.dropped).toBe(r.flows);
    await emu.stop();
  });
});

describe('Emulator reuseFrameMemory', () => {
  it('hands onFrame the same bytes, in the same order, as frames kept in fresh memory', async () => {
    const run = async (reuseFrameMemory: boolean) => {
      const t = fakeRii();
      t.announce('10.10.0.0/16', '10.1.0.11');
      const clock = new SimulatedClock(Date.parse('2026-01-05T00:00:00Z'));
      const seen: Uint8Array[] = [];
      const emu = new Emulator({
        config,
        clock,
        rii: t.rii,
        materialize: { mode: 'all' },
        reuseFrameMemory,
        onFrame: (frame) => seen.push(frame.slice()),
      });
      // Three steps: the later ones write over the first one's memory when it is reused.
      for (let s = 0; s < 3; s++) {
        clock.advance(10_000);
        emu.step();
      }
      await emu.stop();
      return { seen, counters: emu.counters };
    };
    const fresh = await run(false);
    const reused = await run(true);
    expect(fresh.seen.length).toBeGreaterThan(3000);
    expect(reused.counters.materializedPackets).toBe(fresh.counters.materializedPackets);
    expect(reused.seen).toEqual(fresh.seen);
  });
});

describe('Emulator materialize: select', () => {
  // The shop's traffic, a DNS service and a port scan (whose packets do not share one five-tuple).
  const scanConfig = parseConfig(`
substrate:
  hosts: [{ name: gw }, { name: h1 }]
  links: [{ a: gw, b: h1, capacity: 10Gbps, latency: 1ms }]
vnets:
  - name: prod
    vni: 1001
    cidrs: [10.0.0.0/8]
    routers:
      - { name: vr1, asn: 65000, routerId: 10.255.0.1, host: gw, listen: { address: 127.0.0.1, port: 1179 }, peers: [{ address: 127.0.0.2, asn: 65001 }] }
    subnets: [{ name: edge, cidr: 10.1.0.0/24 }]
    nodes:
      - { name: lb1, host: h1, address: 10.1.0.11, subnet: edge, appliance: { router: vr1, asn: 65001, bgpAddress: 127.0.0.2 } }
      - { name: web1, host: h1, address: 10.1.0.21, subnet: edge, apps: [shop, dns, admin] }
    applications:
      - { name: shop, kind: web, protocol: tls, port: 443, hostname: shop.example.org, prefix: 10.10.0.0/16, clients: [10.200.0.0/16], requestsPerSecond: 20 }
      - { name: dns, kind: dns, protocol: dns, port: 53, hostname: www.example.org, prefix: 10.11.0.0/16, clients: [10.200.0.0/16], requestsPerSecond: 10 }
      - { name: admin, kind: api, protocol: ssh, port: 22, prefix: 10.12.0.0/16, clients: [10.200.0.0/16], requestsPerSecond: 2 }
emulation:
  seed: 5
  start: 2026-01-05T00:00:00Z
  step: 10
  attacks:
    - { kind: port-scan, vnet: prod, at: 10s, duration: 20s, source: 10.200.66.6, target: 10.10.0.0/28, rate: 20 }
`);

  type Seen = { kind: string; client: string; server: string; cp: number; sp: number; proto: number; ps: number; bs: number; pc: number; bc: number; start: number; hs: ReturnType<typeof createHash>; hc: ReturnType<typeof createHash> };
  const run = async (materialize: 'all' | 'select') => {
    const t = fakeRii();
    for (const p of ['10.10.0.0/16', '10.11.0.0/16', '10.12.0.0/16']) t.announce(p, '10.1.0.11');
    const clock = new SimulatedClock(Date.parse('2026-01-05T00:00:00Z'));
    // Per flow id: the frames that reached the consumer (counts, a digest of the bytes per direction) and the five-tuple.
    const perFlow = new Map<number, Seen>();
    const offered = new Map<number, FlowRecord>();
    const counted: FlowRecord[] = [];
    // Times of what reached the consumer, step by step.
    const times: number[][] = [];
    const emu = new Emulator({
      config: scanConfig,
      clock,
      rii: t.rii,
      // Select: by flow id, no direction, the client's, the server's or both become packets.
      materialize:
        materialize === 'all'
          ? { mode: 'all' }
          : {
              mode: 'select',
              wants: (f) => {
                offered.set(f.id, Object.assign(new FlowRecord(), f));
                return f.id % 4;
              },
            },
      onFrame: (frame, time, flow, toServer) => {
        times.at(-1)!.push(time);
        let e = perFlow.get(flow.id);
        if (!e)
          perFlow.set(
            flow.id,
            (e = { kind: flow.kind, client: flow.client, server: flow.server, cp: flow.clientPort, sp: flow.serverPort, proto: flow.protocol, ps: 0, bs: 0, pc: 0, bc: 0, start: time, hs: createHash('sha1'), hc: createHash('sha1') }),
          );
        if (toServer) {
          e.ps++;
          e.bs += frame.length;
          e.hs.update(frame);
        } else {
          e.pc++;
          e.bc += frame.length;
          e.hc.update(frame);
        }
      },
      onFlow: (f) => {
        times.at(-1)!.push(f.startMs);
        counted.push(Object.assign(new FlowRecord(), f));
      },
    });
    for (let s = 0; s < 4; s++) {
      clock.advance(10_000);
      times.push([]);
      emu.step();
    }
    await emu.stop();
    const digests = new Map([...perFlow].map(([id, e]) => [id, { ...e, hs: e.ps > 0 ? e.hs.digest('hex') : '', hc: e.pc > 0 ? e.hc.digest('hex') : '' }]));
    return { perFlow: digests, offered, counted, times, counters: { ...emu.counters } };
  };

  it('builds only the directions the consumer wants, the same bytes as ever, and gives the rest as exact counts in time order', async () => {
    const all = await run('all');
    const sel = await run('select');
    const ip = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    expect(all.counters.countedFlows).toBe(0);
    expect(sel.counters.flows).toBe(all.counters.flows);
    // Nothing lost: every delivered packet came as a frame or as a count.
    expect(sel.counters.countedPackets).toBeGreaterThan(1000);
    expect(sel.counters.materializedPackets + sel.counters.countedPackets).toBe(all.counters.materializedPackets);
    const none = [...sel.offered.values()].filter((f) => f.id % 4 === 0).length;
    expect(sel.counters.materializedFlows + none).toBe(all.counters.materializedFlows);
    // A scan is never offered, and comes as packets.
    const scans = [...all.perFlow].filter(([, e]) => e.kind === 'port-scan').map(([id]) => id);
    expect(scans.length).toBeGreaterThan(0);
    for (const id of scans) {
      expect(sel.offered.has(id)).toBe(false);
      expect(sel.perFlow.get(id)).toEqual(all.perFlow.get(id));
    }
    // Every kind of conversation was cut by direction.
    const kinds = new Set([...sel.offered.values()].filter((f) => f.id % 4 === 1 || f.id % 4 === 2).map((f) => all.perFlow.get(f.id)!.kind));
    expect([...kinds].sort()).toEqual(['dns', 'ssh', 'tls']);
    // The directions wanted came as the same frames (bytes, TCP sequence and ACK numbers, times); the others as the flow's counts.
    const byId = new Map(sel.counted.map((f) => [f.id, f]));
    for (const [id, f] of sel.offered) {
      const e = all.perFlow.get(id)!;
      const d = id % 4;
      const got = sel.perFlow.get(id);
      const rec = byId.get(id);
      const toServer = (d & FlowDirection.TO_SERVER) !== 0;
      const toClient = (d & FlowDirection.TO_CLIENT) !== 0;
      expect({ ps: got?.ps ?? 0, bs: got?.bs ?? 0, hs: got?.hs ?? '' }).toEqual(toServer ? { ps: e.ps, bs: e.bs, hs: e.hs } : { ps: 0, bs: 0, hs: '' });
      expect({ pc: got?.pc ?? 0, bc: got?.bc ?? 0, hc: got?.hc ?? '' }).toEqual(toClient ? { pc: e.pc, bc: e.bc, hc: e.hc } : { pc: 0, bc: 0, hc: '' });
      expect(rec === undefined).toBe(d === FlowDirection.BOTH);
      if (rec) {
        expect({ ps: rec.packetsToServer, bs: rec.bytesToServer, pc: rec.packetsToClient, bc: rec.bytesToClient }).toEqual({
          ps: toServer ? 0 : e.ps,
          bs: toServer ? 0 : e.bs,
          pc: toClient ? 0 : e.pc,
          bc: toClient ? 0 : e.bc,
        });
        expect({ vnet: rec.vnet, client: ip(rec.client4), server: ip(rec.server4), cp: rec.clientPort, sp: rec.serverPort, proto: rec.protocol, start: rec.startMs }).toEqual({
          vnet: 'prod', client: e.client, server: e.server, cp: e.cp, sp: e.sp, proto: e.proto, start: e.start,
        });
      }
      expect(f.endMs).toBeGreaterThanOrEqual(f.startMs);
    }
    // Flows as counts come among the frames by start time, within each step.
    for (const step of sel.times) {
      expect(step.length).toBeGreaterThan(0);
      for (let i = 1; i < step.length; i++) expect(step[i]).toBeGreaterThanOrEqual(step[i - 1]);
    }
  });
});

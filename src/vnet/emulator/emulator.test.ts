import { describe, expect, it } from 'vitest';
import { InProcessBus, SimulatedClock, parseAddress, parsePrefix, addressInPrefix, routeEventTopic, type Prefix } from '../../core/index.js';
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

import { describe, expect, it } from 'vitest';
import { addressInPrefix, parseAddress, parsePrefix, type Prefix } from '../../core/index.js';
import { parseConfig } from '../config.js';
import { INTERNET, OverlayForwarder, type RouteLookupResult } from './forwarding.js';
import { Substrate } from './topology.js';
import type { Flow } from './types.js';

const config = parseConfig(`
substrate:
  hosts: [{ name: gw }, { name: h1 }, { name: h2 }, { name: h3 }]
  links:
    - { a: gw, b: h1, capacity: 1Mbps, latency: 1ms }
    - { a: gw, b: h2, capacity: 10Gbps, latency: 1ms }
    - { a: h1, b: h2, capacity: 10Gbps, latency: 5ms }
    - { a: gw, b: h3, capacity: 10Gbps, latency: 1ms }
vnets:
  - name: prod
    vni: 1001
    cidrs: [10.0.0.0/8]
    routers:
      - name: vr1
        asn: 65000
        routerId: 10.255.0.1
        host: gw
        listen: { address: 127.0.0.1, port: 1179 }
        peers: [{ address: 127.0.0.2, asn: 65001 }, { address: 127.0.0.3, asn: 65001 }, { address: 127.0.0.4, asn: 65001 }]
    subnets: [{ name: edge, cidr: 10.1.0.0/24 }, { name: data, cidr: 10.1.3.0/24 }]
    nodes:
      - { name: lb1, host: h1, address: 10.1.0.11, subnet: edge, appliance: { router: vr1, asn: 65001, bgpAddress: 127.0.0.2 } }
      - { name: lb2, host: h2, address: 10.1.0.12, subnet: edge, appliance: { router: vr1, asn: 65001, bgpAddress: 127.0.0.3 } }
      - { name: lb3, host: h3, address: 10.1.0.13, subnet: edge, appliance: { router: vr1, asn: 65001, bgpAddress: 127.0.0.4 } }
      - { name: web1, host: h1, address: 10.1.0.21, subnet: edge, apps: [shop] }
      - { name: db1, host: h3, address: 10.1.3.31, subnet: data, apps: [db] }
    applications:
      - { name: shop, kind: web, protocol: http, port: 80, prefix: 10.10.0.0/16, clients: [0.0.0.0/0], requestsPerSecond: 1 }
      - { name: db, kind: database, protocol: bulk, port: 5432, clients: [10.1.0.0/24], requestsPerSecond: 1 }
`);

/** A routing table the test edits: longest prefix match over it, as the RII's VnetRib answers. */
function table() {
  const routes = new Map<string, { prefix: Prefix; nextHops: string[] }>();
  const lookup = (vnet: string, address: string): RouteLookupResult | null => {
    if (vnet !== 'prod') return null;
    const a = parseAddress(address);
    let best: { prefix: Prefix; nextHops: string[] } | null = null;
    for (const r of routes.values())
      if (addressInPrefix(r.prefix, a) && (!best || r.prefix.length > best.prefix.length)) best = r;
    return best && { nextHops: best.nextHops, prefixLength: best.prefix.length };
  };
  const set = (prefix: string, nextHops: string[]) =>
    routes.set(prefix, { prefix: parsePrefix(prefix), nextHops });
  const withdraw = (prefix: string) => routes.delete(prefix);
  return { lookup, set, withdraw };
}

let ids = 0;
function flow(over: Partial<Flow> = {}): Flow {
  return {
    id: ++ids,
    kind: 'http',
    vnet: 'prod',
    app: 'shop',
    label: null,
    client: '198.51.100.7',
    clientPort: 40000,
    server: '10.10.0.5',
    serverPort: 80,
    protocol: 6,
    start: 0,
    duration: 100,
    packetsToServer: 5,
    bytesToServer: 500,
    packetsToClient: 5,
    bytesToClient: 4500,
    seed: 1,
    ...over,
  };
}

function setup(substrate = new Substrate(config)) {
  const t = table();
  const fwd = new OverlayForwarder({ config, substrate, lookup: t.lookup });
  substrate.beginStep(10);
  return { ...t, fwd, substrate };
}

const hostPath = (links: readonly { a: string; b: string }[]) => links.map((l) => `${l.a}-${l.b}`);

describe('OverlayForwarder', () => {
  it('delivers to a node on a connected subnet, from the client node’s host, with the network’s VNI', () => {
    const { fwd } = setup();
    const r = fwd.forward(flow({ client: '10.1.0.21', server: '10.1.3.31', serverPort: 5432 }));
    expect(r).toMatchObject({
      ok: true,
      route: 'connected',
      srcHost: 'h1',
      dstHost: 'h3',
      vni: 1001,
      nextHop: '10.1.3.31',
      node: 'db1',
    });
    expect(r.ok && hostPath(r.links)).toEqual(['gw-h1', 'gw-h3']);
  });

  it('follows the routing table for service prefixes; outside clients enter at the router’s host', () => {
    const { fwd, set } = setup();
    set('10.10.0.0/16', ['10.1.0.12']);
    expect(fwd.forward(flow())).toMatchObject({
      ok: true,
      route: 'table',
      srcHost: 'gw',
      dstHost: 'h2',
      nextHop: '10.1.0.12',
      node: 'lb2',
    });
    // A next hop given as the appliance's BGP address resolves to the same node.
    set('10.10.0.0/16', ['127.0.0.3']);
    expect(fwd.forward(flow())).toMatchObject({ ok: true, dstHost: 'h2', nextHop: '127.0.0.3', node: 'lb2' });
  });

  it('drops and counts what no route covers', () => {
    const { fwd } = setup();
    expect(fwd.forward(flow({ server: '10.99.0.1' }))).toEqual({ ok: false, reason: 'no-route' });
    expect(fwd.forward(flow({ vnet: 'nowhere' }))).toEqual({ ok: false, reason: 'no-route' });
    // Inside a subnet but owned by no node, and not in the table.
    expect(fwd.forward(flow({ server: '10.1.3.99' }))).toEqual({ ok: false, reason: 'no-route' });
    expect(fwd.stats().dropped['no-route']).toEqual({ flows: 3, packets: 30, bytes: 15000 });
    expect(fwd.stats().forwarded.flows).toBe(0);
  });

  it('sends unrouted traffic to the Internet out through the gateway host when the network has an Internet gateway', () => {
    const c2 = flow({ client: '10.1.0.21', server: '198.51.100.66', serverPort: 443 });
    // Without one: dropped as no-route.
    expect(setup().fwd.forward(c2)).toEqual({ ok: false, reason: 'no-route' });
    const withGateway = parseConfig(JSON.stringify({ ...config, vnets: config.vnets.map((v) => ({ ...v, internetGateway: true })) }));
    const substrate = new Substrate(withGateway);
    const t = table();
    const fwd = new OverlayForwarder({ config: withGateway, substrate, lookup: t.lookup });
    substrate.beginStep(10);
    const r = fwd.forward(c2);
    expect(r).toMatchObject({ ok: true, route: 'internet', node: INTERNET, srcHost: 'h1', dstHost: 'gw', nextHop: '198.51.100.66', vni: 1001 });
    expect(r.ok && hostPath(r.links)).toEqual(['gw-h1']);
    // An unrouted address inside the network's CIDRs is still dropped; a routed outside one follows the table.
    expect(fwd.forward(flow({ client: '10.1.0.21', server: '10.99.0.1' }))).toEqual({ ok: false, reason: 'no-route' });
    t.set('198.51.100.0/24', ['10.1.0.12']);
    expect(fwd.forward(flow({ client: '10.1.0.21', server: '198.51.100.66' }))).toMatchObject({ ok: true, route: 'table', node: 'lb2' });
  });

  it('reroutes or drops as a withdrawal changes the table', () => {
    const { fwd, set, withdraw } = setup();
    set('10.10.0.0/16', ['10.1.0.11']);
    set('10.10.1.0/24', ['10.1.0.13']);
    const f = flow({ server: '10.10.1.9' });
    expect(fwd.forward(f)).toMatchObject({ ok: true, node: 'lb3', dstHost: 'h3' });
    withdraw('10.10.1.0/24');
    expect(fwd.forward(f)).toMatchObject({ ok: true, node: 'lb1', dstHost: 'h1' });
    withdraw('10.10.0.0/16');
    expect(fwd.forward(f)).toEqual({ ok: false, reason: 'no-route' });
    expect(fwd.stats().forwarded.flows).toBe(2);
    expect(fwd.stats().dropped['no-route'].flows).toBe(1);
  });

  it('counts next hops no node owns, and leaves them out of the equal-cost choice', () => {
    const { fwd, set } = setup();
    set('10.10.0.0/16', ['10.9.9.9']);
    expect(fwd.forward(flow())).toEqual({ ok: false, reason: 'next-hop-unknown' });
    expect(fwd.stats().dropped['next-hop-unknown']).toEqual({ flows: 1, packets: 10, bytes: 5000 });
    set('10.10.0.0/16', ['10.9.9.9', '10.1.0.11']);
    for (let i = 0; i < 50; i++)
      expect(fwd.forward(flow({ clientPort: 1000 + i }))).toMatchObject({ ok: true, node: 'lb1' });
  });

  it('lets a longer table route override a connected subnet (a more-specific announcement)', () => {
    const { fwd, set } = setup();
    set('10.1.3.0/25', ['10.1.0.11']);
    expect(fwd.forward(flow({ server: '10.1.3.31' }))).toMatchObject({
      ok: true,
      route: 'table',
      node: 'lb1',
    });
    set('10.0.0.0/8', ['10.1.0.12']);
    expect(fwd.forward(flow({ server: '10.1.0.21' }))).toMatchObject({
      ok: true,
      route: 'connected',
      node: 'web1',
    });
  });

  it('spreads flows over equal-cost next hops, stable per flow', () => {
    const { fwd, set } = setup();
    set('10.10.0.0/16', ['10.1.0.11', '10.1.0.12']);
    const flows = Array.from({ length: 1000 }, (_, i) =>
      flow({ client: `198.51.${100 + (i % 4)}.${i % 250}`, clientPort: 20000 + i }),
    );
    const first = flows.map((f) => {
      const r = fwd.forward(f);
      return r.ok ? r.node : r.reason;
    });
    const onLb1 = first.filter((n) => n === 'lb1').length;
    expect(first.filter((n) => n !== 'lb1' && n !== 'lb2')).toEqual([]);
    expect(onLb1).toBeGreaterThan(430);
    expect(onLb1).toBeLessThan(570);
    // The same flow again, and the table listing its next hops in another order: same choice.
    set('10.10.0.0/16', ['10.1.0.12', '10.1.0.11']);
    expect(flows.map((f) => fwd.route(f)).map((r) => (r.ok ? r.node : r.reason))).toEqual(first);
  });

  it('moves only the flows of a next hop that goes away', () => {
    const { fwd, set } = setup();
    set('10.10.0.0/16', ['10.1.0.11', '10.1.0.12', '10.1.0.13']);
    const flows = Array.from({ length: 600 }, (_, i) => flow({ clientPort: 10000 + i }));
    const node = (f: Flow) => {
      const r = fwd.route(f);
      return r.ok ? r.node : r.reason;
    };
    const before = flows.map(node);
    for (const n of ['lb1', 'lb2', 'lb3']) expect(before.filter((x) => x === n).length).toBeGreaterThan(120);
    set('10.10.0.0/16', ['10.1.0.11', '10.1.0.12']);
    const after = flows.map(node);
    flows.forEach((_, i) => {
      if (before[i] !== 'lb3') expect(after[i]).toBe(before[i]);
      else expect(['lb1', 'lb2']).toContain(after[i]);
    });
  });

  it('charges the links crossed, and counts flows dropped over capacity', () => {
    // gw–h1 carries 1 Mbit/s: 10 Mbit in a 10 s step. 20 flows of 1 Mbit from outside to lb1 offer twice that.
    const { fwd, set, substrate } = setup();
    set('10.10.0.0/16', ['10.1.0.11']);
    for (let i = 0; i < 20; i++)
      fwd.forward(
        flow({
          clientPort: 30000 + i,
          packetsToServer: 50,
          bytesToServer: 25_000,
          packetsToClient: 50,
          bytesToClient: 100_000,
        }),
      );
    // Traffic within one host costs no link.
    const local = fwd.forward(flow({ client: '10.1.0.21', server: '10.1.0.11', bytesToClient: 1e9 }));
    expect(local).toMatchObject({ ok: true, srcHost: 'h1', dstHost: 'h1', links: [] });
    const report = fwd.endStep();
    expect(report.droppedFlowIds).toHaveLength(10);
    const gwH1 = report.links.find((l) => l.link.a === 'gw' && l.link.b === 'h1')!;
    expect(gwH1).toMatchObject({
      offeredBits: 2e7,
      carriedBits: 1e7,
      droppedBits: 1e7,
      droppedPackets: 1000,
      utilisation: 1,
    });
    expect(substrate.counters(gwH1.link)).toMatchObject({ bitsDropped: 1e7, packetsDropped: 1000 });
    const s = fwd.stats();
    expect(s.dropped.capacity).toEqual({ flows: 10, packets: 1000, bytes: 1_250_000 });
    expect(s.forwarded.flows).toBe(11);
  });

  it('drops flows between hosts the substrate cannot join', () => {
    const cut = new Substrate({
      hosts: config.substrate.hosts,
      links: config.substrate.links.filter((l) => l.b !== 'h3'),
    });
    const { fwd } = setup(cut);
    expect(fwd.forward(flow({ client: '10.1.0.21', server: '10.1.3.31' }))).toEqual({
      ok: false,
      reason: 'host-unreachable',
    });
    expect(fwd.stats().dropped['host-unreachable'].flows).toBe(1);
  });
});

describe('OverlayForwarder.forwardV4 (flows as numbers)', () => {
  const v4 = (text: string) => text.split('.').reduce((n, x) => n * 256 + Number(x), 0);

  it('routes, drops, counts and charges every flow as forward() does with the flow object', () => {
    const a = setup();
    const b = setup();
    for (const s of [a, b]) {
      s.set('10.10.0.0/16', ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
      s.set('10.20.0.0/16', ['127.0.0.99']);
    }
    const cases = [
      ...Array.from({ length: 60 }, (_, i) => flow({ client: `198.51.${i % 7}.${(i * 37) % 256}`, clientPort: 33000 + i * 11 })),
      flow({ client: '10.1.0.21', server: '10.1.3.31', serverPort: 5432 }),
      flow({ client: '10.1.0.11', server: '10.10.4.4' }),
      flow({ server: '10.20.0.1' }),
      flow({ server: '10.99.0.1' }),
      flow({ client: '10.1.3.31', server: '10.1.0.21', bytesToClient: 1e9 }),
    ];
    const nodes = new Set<string>();
    for (const f of cases) {
      const byObject = a.fwd.forward(f);
      const to = b.fwd.routeTo(f.vnet, f.server);
      const reason = b.fwd.forwardV4(to, v4(f.client), f.clientPort, f.serverPort, f.protocol, f.packetsToServer + f.packetsToClient, f.bytesToServer + f.bytesToClient, f.id);
      expect(reason).toBe(byObject.ok ? null : byObject.reason);
      if (byObject.ok) nodes.add(byObject.node);
    }
    // The ECMP flows spread over all three next hops, and both ways agree on each.
    expect([...nodes].sort()).toEqual(['db1', 'lb1', 'lb2', 'lb3', 'web1']);
    expect(b.fwd.stats()).toEqual(a.fwd.stats());
    const ra = a.fwd.endStep();
    const rb = b.fwd.endStep();
    expect(rb.droppedFlowIds).toEqual(ra.droppedFlowIds);
    expect(rb.droppedFlowIds.length).toBeGreaterThan(0);
    expect(rb.links.map((l) => [l.carriedBits, l.carriedPackets, l.droppedFlows])).toEqual(ra.links.map((l) => [l.carriedBits, l.carriedPackets, l.droppedFlows]));
    expect(b.fwd.stats()).toEqual(a.fwd.stats());
  });

  it('pins a flow to the next hop its dotted text hashes to, whatever the digits per octet', () => {
    for (const client of ['1.2.3.4', '10.20.30.40', '100.200.250.255', '0.0.0.0', '255.9.99.100', '198.51.100.7']) {
      for (let port = 40000; port < 40006; port++) {
        const a = setup();
        const b = setup();
        a.set('10.10.0.0/16', ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
        b.set('10.10.0.0/16', ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
        const f = flow({ client, clientPort: port });
        a.fwd.forward(f);
        b.fwd.forwardV4(b.fwd.routeTo('prod', f.server), v4(client), port, 80, 6, 10, 5000, f.id);
        // The chosen next hop shows in which link from the gateway carried the bits.
        expect(b.fwd.endStep().links.map((l) => l.offeredBits)).toEqual(a.fwd.endStep().links.map((l) => l.offeredBits));
      }
    }
  });

});

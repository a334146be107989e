/**
 * The emulated network end to end: the same seed gives the same packets,
 * routes, load and labels; the packets are real (tshark decodes the names
 * configured); the routing is MRT that bgpdump reads; attack labels match the
 * packets and routes that realise them; link capacity is honoured; and
 * forwarding follows the routing table the RII builds from the appliances'
 * BGP sessions.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../src/core/index.js';
import { RoutingInterceptor } from '../src/routing/index.js';
import { parseConfig } from '../src/vnet/index.js';
import { emulate } from '../src/cli/commands/emulate.js';
import { ApplianceFleet } from '../src/vnet/emulator/appliances.js';
import { OverlayForwarder } from '../src/vnet/emulator/forwarding.js';
import { Substrate } from '../src/vnet/emulator/topology.js';
import type { AttackLabel, Flow } from '../src/vnet/emulator/types.js';
import { requireTshark, tsharkFields } from './helpers/tshark.js';
import { waitFor } from '../src/routing/session/test-support.js';

const yaml = (port: number, opts: { capacity?: string } = {}) => `
substrate:
  hosts: [{ name: gw }, { name: h1 }, { name: h2 }]
  links:
    - { a: h1, b: gw, capacity: ${opts.capacity ?? '10Gbps'} }
    - { a: h2, b: gw, capacity: ${opts.capacity ?? '10Gbps'} }
vnets:
  - name: prod
    vni: 1001
    cidrs: [10.0.0.0/8]
    routers:
      - name: vr1
        asn: 65000
        routerId: 10.255.0.1
        listen: { address: 127.0.0.1, port: ${port} }
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
      - { name: shop, kind: web, protocol: tls, port: 443, hostname: shop.example.org, prefix: 10.10.0.0/16, clients: [10.200.0.0/16], requestsPerSecond: 3 }
      - { name: api, kind: api, protocol: http, port: 80, hostname: api.example.org, prefix: 10.20.0.0/16, clients: [10.1.1.0/24], requestsPerSecond: 2 }
      - { name: dns, kind: dns, protocol: dns, port: 53, hostname: www.example.org, clients: [10.1.1.0/24], requestsPerSecond: 2 }
emulation:
  seed: 3
  start: 2026-01-05T00:00:00Z
  step: 10
  threatList: [198.51.100.66/32]
  script:
    - { at: 4m, action: failover, vnet: prod, node: lb-1, to: lb-2, prefix: 10.20.0.0/16 }
  attacks:
    - { kind: port-scan, vnet: prod, at: 1m, duration: 2m, source: 10.200.66.6, target: 10.1.1.0/28, rate: 20 }
    - { kind: prefix-hijack, vnet: prod, at: 3m, duration: 2m, node: rogue-1, prefix: 10.10.1.0/24 }
log: { level: silent }
`;

const dir = mkdtempSync(join(tmpdir(), 'shadownet-emulator-'));
function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
const run = (cfg: string, out: string, seed?: string) =>
  emulate({ config: cfg, days: String(8 / 1440), out: join(dir, out), pcap: 'all', sampleOneIn: '1', seed }, () => undefined);

describe('shadownet emulate', () => {
  const cfg = write('emu.yaml', yaml(25150));
  let summary: Record<string, unknown>;
  beforeAll(async () => {
    summary = await run(cfg, 'a');
  }, 120_000);

  it('gives the same packets, routes, load and labels for the same seed, and others for another', async () => {
    await run(cfg, 'b');
    await run(cfg, 'c', '4');
    for (const f of ['packets.pcap', 'routing.mrt', 'applications.csv', 'labels.json'])
      expect(readFileSync(join(dir, 'b', f)).equals(readFileSync(join(dir, 'a', f))), f).toBe(true);
    expect(readFileSync(join(dir, 'c', 'packets.pcap')).equals(readFileSync(join(dir, 'a', 'packets.pcap')))).toBe(false);
    expect(summary.flows).toBeGreaterThan(1000);
    expect(summary.unmaterializable).toBe(0);
  }, 120_000);

  it.skipIf(!requireTshark())('writes real packets: tshark reads the configured names', () => {
    const pcap = join(dir, 'a', 'packets.pcap');
    const names = (field: string) => new Set(tsharkFields(pcap, [field], { filter: field }).map((r) => r[0]));
    expect(names('tls.handshake.extensions_server_name')).toEqual(new Set(['shop.example.org']));
    expect(names('http.host')).toEqual(new Set(['api.example.org']));
    expect(names('dns.qry.name')).toEqual(new Set(['www.example.org']));
    const frames = tsharkFields(pcap, ['frame.number']);
    expect(frames.length).toBe(summary.materializedPackets);
  });

  it.skipIf(!requireTshark())('cuts packets to --snaplen as tcpdump -s does, keeping each packet\'s wire length', async () => {
    const cut = await emulate({ config: cfg, days: String(8 / 1440), out: join(dir, 'snap'), pcap: 'all', sampleOneIn: '1', snaplen: '96' }, () => undefined);
    expect(cut.materializedPackets).toBe(summary.materializedPackets);
    const whole = tsharkFields(join(dir, 'a', 'packets.pcap'), ['frame.len', 'frame.cap_len']);
    const short = tsharkFields(join(dir, 'snap', 'packets.pcap'), ['frame.len', 'frame.cap_len']);
    expect(short.length).toBe(whole.length);
    expect(short.map((r) => r[0])).toEqual(whole.map((r) => r[0]));
    expect(short.every((r) => Number(r[1]) === Math.min(96, Number(r[0])))).toBe(true);
    expect(short.some((r) => Number(r[0]) > 96)).toBe(true);
    await expect(emulate({ config: cfg, days: '1', out: join(dir, 'bad'), pcap: 'all', sampleOneIn: '1', snaplen: '0' }, () => undefined)).rejects.toThrow(/snaplen/);
  }, 120_000);

  it('records the routing as MRT that bgpdump reads, hijack included', () => {
    const r = spawnSync('bgpdump', ['-m', join(dir, 'a', 'routing.mrt')], { encoding: 'utf8' });
    if (r.error) return; // bgpdump missing: the MRT writer's own tests cover the format
    const labels = JSON.parse(readFileSync(join(dir, 'a', 'labels.json'), 'utf8')) as AttackLabel[];
    const hijack = labels.find((l) => l.kind === 'prefix-hijack')!;
    const lines = r.stdout.trim().split('\n');
    expect(lines.some((l) => /\|A\|127\.0\.0\.2\|65001\|10\.10\.0\.0\/16\|65001\|IGP\|10\.1\.0\.11\|/.test(l))).toBe(true);
    const announce = lines.find((l) => l.includes('|A|127.0.0.4|65066|10.10.1.0/24|'))!;
    const withdraw = lines.find((l) => l.includes('|W|127.0.0.4|65066|10.10.1.0/24'))!;
    expect(Number(announce.split('|')[1]) * 1000).toBe(hijack.start);
    expect(Number(withdraw.split('|')[1]) * 1000).toBe(hijack.end);
    // The failover: lb-1 withdraws 10.20.0.0/16 and lb-2 announces it, at 4 minutes.
    const t0 = Date.parse('2026-01-05T00:00:00Z') / 1000;
    expect(lines).toContain(`BGP4MP|${t0 + 240}|W|127.0.0.2|65001|10.20.0.0/16`);
    expect(lines.some((l) => l.startsWith(`BGP4MP|${t0 + 240}|A|127.0.0.3|65001|10.20.0.0/16|`))).toBe(true);
  });

  it.skipIf(!requireTshark())('labels match the packets that realise the attack', () => {
    const labels = JSON.parse(readFileSync(join(dir, 'a', 'labels.json'), 'utf8')) as AttackLabel[];
    const scan = labels.find((l) => l.kind === 'port-scan')!;
    expect(scan.hosts).toContain('10.200.66.6');
    const times = tsharkFields(join(dir, 'a', 'packets.pcap'), ['frame.time_epoch'], { filter: 'ip.src==10.200.66.6' }).map((r) => Number(r[0]) * 1000);
    expect(times.length).toBeGreaterThan(100);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(scan.start);
    expect(Math.max(...times)).toBeLessThanOrEqual(scan.end);
  });

  it('honours link capacity: traffic beyond it is dropped and counted', async () => {
    const small = write('small.yaml', yaml(25160, { capacity: '200kbps' }));
    const s = await emulate({ config: small, days: String(3 / 1440), out: join(dir, 'small'), pcap: 'none', sampleOneIn: '1' }, () => undefined);
    expect((s.droppedFlows as Record<string, number>).capacity).toBeGreaterThan(0);
    expect((summary.droppedFlows as Record<string, number>).capacity ?? 0).toBe(0);
  }, 120_000);
});

describe('forwarding follows the routing table the appliances build', () => {
  const config = parseConfig(yaml(25170));
  const clock = new RealClock();
  const rii = new RoutingInterceptor({ config, clock });
  const fleet = new ApplianceFleet({ config, clock });
  const substrate = new Substrate(config);
  const forwarder = new OverlayForwarder({
    config,
    substrate,
    lookup: (vnet, address) => {
      const e = rii.rib(vnet).lookup(address);
      return e ? { nextHops: e.ecmp.map((p) => p.attributes.nextHop!).filter(Boolean), prefixLength: e.prefix.length } : null;
    },
  });
  let id = 0;
  const flow = (server: string, clientPort: number): Flow => ({
    id: ++id,
    kind: 'http',
    vnet: 'prod',
    app: null,
    label: null,
    client: '10.200.1.1',
    clientPort,
    server,
    serverPort: 80,
    protocol: 6,
    start: 0,
    duration: 1,
    packetsToServer: 4,
    bytesToServer: 300,
    packetsToClient: 4,
    bytesToClient: 300,
    seed: id,
  });
  beforeAll(async () => {
    await rii.start();
    await fleet.start();
    await fleet.waitEstablished();
    await waitFor(() => rii.stats().prefixes === 2 && rii.routes({ prefix: '10.10.0.0/16' })[0]?.ecmp === 2, 'initial routes with ECMP');
  });
  afterAll(async () => {
    await fleet.stop();
    await rii.stop();
  });

  it('spreads flows over equal-cost appliances, and moves them when the route moves', async () => {
    const nodes = new Map<string, number>();
    for (let p = 1; p <= 1000; p++) {
      const r = forwarder.route(flow('10.10.0.10', 10000 + p));
      if (!r.ok) throw new Error(r.reason);
      nodes.set(r.node, (nodes.get(r.node) ?? 0) + 1);
    }
    expect([...nodes.keys()].sort()).toEqual(['lb-1', 'lb-2']);
    expect(Math.min(...nodes.values())).toBeGreaterThan(400);

    const api = flow('10.20.0.10', 5000);
    expect(forwarder.route(api)).toMatchObject({ ok: true, node: 'lb-1', dstHost: 'h1' });
    await fleet.announce('prod', 'lb-2', '10.20.0.0/16');
    fleet.withdraw('prod', 'lb-1', '10.20.0.0/16');
    await waitFor(() => rii.routes({ prefix: '10.20.0.0/16' })[0]?.best.peer === '127.0.0.3', 'failover in the RII');
    expect(forwarder.route(api)).toMatchObject({ ok: true, node: 'lb-2', dstHost: 'h2' });
    fleet.withdraw('prod', 'lb-2', '10.20.0.0/16');
    await waitFor(() => rii.routes({ prefix: '10.20.0.0/16' }).length === 0, 'withdrawal in the RII');
    expect(forwarder.route(api)).toEqual({ ok: false, reason: 'no-route' });
  });
});

describe('shadownet emulate --shadow', () => {
  // The mirror sessions: the scanner (on a threat list), traffic to routes announced within a minute (the start, the failover), TLS to the shop cut to 128 bytes.
  const shadowed = (port: number) =>
    yaml(port) +
    `shadow:
  statsInterval: 60
  ipSets: [{ name: threats, entries: [10.200.66.6/32] }]
  targets: [{ name: asc, type: bus }]
  sessions:
    - { name: scanner, vnet: prod, priority: 5, target: asc, rules: [{ action: accept, sourceRoute: { ipSet: threats } }] }
    - { name: fresh, vnet: prod, priority: 8, target: asc, rules: [{ action: accept, destinationRoute: { announcedWithin: 1m } }] }
    - { name: shop-tls, vnet: prod, priority: 10, target: asc, truncate: 128, rules: [{ action: accept, protocol: tcp, destination: [10.10.0.0/16], destinationPorts: 443 }] }
`;
  const cfg = write('shadowed.yaml', shadowed(25190));
  const go = (out: string, pcap: string) =>
    emulate({ config: cfg, days: String(8 / 1440), out: join(dir, out), pcap, sampleOneIn: '1', shadow: true }, () => undefined) as Promise<{
      materializedPackets: number;
      shadow: { engine: { packets: number; packetsCounted: number }; sessions: { name: string; copied: number }[] };
    }>;

  it('copies by the mirror sessions, as exactly with flows as counts as with every packet', async () => {
    // Without a packets file the engine takes as counts what no session copies; with every packet written it gets all of them.
    const counts = await go('sh-counts', 'none');
    const packets = await go('sh-packets', 'all');
    expect(packets.shadow.engine.packetsCounted).toBe(0);
    expect(packets.shadow.engine.packets).toBe(packets.materializedPackets);
    expect(counts.shadow.engine.packetsCounted).toBeGreaterThan(counts.shadow.engine.packets / 4);
    expect(counts.materializedPackets).toBeLessThan(packets.materializedPackets);
    expect(counts.shadow.engine.packets).toBe(packets.shadow.engine.packets);
    expect(counts.shadow.sessions).toEqual(packets.shadow.sessions);
    for (const name of ['scanner', 'fresh', 'shop-tls']) expect(counts.shadow.sessions.find((s) => s.name === name)!.copied, name).toBeGreaterThan(0);
    for (const f of ['asc.pcap', 'traffic.jsonl']) expect(readFileSync(join(dir, 'sh-counts', f)).equals(readFileSync(join(dir, 'sh-packets', f))), f).toBe(true);
    const traffic = readFileSync(join(dir, 'sh-counts', 'traffic.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { vnet: string; prefixes: unknown[] });
    expect(traffic.length).toBeGreaterThanOrEqual(8);
    expect(traffic.every((m) => m.vnet === 'prod' && m.prefixes.length > 0)).toBe(true);
    if (requireTshark()) {
      const copies = tsharkFields(join(dir, 'sh-counts', 'asc.pcap'), ['ip.src', 'tcp.dstport', 'frame.cap_len']);
      expect(copies.length).toBe(counts.shadow.sessions.reduce((n, s) => n + s.copied, 0));
      expect(copies.filter((r) => r[0] === '10.200.66.6').length).toBe(counts.shadow.sessions.find((s) => s.name === 'scanner')!.copied);
    }
  }, 120_000);
});

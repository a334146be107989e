/**
 * Routing appliances over real BGP: the emulator's appliance nodes connect to
 * a RoutingInterceptor's virtual router over loopback TCP, announce what
 * their config says, and a script on a simulated clock moves prefixes around
 * and runs a prefix hijack and a route leak. What they send must come out of
 * the RII's routing table, and the MRT recording must read back in bgpdump.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock, SimulatedClock } from '../src/core/index.js';
import { RoutingInterceptor } from '../src/routing/index.js';
import { MrtWriter } from '../src/routing/mrt/writer.js';
import { waitFor } from '../src/routing/session/test-support.js';
import { parseConfig } from '../src/vnet/index.js';
import { ApplianceError, ApplianceFleet, type ApplianceEvent } from '../src/vnet/emulator/appliances.js';
import { AttackPlan } from '../src/vnet/emulator/attacks.js';
import { ScriptRunner, type ScriptAction } from '../src/vnet/emulator/script.js';

const PORT = 25001;
const BGPDUMP = '/usr/bin/bgpdump';
const START = Date.UTC(2026, 0, 5);
const MIN = 60_000;

const config = parseConfig(`
substrate:
  hosts: [{ name: h1 }, { name: h2 }]
  links: [{ a: h1, b: h2, capacity: 10Gbps }]
vnets:
  - name: prod
    vni: 1001
    cidrs: [10.0.0.0/8, 2001:db8::/32]
    routers:
      - name: vr1
        asn: 65000
        routerId: 10.255.0.1
        host: h1
        listen: { address: 127.0.0.1, port: ${PORT} }
        peers:
          - { address: 127.0.0.2, asn: 65010 }
          - { address: 127.0.0.3, asn: 65020 }
    nodes:
      - name: lb-a
        host: h1
        address: 10.1.0.10
        appliance:
          router: vr1
          asn: 65010
          bgpAddress: 127.0.0.2
          announce: [10.20.0.0/16, 2001:db8:20::/48]
          asPath: [64600]
          communities: ["65010:100"]
      - name: lb-b
        host: h2
        address: 10.1.0.11
        appliance:
          router: vr1
          asn: 65020
          bgpAddress: 127.0.0.3
          announce: [10.30.0.0/16]
emulation:
  script:
    - { at: 1h, action: failover, vnet: prod, node: lb-a, to: lb-b, prefix: 10.20.0.0/16 }
    - { at: "1h30m", action: announce, vnet: prod, node: lb-a, prefix: 10.21.0.0/16 }
  attacks:
    - { kind: prefix-hijack, vnet: prod, node: lb-b, prefix: 10.20.5.0/24, at: 30m, duration: 10m }
    - { kind: route-leak, vnet: prod, node: lb-a, prefix: 10.40.0.0/16, asPath: [64700, 64701], at: 2h, duration: 15m }
`);

describe('appliance fleet against the RII over loopback BGP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadownet-appliances-'));
  const mrtFile = join(dir, 'updates.mrt');
  const mrt = new MrtWriter(mrtFile);
  const rii = new RoutingInterceptor({ config });
  const sim = new SimulatedClock(START);
  const events: ApplianceEvent[] = [];
  // Sessions keep real time (keepalives, retries); the emulation's time stamps the MRT records.
  const fleet = new ApplianceFleet({ config, clock: new RealClock(), emulationClock: sim, mrt, onEvent: (e) => events.push(e) });
  const plan = new AttackPlan({ config, startMs: START });
  const actions: ScriptAction[] = [];
  const runner = new ScriptRunner({ config, fleet, clock: sim, startMs: START, attacks: plan, onAction: (a) => actions.push(a) });
  const best = (prefix: string) => rii.routes({ vnet: 'prod', prefix })[0]?.best;

  beforeAll(async () => {
    await rii.start();
    await fleet.start();
    await fleet.waitEstablished();
    await waitFor(() => rii.routes({ vnet: 'prod' }).length === 3, 'the initial announcements in the RII');
    runner.start();
  });
  afterAll(async () => {
    runner.stop();
    await fleet.stop();
    await rii.stop();
    await mrt.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('establishes a session per appliance with the virtual router', () => {
    expect(fleet.established('prod', 'lb-a')).toBe(true);
    expect(fleet.established('lb-b')).toBe(true);
    const peers = rii.peers({ vnet: 'prod' }).map((p) => [p.address, p.state]);
    expect(peers).toEqual([
      ['127.0.0.2', 'established'],
      ['127.0.0.3', 'established'],
    ]);
  });

  it('announces the configured prefixes with AS path, communities and the node as next hop', () => {
    const a = best('10.20.0.0/16')!;
    expect(a.peer).toBe('127.0.0.2');
    expect(a.attributes.asPath).toBe('65010 64600');
    expect(a.attributes.communities).toEqual(['65010:100']);
    expect(a.attributes.nextHop).toBe('10.1.0.10');
    const v6 = best('2001:db8:20::/48')!;
    expect(v6.attributes.asPath).toBe('65010 64600');
    // An IPv4 node address reaches IPv6 routes as a v4-mapped next hop (MP_REACH_NLRI).
    expect(v6.attributes.nextHop).toBe('::ffff:10.1.0.10');
    const b = best('10.30.0.0/16')!;
    expect(b.attributes.asPath).toBe('65020');
    expect(b.attributes.nextHop).toBe('10.1.0.11');
    expect(b.attributes.communities).toBeUndefined();
  });

  it('runs a prefix hijack: a more-specific from the rogue node for the label window', async () => {
    const label = plan.labels.find((l) => l.kind === 'prefix-hijack')!;
    expect(label.start).toBe(START + 30 * MIN);
    expect(label.end).toBe(START + 40 * MIN);
    expect(label.prefixes).toEqual(['10.20.5.0/24']);
    expect(label.hosts).toEqual(['10.1.0.11']);

    sim.advanceTo(START + 30 * MIN - 1);
    expect(actions).toEqual([]);
    sim.advanceTo(START + 30 * MIN);
    await waitFor(() => best('10.20.5.0/24') !== undefined, 'the hijacked more-specific');
    const h = best('10.20.5.0/24')!;
    expect([h.peer, h.attributes.asPath, h.attributes.nextHop]).toEqual(['127.0.0.3', '65020', '10.1.0.11']);
    // Longest match now sends the victim's addresses to the rogue node.
    expect(rii.routes({ vnet: 'prod', lookup: '10.20.5.7' })[0].best.attributes.nextHop).toBe('10.1.0.11');
    expect(rii.routes({ vnet: 'prod', lookup: '10.20.6.7' })[0].best.attributes.nextHop).toBe('10.1.0.10');
    expect(actions).toMatchObject([{ type: 'attack-start', time: label.start, label: label.id, node: 'lb-b', prefix: '10.20.5.0/24' }]);

    sim.advanceTo(label.end);
    await waitFor(() => best('10.20.5.0/24') === undefined, 'the hijack withdrawn');
    expect(actions[1]).toMatchObject({ type: 'attack-end', time: label.end, label: label.id });
  });

  it('fails a prefix over: the next hop moves to the other node', async () => {
    expect(best('10.20.0.0/16')!.attributes.nextHop).toBe('10.1.0.10');
    sim.advanceTo(START + 60 * MIN);
    await waitFor(() => best('10.20.0.0/16')?.attributes.nextHop === '10.1.0.11', 'the failover');
    const r = rii.routes({ vnet: 'prod', prefix: '10.20.0.0/16' })[0];
    expect(r.paths.map((p) => p.peer)).toEqual(['127.0.0.3']);
    expect(r.best.attributes.asPath).toBe('65020');
    expect(actions[2]).toEqual({ type: 'failover', time: START + 60 * MIN, step: 0, vnet: 'prod', node: 'lb-a', to: 'lb-b', prefix: '10.20.0.0/16' });
    expect(fleet.routes('prod', 'lb-a').map((x) => x.prefix)).toEqual(['2001:db8:20::/48']);
  });

  it('runs a route leak with the leaked AS path, then withdraws it', async () => {
    sim.advanceTo(START + 2 * 60 * MIN);
    await waitFor(() => best('10.40.0.0/16') !== undefined, 'the leaked route');
    expect(best('10.21.0.0/16')!.attributes.nextHop).toBe('10.1.0.10');
    expect(best('10.40.0.0/16')!.attributes.asPath).toBe('65010 64700 64701');
    sim.advanceTo(START + 3 * 60 * MIN);
    await waitFor(() => best('10.40.0.0/16') === undefined, 'the leak withdrawn');
    expect(actions.map((a) => a.type)).toEqual(['attack-start', 'attack-end', 'failover', 'announce', 'attack-start', 'attack-end']);
    expect(actions.every((a) => a.type !== 'error')).toBe(true);
  });

  it('refuses to announce from a node that runs no appliance', () => {
    expect(() => fleet.announce('prod', 'nobody', '10.50.0.0/16')).toThrow(ApplianceError);
    expect(() => fleet.announce('prod', 'nobody', '10.50.0.0/16')).toThrow(/no appliance node "nobody".*lb-a, lb-b/);
  });

  it('records every UPDATE sent as MRT that bgpdump -m reads', async () => {
    await fleet.flush();
    expect(fleet.mrtErrors).toBe(0);
    expect(events.filter((e) => e.type === 'announce' && !e.sent)).toEqual([]);
    if (!existsSync(BGPDUMP)) return console.log(`skipped the bgpdump check: ${BGPDUMP} is not installed`);
    const out = execFileSync(BGPDUMP, ['-m', mrtFile], { stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8');
    const lines = out.trim().split('\n');
    const t = (ms: number) => String(Math.floor(ms / 1000));
    expect(lines).toContain(`BGP4MP|${t(START)}|A|127.0.0.2|65010|10.20.0.0/16|65010 64600|IGP|10.1.0.10|0|0|65010:100|NAG||`);
    expect(lines).toContain(`BGP4MP|${t(START)}|A|127.0.0.3|65020|10.30.0.0/16|65020|IGP|10.1.0.11|0|0||NAG||`);
    expect(lines.some((l) => l.startsWith(`BGP4MP|${t(START)}|A|127.0.0.2|65010|2001:db8:20::/48|65010 64600|IGP|`))).toBe(true);
    expect(lines).toContain(`BGP4MP|${t(START + 30 * MIN)}|A|127.0.0.3|65020|10.20.5.0/24|65020|IGP|10.1.0.11|0|0||NAG||`);
    expect(lines).toContain(`BGP4MP|${t(START + 40 * MIN)}|W|127.0.0.3|65020|10.20.5.0/24`);
    expect(lines).toContain(`BGP4MP|${t(START + 60 * MIN)}|W|127.0.0.2|65010|10.20.0.0/16`);
    expect(lines).toContain(`BGP4MP|${t(START + 60 * MIN)}|A|127.0.0.3|65020|10.20.0.0/16|65020|IGP|10.1.0.11|0|0||NAG||`);
    expect(lines).toContain(`BGP4MP|${t(START + 120 * MIN)}|A|127.0.0.2|65010|10.40.0.0/16|65010 64700 64701|IGP|10.1.0.10|0|0|65010:100|NAG||`);
    expect(lines.filter((l) => l.includes('|STATE|'))).toHaveLength(2);
  });

  it('sends its current routes again when its session comes back', async () => {
    const announced = () => rii.peers({ vnet: 'prod' }).find((p) => p.address === '127.0.0.3')!.routes.announced;
    const before = announced();
    const peer = fleet.peer('prod', 'lb-b');
    peer.shutdown(undefined, { restartAfterMs: 100 });
    expect(fleet.established('prod', 'lb-b')).toBe(false);
    await fleet.waitEstablished('prod', 'lb-b');
    await waitFor(() => announced() >= before + 2, 'the routes announced again');
    expect(peer.counters.flaps).toBe(1);
    // What it announces now: its own prefix and the one it took over, not the hijack it withdrew.
    expect(fleet.routes('prod', 'lb-b').map((r) => r.prefix)).toEqual(['10.30.0.0/16', '10.20.0.0/16']);
    await waitFor(() => best('10.20.0.0/16')?.peer === '127.0.0.3' && best('10.30.0.0/16')?.peer === '127.0.0.3', 'both routes back');
    expect(announced()).toBe(before + 2);
    expect(best('10.20.5.0/24')).toBeUndefined();
  });
});

describe('appliance sessions on a simulated clock', () => {
  const PORT2 = 25002;
  const cfg = parseConfig(`
substrate: { hosts: [{ name: h1 }] }
vnets:
  - name: prod
    vni: 1
    cidrs: [10.0.0.0/8]
    routers: [{ name: vr1, asn: 65000, routerId: 10.255.0.1, host: h1, listen: { address: 127.0.0.1, port: ${PORT2} }, peers: [{ address: 127.0.0.2, asn: 65010 }] }]
    nodes:
      - { name: lb-a, host: h1, address: 10.1.0.10, appliance: { router: vr1, asn: 65010, bgpAddress: 127.0.0.2, announce: [10.20.0.0/16] } }
`);
  const rii = new RoutingInterceptor({ config: cfg });
  const sim = new SimulatedClock(START);
  const fleet = new ApplianceFleet({ config: cfg, clock: sim });

  afterAll(async () => {
    await fleet.stop();
    await rii.stop();
  });

  it('offers no hold time, so a clock racing ahead never expires the session', async () => {
    await rii.start();
    await fleet.start();
    await fleet.waitEstablished();
    expect(fleet.peer('prod', 'lb-a').negotiated?.holdTime).toBe(0);
    expect(fleet.initialAnnouncements()).toBe(1);
    await waitFor(() => rii.routes({ vnet: 'prod', prefix: '10.20.0.0/16' }).length === 1, 'the route');
    sim.advance(7 * 86_400_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(fleet.established('prod', 'lb-a')).toBe(true);
    expect(rii.peers()[0].state).toBe('established');
  });
});

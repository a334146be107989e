import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';
import { AttackError, AttackPlan, SCAN_PORTS, parseOffset, uploadedPayload } from './attacks.js';
import { flowFrames } from './traffic/flows.js';
import { createRng } from './traffic/rng.js';
import type { Flow } from './types.js';

const START = Date.UTC(2026, 0, 5);
const MIN = 60_000;
const END = START + 1450 * MIN;

function configWith(attacks: string, threatList = '[203.0.113.0/24]') {
  return parseConfig(`
substrate:
  hosts: [{ name: h1 }]
vnets:
  - name: prod
    vni: 1001
    cidrs: [10.0.0.0/8]
    subnets: [{ name: web, cidr: 10.1.0.0/24 }]
    nodes:
      - { name: web-1, host: h1, address: 10.1.0.10, subnet: web, apps: [shop] }
      - { name: web-2, host: h1, address: 10.1.0.11, subnet: web, apps: [shop] }
      - { name: dns-1, host: h1, address: 10.1.0.53, subnet: web, apps: [resolver] }
    applications:
      - { name: shop, kind: web, protocol: http, port: 8080, prefix: 10.50.0.0/16, clients: [0.0.0.0/0], requestsPerSecond: 10 }
      - { name: resolver, kind: dns, protocol: dns, port: 53, clients: [10.0.0.0/8], requestsPerSecond: 10 }
emulation:
  seed: 7
  threatList: ${threatList}
  attacks:
${attacks}
`);
}

const ALL = `
    - { kind: port-scan, vnet: prod, source: 198.51.100.7, target: 10.1.0.0/24, at: 10m, duration: 60, rate: 50 }
    - { kind: syn-flood, vnet: prod, target: 10.1.0.10, at: 20m, duration: 30, rate: 200 }
    - { kind: dns-tunnel, vnet: prod, node: web-2, target: 10.1.0.53, domain: t.evil.example, at: 1h, duration: 120, rate: 5 }
    - { kind: c2-beacon, vnet: prod, source: 10.1.0.11, target: 203.0.113.9, at: 2h, duration: 1h, rate: 0.0166666667 }
    - { kind: exfiltration, vnet: prod, node: web-1, target: 192.0.2.99, bytes: 123456789, at: 1d, duration: 10m, rate: 0.05 }`;

/** The flows of [from, to) in steps of `stepMs`, as the emulator asks for them. */
function run(plan: AttackPlan, from: number, to: number, stepMs: number, seed = 1): Flow[] {
  const rng = createRng(seed);
  const out: Flow[] = [];
  for (let t = from; t < to; t += stepMs) out.push(...plan.attackFlows(t, Math.min(to, t + stepMs), rng));
  return out;
}

const byLabel = (flows: Flow[], id: string) => flows.filter((f) => f.label === id);

describe('AttackPlan', () => {
  const plan = new AttackPlan({ config: configWith(ALL), startMs: START });
  const flows = run(plan, START, END, 10_000);
  const [scan, flood, tunnel, beacon, exfil] = plan.labels;

  it('labels every attack with its kind, window and hosts', () => {
    expect(plan.labels.map((l) => l.id)).toEqual([
      'attack-0-port-scan',
      'attack-1-syn-flood',
      'attack-2-dns-tunnel',
      'attack-3-c2-beacon',
      'attack-4-exfiltration',
    ]);
    expect([scan.start, scan.end]).toEqual([START + 10 * MIN, START + 11 * MIN]);
    expect([exfil.start, exfil.end]).toEqual([START + 1440 * MIN, START + 1450 * MIN]);
    expect(scan.hosts).toEqual(['198.51.100.7', '10.1.0.10', '10.1.0.11', '10.1.0.53']);
    expect(scan.prefixes).toEqual(['10.1.0.0/24']);
    expect(flood.hosts).toEqual(['10.1.0.10']);
    expect(tunnel.hosts).toEqual(['10.1.0.11', '10.1.0.53']);
    expect(beacon.hosts).toEqual(['10.1.0.11', '203.0.113.9']);
    expect(exfil.description).toContain('123456789 bytes');
  });

  it('labels every attack flow, and every flow lies within its label window', () => {
    expect(flows.length).toBeGreaterThan(0);
    const outside = flows.filter((f) => {
      const l = f.label === null ? undefined : plan.label(f.label);
      return !l || f.start < l.start || f.start >= l.end || f.vnet !== 'prod' || f.app !== null;
    });
    expect(outside).toEqual([]);
    expect(new Set(flows.map((f) => f.id)).size).toBe(flows.length);
  });

  const sum = (fs: Flow[], k: 'packetsToServer' | 'packetsToClient') => fs.reduce((n, f) => n + f[k], 0);

  it('port scan: one attacker, rate × duration probes, one flow per live host in turn', () => {
    const s = byLabel(flows, scan.id);
    expect(plan.totalEvents(scan.id)).toBe(3000);
    expect(sum(s, 'packetsToServer')).toBe(3000);
    expect(s.map((f) => [f.server, f.packetsToServer])).toEqual([
      ['10.1.0.10', SCAN_PORTS],
      ['10.1.0.11', SCAN_PORTS],
      ['10.1.0.53', 3000 - 2 * SCAN_PORTS],
    ]);
    expect(s.every((f) => f.kind === 'port-scan' && f.client === '198.51.100.7' && f.protocol === 6)).toBe(true);
    // Live nodes answer every probe; the scan of a host takes its probes' time at the rate (50/s).
    expect(s.every((f) => f.packetsToClient === f.packetsToServer)).toBe(true);
    expect(s[0].duration).toBe((SCAN_PORTS - 1) * 20);
    expect(s[1].start - s[0].start).toBe(SCAN_PORTS * 20);
    const frames = flowFrames(s[0]).filter((x) => x.toServer);
    expect(frames).toHaveLength(SCAN_PORTS);
  });

  it('port scan of a range: the live nodes first, then a sweep of the other addresses that nobody answers', () => {
    const wide = new AttackPlan({
      config: configWith(`    - { kind: port-scan, vnet: prod, source: 198.51.100.7, target: 10.1.0.0/24, at: 0, duration: 60, rate: 100 }`),
      startMs: START,
    });
    const s = run(wide, START, START + 60_000, 10_000);
    expect(s.map((f) => [f.server, f.packetsToClient > 0])).toEqual([
      ['10.1.0.10', true],
      ['10.1.0.11', true],
      ['10.1.0.53', true],
      ['10.1.0.1', false],
      ['10.1.0.2', false],
      ['10.1.0.3', false],
    ]);
    expect(sum(s, 'packetsToServer')).toBe(6000);
    expect(wide.labels[0].hosts).toEqual(['198.51.100.7', '10.1.0.10', '10.1.0.11', '10.1.0.53', '10.1.0.1', '10.1.0.2', '10.1.0.3']);
    const small = new AttackPlan({
      config: configWith(`    - { kind: port-scan, vnet: prod, source: 198.51.100.7, target: 10.2.0.0/30, at: 0, duration: 30, rate: 100 }`),
      startMs: START,
    });
    expect(run(small, START, START + 30_000, 10_000).map((f) => f.server)).toEqual(['10.2.0.1', '10.2.0.2', '10.2.0.1']);
  });

  it('SYN flood on an application service address hits that application port', () => {
    const p = new AttackPlan({ config: configWith(`    - { kind: syn-flood, vnet: prod, target: 10.50.0.7, at: 0, duration: 2, rate: 10 }`), startMs: START });
    const s = run(p, START, START + 2000, 1000);
    expect(s.map((f) => [f.server, f.serverPort, f.packetsToServer])).toEqual([
      ['10.50.0.7', 8080, 10],
      ['10.50.0.7', 8080, 10],
    ]);
  });

  it('SYN flood: rate × duration SYNs to the target application port, a flow per second', () => {
    const s = byLabel(flows, flood.id);
    expect(s).toHaveLength(30);
    expect(sum(s, 'packetsToServer')).toBe(200 * 30);
    expect(s.every((f) => f.kind === 'syn-flood' && f.server === '10.1.0.10' && f.serverPort === 8080 && f.packetsToServer === 200)).toBe(true);
    expect(s.every((f) => f.bytesToServer === 200 * 54)).toBe(true);
    // Spoofed: the SYNs of one flow come from many addresses, none inside the network.
    const sources = new Set(flowFrames(s[0]).filter((x) => x.toServer).map((x) => x.frame.subarray(26, 30).join('.')));
    expect(sources.size).toBeGreaterThan(190);
    expect([...sources].every((a) => !a.startsWith('10.') && !a.startsWith('127.'))).toBe(true);
  });

  it('DNS tunnel: queries at the rate to the resolver, under the domain', () => {
    const s = byLabel(flows, tunnel.id);
    expect(sum(s, 'packetsToServer')).toBe(5 * 120);
    expect(s).toHaveLength(12);
    expect(s.every((f) => f.kind === 'dns-tunnel' && f.protocol === 17 && f.server === '10.1.0.53' && f.serverPort === 53 && f.client === '10.1.0.11')).toBe(true);
    expect(s.every((f) => f.hostname === 't.evil.example' && f.packetsToClient === f.packetsToServer)).toBe(true);
    // Each query carries over a hundred bytes of encoded data in its name.
    expect(s.every((f) => f.bytesToServer / f.packetsToServer > 14 + 20 + 8 + 12 + 100)).toBe(true);
  });

  it('C2 beacons: one small exchange a minute with under 10 % jitter, to the listed server', () => {
    const s = byLabel(flows, beacon.id);
    expect(s).toHaveLength(60);
    expect(s.every((f) => f.kind === 'c2-beacon' && f.server === '203.0.113.9' && f.client === '10.1.0.11' && f.serverPort === 443)).toBe(true);
    const offsets = s.map((f, i) => f.start - (beacon.start + Math.floor((i * 1000) / 0.0166666667)));
    expect(offsets.every((o) => o >= 0 && o < 6_000)).toBe(true);
    expect(new Set(offsets).size).toBeGreaterThan(1);
    expect(s.every((f) => f.bytesToServer + f.bytesToClient < 5000)).toBe(true);
  });

  it('exfiltration: exactly the configured bytes leave, in uploads spread over the duration', () => {
    const s = byLabel(flows, exfil.id);
    expect(s).toHaveLength(30);
    expect(s.reduce((n, f) => n + uploadedPayload(f), 0)).toBe(123456789);
    expect(s.every((f) => f.kind === 'exfiltration' && f.client === '10.1.0.10' && f.server === '192.0.2.99')).toBe(true);
    expect(s[1].start - s[0].start).toBe(20_000);
    expect(s.every((f) => f.start + f.duration < exfil.end)).toBe(true);
  });

  it('turns into exactly the packets and bytes its flows count', () => {
    for (const l of plan.labels) {
      const f = byLabel(flows, l.id)[0];
      const frames = flowFrames(f);
      const to = frames.filter((x) => x.toServer);
      const back = frames.filter((x) => !x.toServer);
      expect([to.length, back.length], l.kind).toEqual([f.packetsToServer, f.packetsToClient]);
      expect(to.reduce((n, x) => n + x.frame.length, 0), l.kind).toBe(f.bytesToServer);
      expect(back.reduce((n, x) => n + x.frame.length, 0), l.kind).toBe(f.bytesToClient);
    }
  });

  it('gives the same attack events whatever the step, and the same flows for the same seed', () => {
    const coarse = run(plan, START, END, 3_600_000);
    const key = (f: Flow) => `${f.label}|${f.start}|${f.server}|${f.serverPort}|${f.packetsToServer}`;
    expect(coarse.map(key).sort()).toEqual(flows.map(key).sort());
    const again = run(new AttackPlan({ config: configWith(ALL), startMs: START }), START, END, 10_000);
    expect(again).toEqual(flows);
    const other = run(new AttackPlan({ config: configWith(ALL), startMs: START }), START, END, 10_000, 2);
    expect(other.map(key)).toEqual(flows.map(key));
    expect(other.map((f) => f.client)).not.toEqual(flows.map((f) => f.client));
  });

  it('produces nothing outside the attack windows', () => {
    expect(plan.attackFlows(START, START + 10 * MIN, createRng(1))).toEqual([]);
    expect(plan.attackFlows(START + 11 * MIN, START + 20 * MIN, createRng(1))).toEqual([]);
  });

  it('resolves routing attacks for the script runner', () => {
    const cfg = parseConfig(`
vnets:
  - name: prod
    vni: 1
    cidrs: [10.0.0.0/8]
    routers: [{ name: vr1, asn: 65000, routerId: 10.255.0.1, host: h1, listen: { address: 127.0.0.1, port: 25090 }, peers: [{ address: 127.0.0.2, asn: 65010 }] }]
    nodes:
      - { name: rogue, host: h1, address: 10.9.0.1, appliance: { router: vr1, asn: 65010, bgpAddress: 127.0.0.2 } }
substrate: { hosts: [{ name: h1 }] }
emulation:
  attacks:
    - { kind: prefix-hijack, vnet: prod, node: rogue, prefix: 10.20.5.0/24, at: 90m, duration: 5m }
    - { kind: route-leak, vnet: prod, node: rogue, prefix: 10.40.0.0/16, asPath: [64700, 64701], at: "1d", duration: 60 }
`);
    const p = new AttackPlan({ config: cfg, startMs: START });
    expect(p.routing.map((r) => [r.kind, r.node, r.prefix, r.asPath, r.label.start - START, r.label.end - START])).toEqual([
      ['prefix-hijack', 'rogue', '10.20.5.0/24', [], 90 * MIN, 95 * MIN],
      ['route-leak', 'rogue', '10.40.0.0/16', [64700, 64701], 1440 * MIN, 1441 * MIN],
    ]);
    expect(p.labels[1].description).toContain('65010 64700 64701');
    expect(p.attackFlows(START, END, createRng(1))).toEqual([]);
  });

  it('refuses attacks it cannot carry out, naming the field', () => {
    // Built past the config validation, as a program assembling a config might.
    const base = configWith(ALL);
    const bad = (attack: Record<string, unknown>, threatList = ['203.0.113.0/24']) => () =>
      new AttackPlan({
        config: { ...base, emulation: { ...base.emulation!, threatList, attacks: [{ vnet: 'prod', at: 0, duration: 600, ...attack } as never] } },
        startMs: START,
      });
    expect(bad({ kind: 'dns-tunnel', node: 'web-1', target: '10.1.0.53' })).toThrow(/emulation\.attacks\[0\]\.domain: expected the domain/);
    expect(bad({ kind: 'c2-beacon', node: 'web-1', target: '198.51.100.1' })).toThrow(/attacks\[0\]\.target: 198\.51\.100\.1 is not on emulation\.threatList/);
    expect(bad({ kind: 'c2-beacon', node: 'web-1' }, [])).toThrow(/threatList is empty/);
    expect(bad({ kind: 'exfiltration', node: 'web-1', target: '192.0.2.1' })).toThrow(/attacks\[0\]\.bytes/);
    expect(bad({ kind: 'prefix-hijack', node: 'web-1', prefix: '10.1.0.0/25' })).toThrow(/runs no appliance/);
    expect(bad({ kind: 'port-scan', source: '192.0.2.1', at: 'soon' })).toThrow(AttackError);
    expect(bad({ kind: 'syn-flood', target: '10.1.0.10', duration: 1, rate: 0.5 })).toThrow(/attacks\[0\]\.rate: at 0\.5\/s nothing happens/);
    expect(bad({ kind: 'exfiltration', node: 'web-1', target: '2001:db8::1', bytes: 1e6 })).toThrow(/not of the same address family/);
    expect(bad({ kind: 'exfiltration', node: 'web-1', target: '192.0.2.1', bytes: 1000, rate: 1 })).toThrow(/attacks\[0\]\.bytes: 1000 bytes in 600 uploads is too little/);
    // An inside attacker named by node scans from that node's address.
    const inside = bad({ kind: 'port-scan', node: 'web-2', target: '10.1.0.0/24' })();
    expect(inside.labels[0].hosts[0]).toBe('10.1.0.11');
  });
});

describe('parseOffset', () => {
  it('reads seconds and unit texts', () => {
    expect(parseOffset(90)).toBe(90_000);
    expect(parseOffset('45')).toBe(45_000);
    expect(parseOffset('1d2h30m')).toBe(((24 + 2) * 60 + 30) * MIN);
    expect(parseOffset('90m')).toBe(90 * MIN);
    expect(parseOffset('1.5h')).toBe(90 * MIN);
    expect(parseOffset('2m30s250ms')).toBe(150_250);
    expect(parseOffset('1w 1d')).toBe(8 * 1440 * MIN);
  });
  it('refuses what is not an offset', () => {
    for (const bad of ['', 'soon', '5 minutes', '-5', '1h-', 'h', '400d']) expect(() => parseOffset(bad), bad).toThrow(/expected a time offset/);
    expect(() => parseOffset(-1)).toThrow(/expected a time offset/);
  });
});

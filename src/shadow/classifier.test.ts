import { describe, expect, it } from 'vitest';
import { SimulatedClock, parseAddress, routeAttributes, type PathSummary, type RouteAttributes, type RouteEvent } from '../core/index.js';
import { MirrorSessionSchema, type MirrorSessionConfig } from '../vnet/config.js';
import { PacketView, dissect } from '../wire/dissect.js';
import { Classifier } from './classifier.js';
import { RouteFactTable } from './fact-table.js';
import { IpSetRegistry } from './ipset.js';
import { PolicyError, originAsOf, type PolicyVnet } from './policy.js';

// ---- packets built by hand (Ethernet + IPv4/IPv6 + TCP/UDP/ICMP) ----

interface Pkt {
  src: string;
  dst: string;
  proto?: number;
  sport?: number;
  dport?: number;
  /** IPv4 fragment offset in 8-byte units (later fragments carry no transport header). */
  fragOffset?: number;
  moreFragments?: boolean;
}

function frame(p: Pkt): Uint8Array {
  const s = parseAddress(p.src);
  const d = parseAddress(p.dst);
  const proto = p.proto ?? 6;
  const later = (p.fragOffset ?? 0) > 0;
  const l4 = later ? new Uint8Array(8) : new Uint8Array(proto === 6 ? 20 : 8);
  if (!later && (proto === 6 || proto === 17)) {
    l4[0] = (p.sport ?? 40000) >> 8;
    l4[1] = (p.sport ?? 40000) & 0xff;
    l4[2] = (p.dport ?? 80) >> 8;
    l4[3] = (p.dport ?? 80) & 0xff;
    if (proto === 6) {
      l4[12] = 5 << 4;
      l4[13] = 0x10;
    } else {
      l4[4] = 0;
      l4[5] = 8;
    }
  }
  if (!later && (proto === 1 || proto === 58)) l4[0] = 8;
  const v6 = s.length === 16;
  const ipLen = v6 ? 40 : 20;
  const out = new Uint8Array(14 + ipLen + l4.length);
  out[12] = v6 ? 0x86 : 0x08;
  out[13] = v6 ? 0xdd : 0x00;
  const ip = 14;
  if (v6) {
    out[ip] = 0x60;
    out[ip + 4] = l4.length >> 8;
    out[ip + 5] = l4.length & 0xff;
    out[ip + 6] = proto;
    out[ip + 7] = 64;
    out.set(s, ip + 8);
    out.set(d, ip + 24);
  } else {
    out[ip] = 0x45;
    const total = 20 + l4.length;
    out[ip + 2] = total >> 8;
    out[ip + 3] = total & 0xff;
    const frag = ((p.moreFragments ? 1 : 0) << 13) | (p.fragOffset ?? 0);
    out[ip + 6] = frag >> 8;
    out[ip + 7] = frag & 0xff;
    out[ip + 8] = 64;
    out[ip + 9] = proto;
    out.set(s, ip + 12);
    out.set(d, ip + 16);
  }
  out.set(l4, 14 + ipLen);
  return out;
}

const view = new PacketView();
function classify(c: Classifier, p: Pkt, timeMs = clock.now(), vnet = 'v'): string | null {
  const f = frame(p);
  expect(dissect(f, 0, f.length, 1, view)).toBe(true);
  const i = c.classify(vnet, view, f, timeMs);
  return i < 0 ? null : c.sessions[i].name;
}

// ---- routes ----

const attrs = (over: Partial<RouteAttributes>): RouteAttributes => routeAttributes(over);
const comm = (hi: number, lo: number) => ((hi << 16) | lo) >>> 0;
const clock = new SimulatedClock();
let seq = 0;
function bestEvent(prefix: string, best: PathSummary | null): RouteEvent {
  return { type: 'best-path-change', seq: ++seq, time: clock.now(), vnet: 'v', prefix, best, previous: null, ecmp: best ? 1 : 0 };
}
const pathA: PathSummary = {
  router: 'r1',
  peer: '192.0.2.1',
  peerAs: 65010,
  attributes: attrs({
    asPath: [{ type: 2, asns: [65010, 65020] }],
    nextHop: '192.0.2.1',
    communities: [comm(65020, 100)],
    largeCommunities: [[65020, 1, 2]],
  }),
};
const pathB: PathSummary = {
  router: 'r1',
  peer: '192.0.2.2',
  peerAs: 65010,
  attributes: attrs({ asPath: [{ type: 2, asns: [65010, 65030] }, { type: 1, asns: [65031, 65032] }], nextHop: '192.0.2.22', communities: [comm(65030, 7)] }),
};
const pathV6: PathSummary = {
  router: 'r1',
  peer: '2001:db8::1',
  peerAs: 65010,
  attributes: attrs({ asPath: [{ type: 2, asns: [65010, 65040] }], nextHop: '2001:db8::1' }),
};

const VNET: PolicyVnet = {
  name: 'v',
  cidrs: ['10.0.0.0/16', '2001:db8:a::/48'],
  prefixTags: [
    { prefix: '10.0.5.0/24', tags: { critical: true, app: 'pay' } },
    { prefix: '10.0.5.128/25', tags: { tier: 'db' } },
  ],
};

function setup() {
  const facts = new RouteFactTable({ vnet: 'v' });
  facts.apply(bestEvent('198.51.100.0/24', pathA));
  facts.apply(bestEvent('203.0.113.0/24', pathB));
  facts.apply(bestEvent('2001:db8:ff::/48', pathV6));
  facts.commit();
  const ipSets = new IpSetRegistry();
  ipSets.declare('bad');
  const ctx = { vnets: [VNET, { name: 'w', cidrs: ['10.0.0.0/16'] }], facts: new Map([['v', facts]]), ipSets };
  return { facts, ipSets, ctx };
}

type SessionInput = Partial<Omit<MirrorSessionConfig, 'rules'>> & { rules: unknown[] };
function sessions(...list: SessionInput[]): MirrorSessionConfig[] {
  return list.map((s, i) => MirrorSessionSchema.parse({ name: `s${i}`, vnet: 'v', priority: 10 + i, target: 't', ...s }));
}
function compile(ctx: ReturnType<typeof setup>['ctx'], ...list: SessionInput[]): Classifier {
  return Classifier.compile(sessions(...list), ctx);
}

const IN = '10.0.1.1';
const OUT = '198.51.100.9';

describe('Classifier: rule fields', () => {
  it('scope and direction: egress from scope, ingress to it, default scope = the vnet CIDRs', () => {
    const { ctx } = setup();
    const c = compile(ctx, { name: 'eg', rules: [{ action: 'accept', direction: 'egress' }] }, { name: 'in', rules: [{ action: 'accept', direction: 'ingress' }] });
    expect(classify(c, { src: IN, dst: OUT })).toBe('eg');
    expect(classify(c, { src: OUT, dst: IN })).toBe('in');
    expect(classify(c, { src: OUT, dst: '203.0.113.1' })).toBeNull();
    expect(classify(c, { src: '2001:db8:a::5', dst: '2001:db8:ff::1' })).toBe('eg');
    expect(classify(c, { src: '2001:db8:ff::1', dst: '2001:db8:a::5' })).toBe('in');
    const scoped = compile(ctx, { name: 'narrow', scope: ['10.0.9.0/24'], rules: [{ action: 'accept' }] });
    expect(classify(scoped, { src: IN, dst: OUT })).toBeNull();
    expect(classify(scoped, { src: OUT, dst: '10.0.9.9' })).toBe('narrow');
    // Another vnet's packets never meet v's sessions.
    expect(classify(scoped, { src: OUT, dst: '10.0.9.9' }, 0, 'w')).toBeNull();
  });

  it('protocol, source/destination CIDRs and port ranges', () => {
    const { ctx } = setup();
    const c = compile(
      ctx,
      { name: 'udp-dns', rules: [{ action: 'accept', protocol: 'udp', destinationPorts: 53 }] },
      { name: 'tcp-hi', rules: [{ action: 'accept', protocol: 'tcp', sourcePorts: '1024-2048', destination: ['198.51.100.0/25'] }] },
      { name: 'icmp', rules: [{ action: 'accept', protocol: 'icmp', source: ['10.0.1.0/24'] }] },
      { name: 'proto47', rules: [{ action: 'accept', protocol: 47 }] },
    );
    expect(classify(c, { src: IN, dst: OUT, proto: 17, dport: 53 })).toBe('udp-dns');
    expect(classify(c, { src: IN, dst: OUT, proto: 6, dport: 53 })).toBeNull();
    expect(classify(c, { src: IN, dst: OUT, proto: 17, dport: 54 })).toBeNull();
    expect(classify(c, { src: IN, dst: '198.51.100.1', sport: 1024 })).toBe('tcp-hi');
    expect(classify(c, { src: IN, dst: '198.51.100.1', sport: 2048 })).toBe('tcp-hi');
    expect(classify(c, { src: IN, dst: '198.51.100.1', sport: 2049 })).toBeNull();
    expect(classify(c, { src: IN, dst: '198.51.100.200', sport: 1500 })).toBeNull();
    expect(classify(c, { src: IN, dst: OUT, proto: 1 })).toBe('icmp');
    expect(classify(c, { src: '10.0.2.1', dst: OUT, proto: 1 })).toBeNull();
    expect(classify(c, { src: IN, dst: OUT, proto: 47 })).toBe('proto47');
    // An IPv4-only CIDR list does not match IPv6 packets.
    const v6 = compile(ctx, { name: 'src4', rules: [{ action: 'accept', source: ['10.0.0.0/16'] }] }, { name: 'src6', rules: [{ action: 'accept', source: ['2001:db8:a:1::/64'] }] });
    expect(classify(v6, { src: '2001:db8:a:1::1', dst: '2001:db8:ff::1' })).toBe('src6');
    expect(classify(v6, { src: '2001:db8:a:2::1', dst: '2001:db8:ff::1' })).toBeNull();
  });

  it('later fragments carry no ports: port rules skip them, portless rules match them', () => {
    const { ctx } = setup();
    const c = compile(ctx, { name: 'web', rules: [{ action: 'accept', protocol: 'tcp', destinationPorts: 80 }] }, { name: 'tcp', rules: [{ action: 'accept', protocol: 'tcp' }] });
    expect(classify(c, { src: IN, dst: OUT, dport: 80, moreFragments: true })).toBe('web');
    expect(classify(c, { src: IN, dst: OUT, fragOffset: 185 })).toBe('tcp');
  });

  it('first matching rule decides; reject falls through to the next session; priority orders sessions', () => {
    const { ctx } = setup();
    const c = compile(
      ctx,
      { name: 'late', priority: 200, rules: [{ action: 'accept' }] },
      { name: 'early', priority: 5, rules: [{ action: 'reject', protocol: 'udp' }, { action: 'accept', protocol: 'udp' }, { action: 'accept', destinationPorts: 443, protocol: 'tcp' }] },
      { name: 'off', priority: 1, enabled: false, rules: [{ action: 'accept' }] },
    );
    expect(classify(c, { src: IN, dst: OUT, dport: 443 })).toBe('early');
    expect(classify(c, { src: IN, dst: OUT, proto: 17 })).toBe('late');
    expect(classify(c, { src: IN, dst: OUT, dport: 22 })).toBe('late');
    expect(c.sessionIndex('early')).toBe(1);
  });
});

describe('Classifier: routing facts', () => {
  const cases: [string, Record<string, unknown>, string[], string[]][] = [
    ['originAs', { originAs: [65020] }, ['198.51.100.9'], ['203.0.113.9', '8.8.8.8']],
    ['asPath regex with _ boundaries', { asPath: '_65010_650[23]0_' }, ['198.51.100.9', '203.0.113.9'], ['8.8.8.8']],
    ['asPath anchored', { asPath: '_65020$' }, ['198.51.100.9'], ['203.0.113.9']],
    ['asPath AS_SET member', { asPath: '[{,]65032[},]' }, ['203.0.113.9'], ['198.51.100.9']],
    ['community exact', { community: ['65020:100'] }, ['198.51.100.9'], ['203.0.113.9']],
    ['community wildcard low', { community: ['65030:*'] }, ['203.0.113.9'], ['198.51.100.9']],
    ['community wildcard high', { community: ['*:100', '1:1'] }, ['198.51.100.9'], ['203.0.113.9']],
    ['large community with wildcard', { largeCommunity: ['65020:*:2'] }, ['198.51.100.9'], ['203.0.113.9']],
    ['large community mismatch', { largeCommunity: ['65020:1:3'] }, [], ['198.51.100.9']],
    ['peer', { peer: ['192.0.2.2'] }, ['203.0.113.9'], ['198.51.100.9', '8.8.8.8']],
    ['nextHop', { nextHop: ['192.0.2.22'] }, ['203.0.113.9'], ['198.51.100.9']],
    ['noRoute true', { noRoute: true }, ['8.8.8.8'], ['198.51.100.9']],
    ['noRoute false', { noRoute: false }, ['198.51.100.9', '203.0.113.9'], ['8.8.8.8']],
    ['several conditions all hold', { originAs: [65020], peer: ['192.0.2.2'] }, [], ['198.51.100.9', '203.0.113.9']],
  ];
  for (const [what, match, hit, miss] of cases) {
    it(`destinationRoute ${what}`, () => {
      const { ctx } = setup();
      const c = compile(ctx, { name: 'm', rules: [{ action: 'accept', destinationRoute: match }] });
      for (const a of hit) expect(classify(c, { src: IN, dst: a }), a).toBe('m');
      for (const a of miss) expect(classify(c, { src: IN, dst: a }), a).toBeNull();
    });
  }

  it('origin AS: last of the sequence, single-member set, own AS for an empty path', () => {
    expect(originAsOf(pathA)).toBe(65020);
    expect(originAsOf(pathB)).toBeUndefined();
    expect(originAsOf({ ...pathA, attributes: attrs({ asPath: [{ type: 2, asns: [1] }, { type: 1, asns: [7] }] }) })).toBe(7);
    expect(originAsOf({ ...pathA, peerAs: 64999, attributes: attrs({}) })).toBe(64999);
  });

  it('IPv6 route facts on the source side', () => {
    const { ctx } = setup();
    const c = compile(ctx, { name: 'm', rules: [{ action: 'accept', sourceRoute: { originAs: [65040], peer: ['2001:db8:0::1'] } }] });
    expect(classify(c, { src: '2001:db8:ff::7', dst: '2001:db8:a::1' })).toBe('m');
    expect(classify(c, { src: '2001:db8:fe::7', dst: '2001:db8:a::1' })).toBeNull();
  });

  it('tags: the address lies within a tagged prefix having all the tags (value compared as text)', () => {
    const { ctx } = setup();
    const c = compile(
      ctx,
      { name: 'mixed', rules: [{ action: 'accept', destinationRoute: { tags: { critical: 'true', tier: 'db' } } }] },
      { name: 'db', rules: [{ action: 'accept', destinationRoute: { tags: { tier: 'db' } } }] },
      { name: 'crit-pay', rules: [{ action: 'accept', destinationRoute: { tags: { critical: true, app: 'pay' } } }] },
    );
    // 10.0.5.200 is in the /25 (tier: db) and in the /24 (critical, app: pay); no single prefix has critical and tier.
    expect(classify(c, { src: OUT, dst: '10.0.5.200' })).toBe('db');
    expect(classify(c, { src: OUT, dst: '10.0.5.20' })).toBe('crit-pay');
    expect(classify(c, { src: OUT, dst: '10.0.6.20' })).toBeNull();
    const only = compile(ctx, { name: 'crit-pay', rules: [{ action: 'accept', destinationRoute: { tags: { critical: true, app: 'pay' } } }] });
    expect(classify(only, { src: OUT, dst: '10.0.5.200' })).toBe('crit-pay');
  });

  it('route age: announcedWithin is judged on the batch time', () => {
    const { ctx, facts } = setup();
    const t0 = clock.now();
    const c = compile(ctx, { name: 'fresh', rules: [{ action: 'accept', destinationRoute: { announcedWithin: '10m' } }] });
    expect(classify(c, { src: IN, dst: OUT }, t0 + 599_000)).toBe('fresh');
    expect(classify(c, { src: IN, dst: OUT }, t0 + 601_000)).toBeNull();
    expect(classify(c, { src: IN, dst: '8.8.8.8' }, t0)).toBeNull();
    clock.advance(3_600_000);
    facts.apply(bestEvent('198.51.100.0/24', pathB));
    facts.commit();
    expect(classify(c, { src: IN, dst: OUT }, clock.now() + 1000)).toBe('fresh');
  });

  it('a withdrawal applied and committed stops the session that matched on that route', () => {
    const { ctx, facts } = setup();
    const c = compile(ctx, { name: 'm', rules: [{ action: 'accept', destinationRoute: { community: ['65020:100'] } }] });
    expect(classify(c, { src: IN, dst: OUT })).toBe('m');
    facts.apply(bestEvent('198.51.100.0/24', null));
    expect(classify(c, { src: IN, dst: OUT })).toBe('m');
    facts.commit();
    expect(classify(c, { src: IN, dst: OUT })).toBeNull();
    facts.apply(bestEvent('198.51.100.0/23', pathA));
    facts.commit();
    expect(classify(c, { src: IN, dst: OUT })).toBe('m');
  });

  it('IP set membership follows replacements made at run time', () => {
    const { ctx, ipSets } = setup();
    const c = compile(ctx, { name: 'intel', rules: [{ action: 'accept', destinationRoute: { ipSet: 'bad' } }] });
    expect(classify(c, { src: IN, dst: '8.8.8.8' })).toBeNull();
    const r = ipSets.replace('bad', ['8.8.8.8', '2001:db8:ff::/64', 'not-an-address']);
    expect(r.installed).toBe(2);
    expect(r.rejected.map((x) => x.reason)).toEqual(['bad-prefix']);
    expect(classify(c, { src: IN, dst: '8.8.8.8' })).toBe('intel');
    expect(classify(c, { src: '2001:db8:a::1', dst: '2001:db8:ff::1' })).toBe('intel');
    ipSets.replace('bad', ['8.8.4.0/24']);
    expect(classify(c, { src: IN, dst: '8.8.8.8' })).toBeNull();
    expect(classify(c, { src: IN, dst: '8.8.4.4' })).toBe('intel');
  });
});

describe('Classifier: compiling and swapping', () => {
  it('rebuilds from a changed session list; releasing the old one frees its condition bits', () => {
    const { ctx, facts } = setup();
    const a = compile(ctx, { name: 'm', rules: [{ action: 'accept', destinationRoute: { originAs: [65020] } }] });
    expect(facts.conditions).toBe(1);
    const b = compile(ctx, { name: 'm', rules: [{ action: 'accept', destinationRoute: { originAs: [65030] } }] }, { name: 'n', rules: [{ action: 'accept', destinationRoute: { originAs: [65020] } }] });
    expect(facts.conditions).toBe(2);
    a.release();
    expect(facts.conditions).toBe(2);
    expect(classify(b, { src: IN, dst: OUT })).toBe('n');
    b.release();
    expect(facts.conditions).toBe(0);
  });

  it('rejects bad sessions with the path of the field', () => {
    const { ctx, facts } = setup();
    const bad = (s: SessionInput, path: RegExp) => {
      let err: unknown;
      try {
        compile(ctx, { name: 'ok', rules: [{ action: 'accept', destinationRoute: { originAs: [1] } }] }, s);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PolicyError);
      expect((err as PolicyError).code).toBe('SHADOWNET_ERR_SHADOW_INVALID_SESSION');
      expect((err as PolicyError).message).toMatch(path);
      // Nothing stays acquired after a failed compile.
      expect(facts.conditions).toBe(0);
    };
    bad({ rules: [{ action: 'accept', destinationRoute: { ipSet: 'nope' } }] }, /^sessions\[1\]\.rules\[0\]\.destinationRoute\.ipSet: no IP set named "nope"/);
    bad({ rules: [{ action: 'accept', destinationPorts: 80 }] }, /^sessions\[1\]\.rules\[0\]\.protocol: port ranges need/);
    bad({ vnet: 'nope', rules: [{ action: 'accept' }] }, /^sessions\[1\]\.vnet/);
    bad({ vnet: 'w', rules: [{ action: 'accept', sourceRoute: { noRoute: true } }] }, /no routing fact table/);
  });
});

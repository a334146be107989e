/**
 * The RII end to end over loopback TCP: the project's own speaker plays the
 * workload and announces to a RoutingInterceptor built from a config; what it
 * sends must come out of the routing table, the events, the API and the CLI.
 * (test/interop/ does the same against BIRD, GoBGP and ExaBGP.)
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parsePrefix, routeAttributes, type RouteEvent } from '../src/core/index.js';
import { RoutingInterceptor } from '../src/routing/index.js';
import { recordingSpeaker, waitFor } from '../src/routing/session/test-support.js';
import type { BgpSpeaker } from '../src/routing/session/index.js';
import { fromRouteAttributes, type PathAttribute, type UpdateMessage } from '../src/wire/bgp/index.js';
import { parseConfig } from '../src/vnet/index.js';
import { startApiServer } from '../src/api/index.js';
import { main } from '../src/cli/main.js';

const PORT = 23179;
const config = parseConfig(`
vnets:
  - name: prod
    cidrs: [10.0.0.0/8, 2001:db8::/32]
    routers:
      - name: vr1
        asn: 65000
        routerId: 10.255.0.1
        listen: { address: 127.0.0.1, port: ${PORT} }
        peers:
          - { address: 127.0.0.2, asn: 65001, maxPrefix: { limit: 5 } }
          - { address: 127.0.0.3, asn: 65002, acceptedPrefixes: [10.3.0.0/16] }
`);

const attrs = (asPath: number[], extra: PathAttribute[] = []): PathAttribute[] => [
  { type: 'origin', flags: 0x40, value: 0 },
  { type: 'as-path', flags: 0x40, segments: [{ type: 2, asns: asPath }], asnBytes: 4 },
  { type: 'next-hop', flags: 0x40, nextHop: '198.51.100.1' },
  ...extra,
];
const v4 = (...ps: string[]) => ps.map((p) => parsePrefix(p));
const update = (u: Partial<UpdateMessage>): UpdateMessage => ({ type: 'update', withdrawn: [], attributes: [], nlri: [], issues: [], ...u });

function client(address: string, asn: number) {
  return recordingSpeaker({
    name: `client-${address}`,
    localAs: asn,
    routerId: address,
    listen: null,
    peers: [{ address: '127.0.0.1', port: PORT, asn: 65000, passive: false, localAddress: address, connectRetryTime: 1 }],
  });
}

describe('RoutingInterceptor with BGP clients on loopback', () => {
  const rii = new RoutingInterceptor({ config });
  const events: RouteEvent[] = [];
  rii.bus.subscribe<RouteEvent>('routing.events.>', (e) => events.push(e));
  const a = client('127.0.0.2', 65001);
  const b = client('127.0.0.3', 65002);
  const peerOf = (s: BgpSpeaker) => s.peers()[0];
  const state = (addr: string) => rii.peers().find((p) => p.address === addr)?.state;

  beforeAll(async () => {
    await rii.start();
    await a.speaker.start();
    await b.speaker.start();
    await waitFor(() => state('127.0.0.2') === 'established' && state('127.0.0.3') === 'established', 'both sessions up');
  });
  afterAll(async () => {
    await a.speaker.stop();
    await b.speaker.stop();
    await rii.stop();
  });

  it('installs IPv4 and IPv6 routes with their attributes', async () => {
    peerOf(a.speaker).sendUpdate(
      update({
        attributes: attrs(
          [65001, 4200000000],
          [
            { type: 'med', flags: 0x80, value: 50 },
            { type: 'communities', flags: 0xc0, communities: [(65001 << 16) | 100] },
            { type: 'large-communities', flags: 0xc0, communities: [[65001, 1, 2]] },
          ],
        ),
        nlri: v4('10.1.0.0/16', '10.2.0.0/16'),
      }),
    );
    const six = fromRouteAttributes(
      routeAttributes({ asSequence: [65001], nextHop: '2001:db8::1' }),
      { fourOctetAs: true, afi: 2, nlri: v4('2001:db8:10::/48') },
    );
    peerOf(a.speaker).sendUpdate(update({ attributes: six }));
    await waitFor(() => rii.routes({ vnet: 'prod' }).length === 3, 'three routes');
    const [r] = rii.routes({ vnet: 'prod', prefix: '10.1.0.0/16' });
    expect(r.best).toMatchObject({ router: 'vr1', peer: '127.0.0.2', peerAs: 65001 });
    expect(r.best.attributes).toMatchObject({
      origin: 'igp',
      asPath: '65001 4200000000',
      nextHop: '198.51.100.1',
      med: 50,
      communities: ['65001:100'],
      largeCommunities: ['65001:1:2'],
    });
    expect(rii.routes({ lookup: '10.2.3.4' })[0].prefix).toBe('10.2.0.0/16');
    const [r6] = rii.routes({ lookup: '2001:db8:10::5' });
    expect(r6.prefix).toBe('2001:db8:10::/48');
    expect(r6.best.attributes.nextHop).toBe('2001:db8::1');
    const announces = events.filter((e) => e.type === 'route-announce' && e.peer === '127.0.0.2');
    expect(announces.map((e) => (e as { prefix: string }).prefix)).toEqual(['10.1.0.0/16', '10.2.0.0/16', '2001:db8:10::/48']);
    // Strictly increasing sequence numbers within the vnet.
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('removes withdrawn routes and says so', async () => {
    peerOf(a.speaker).sendUpdate(update({ withdrawn: v4('10.2.0.0/16') }));
    await waitFor(() => rii.routes({ prefix: '10.2.0.0/16' }).length === 0, 'withdrawal');
    const w = events.filter((e) => e.type === 'route-withdraw');
    expect(w.at(-1)).toMatchObject({ prefix: '10.2.0.0/16', reason: 'withdrawn', peer: '127.0.0.2' });
    const bp = events.filter((e) => e.type === 'best-path-change' && e.prefix === '10.2.0.0/16');
    expect(bp.at(-1)).toMatchObject({ best: null, ecmp: 0 });
  });

  it('refuses routes outside the accepted ranges, counted', async () => {
    peerOf(b.speaker).sendUpdate(update({ attributes: attrs([65002]), nlri: v4('10.3.1.0/24', '10.4.0.0/16', '192.0.2.0/24') }));
    await waitFor(() => (rii.peers().find((p) => p.address === '127.0.0.3')?.routes.rejectedOutOfRange ?? 0) === 2, 'rejections');
    expect(rii.routes({ prefix: '10.3.1.0/24' })).toHaveLength(1);
    expect(rii.routes({ prefix: '10.4.0.0/16' })).toHaveLength(0);
    const rejected = events.filter((e) => e.type === 'route-rejected').map((e) => (e as { prefix: string }).prefix);
    expect(rejected).toEqual(['10.4.0.0/16', '192.0.2.0/24']);
  });

  it('treats an UPDATE with a malformed attribute as a withdrawal and keeps the session', async () => {
    peerOf(b.speaker).sendUpdate(update({ attributes: attrs([65002]), nlri: v4('10.3.2.0/24') }));
    await waitFor(() => rii.routes({ prefix: '10.3.2.0/24' }).length === 1, 'route');
    // ORIGIN value 7 is invalid: RFC 7606 §7.1 says treat-as-withdraw.
    const bad = attrs([65002]);
    bad[0] = { type: 'origin', flags: 0x40, value: 7 };
    peerOf(b.speaker).sendUpdate(update({ attributes: bad, nlri: v4('10.3.2.0/24') }));
    await waitFor(() => rii.routes({ prefix: '10.3.2.0/24' }).length === 0, 'treat-as-withdraw');
    expect(events.filter((e) => e.type === 'route-withdraw').at(-1)).toMatchObject({ prefix: '10.3.2.0/24', reason: 'treat-as-withdraw' });
    expect(state('127.0.0.3')).toBe('established');
  });

  it('answers through the API and the CLI', async () => {
    const api = await startApiServer({ rii, address: '127.0.0.1', port: 0 });
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
    try {
      expect(await main(['node', 'shadownet', 'routes', '--json', '--prefix', '10.1.0.0/16', '--api', api.url])).toBe(0);
      const routes = JSON.parse(out.join(''));
      expect(routes[0].best.attributes.largeCommunities).toEqual(['65001:1:2']);
      out.length = 0;
      expect(await main(['node', 'shadownet', 'peers', '--api', api.url])).toBe(0);
      expect(out.join('')).toMatch(/127\.0\.0\.2\s+65001\s+established/);
      out.length = 0;
      expect(await main(['node', 'shadownet', 'routes', '--lookup', '192.0.2.1', '--api', api.url])).toBe(4);
      expect(await main(['node', 'shadownet', 'routes', '--lookup', 'not-an-ip', '--api', api.url])).toBe(2);
    } finally {
      spy.mockRestore();
      await api.close();
    }
    expect(await main(['node', 'shadownet', 'peers', '--api', 'http://127.0.0.1:1'])).toBe(3);
  });

  it('ends the session with Cease/1 past max-prefix, withdraws its routes, spares the other peer', async () => {
    peerOf(a.speaker).sendUpdate(update({ attributes: attrs([65001]), nlri: v4('10.5.0.0/16', '10.6.0.0/16', '10.7.0.0/16', '10.8.0.0/16') }));
    await waitFor(() => a.rec.states.some((s) => s.notification?.direction === 'received'), 'NOTIFICATION at the client');
    const n = a.rec.states.find((s) => s.notification?.direction === 'received')!.notification!;
    expect([n.code, n.subcode]).toEqual([6, 1]);
    // RFC 4486: AFI 1, SAFI 1, limit 5.
    expect(Array.from(n.data)).toEqual([0, 1, 1, 0, 0, 0, 5]);
    await waitFor(() => rii.routes({ prefix: '10.1.0.0/16' }).length === 0, 'routes of the peer withdrawn');
    expect(events.some((e) => e.type === 'route-withdraw' && e.reason === 'peer-down' && e.peer === '127.0.0.2')).toBe(true);
    expect(events.some((e) => e.type === 'session-state' && e.peer === '127.0.0.2' && e.from === 'established')).toBe(true);
    expect(state('127.0.0.3')).toBe('established');
    expect(rii.peers().find((p) => p.address === '127.0.0.2')!.routes.maxPrefixShutdowns).toBe(1);
  });

  it('refuses a connection from an address that is not a configured peer', async () => {
    const stranger = client('127.0.0.9', 65009);
    await stranger.speaker.start();
    try {
      await waitFor(() => rii.refusedCount > 0, 'refusal');
      expect(rii.refused[0]).toMatchObject({ address: '127.0.0.9', router: 'vr1' });
    } finally {
      await stranger.speaker.stop();
    }
  });
});

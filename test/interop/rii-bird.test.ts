/**
 * shadownet's RII as a virtual router peering real BIRD 2 daemons on loopback:
 * sessions in both directions, attributes intact for IPv4 and IPv6,
 * withdrawals, max-prefix, a restarted daemon re-syncing, malformed UPDATEs
 * from a raw speaker, and a connection from an unconfigured address.
 */
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import {
  InteropSlot,
  RawBgpPeer,
  addressBlock,
  attr,
  rawAttribute,
  requireBinary,
  startBird,
  useInteropLab,
  waitFor,
  type BirdInstance,
  type BirdStaticRoute,
} from './harness/index.js';
import { startRii, type RiiUnderTest } from './harness/rii.js';
import { startApiServer } from '../../src/api/index.js';
import { main } from '../../src/cli/main.js';

const a = addressBlock(InteropSlot.RII_BIRD);
const VR = { name: 'vr1', asn: 65000, routerId: '10.255.2.1', address: a.host(1), port: a.port(1) };
/** BIRD connects to the virtual router. */
const B1 = { address: a.host(2), port: a.port(2), asn: 65001, routerId: '10.255.2.2' };
/** BIRD waits; the virtual router connects. */
const B2 = { address: a.host(3), port: a.port(3), asn: 65002, routerId: '10.255.2.3' };
/** Sends more routes than its max-prefix limit. */
const B3 = { address: a.host(4), port: a.port(4), asn: 65003, routerId: '10.255.2.4' };
/** The raw test speaker. */
const RAW = { address: a.host(5), asn: 65005, routerId: '10.255.2.5' };
/** Not in the config. */
const STRANGER = a.host(9);

const B1_ROUTES: BirdStaticRoute[] = [
  { prefix: '10.1.0.0/24', bgpPath: [65010, 65011], med: 50, communities: [[65001, 100], [65001, 101]], largeCommunities: [[65001, 1, 2]] },
  { prefix: '10.1.1.0/24', bgpPath: [65010] },
  { prefix: '2001:db8:1::/48', bgpPath: [65012], med: 60, communities: [[65001, 200]], largeCommunities: [[65001, 6, 6]] },
];
const B2_ROUTES: BirdStaticRoute[] = [
  { prefix: '10.2.0.0/24', bgpPath: [65020] },
  { prefix: '10.2.1.0/24', bgpPath: [65021] },
  { prefix: '2001:db8:2::/48', bgpPath: [65022] },
];
const B3_ROUTES: BirdStaticRoute[] = [0, 1, 2, 3, 4].map((i) => ({ prefix: `10.3.${i}.0/24` }));

const missing = requireBinary('bird', 'birdc');

describe.skipIf(missing)('RII ↔ BIRD', () => {
  let rii: RiiUnderTest | undefined;
  const lab = useInteropLab('rii-bird', () => (rii ? `--- RII config ---\n${rii.yaml}\n--- RII events ---\n${rii.events.slice(-50).map((e) => JSON.stringify(e)).join('\n')}` : ''));
  let b1: BirdInstance;
  let b2: BirdInstance;
  let b3: BirdInstance;

  const bird = (o: typeof B1, routes: BirdStaticRoute[], passive: boolean, gracefulRestart = false): Promise<BirdInstance> =>
    startBird(lab, {
      routerId: o.routerId,
      address: o.address,
      asn: o.asn,
      listenPort: o.port,
      neighbors: [{ name: 'vr1', address: VR.address, port: VR.port, asn: VR.asn, passive, gracefulRestart }],
      staticRoutes: routes,
    });

  beforeAll(async () => {
    rii = await startRii({
      cidrs: ['10.0.0.0/8', '2001:db8::/32'],
      router: VR,
      peers: [
        { address: B1.address, asn: B1.asn, passive: true },
        { address: B2.address, asn: B2.asn, port: B2.port, passive: false, gracefulRestart: true },
        { address: B3.address, asn: B3.asn, passive: true, maxPrefix: { limit: 3, restartAfter: 600 } },
        { address: RAW.address, asn: RAW.asn, passive: true },
      ],
    });
    [b1, b2] = await Promise.all([bird(B1, B1_ROUTES, false), bird(B2, B2_ROUTES, true, true)]);
  });

  afterAll(async () => {
    await rii?.stop();
  });

  test('BIRD connects to the virtual router and the session establishes', async () => {
    await rii!.waitPeerState(B1.address, 'established');
    await b1.waitEstablished('vr1');
  });

  test('the virtual router connects to a passive BIRD and the session establishes', async () => {
    await rii!.waitPeerState(B2.address, 'established');
    await b2.waitEstablished('vr1');
  });

  test('IPv4 and IPv6 routes arrive with AS path, MED, communities and large communities intact', async () => {
    const v4 = await rii!.waitRoute('10.1.0.0/24');
    expect(v4.vnet).toBe('prod');
    expect(v4.best.router).toBe('vr1');
    expect(v4.best.peer).toBe(B1.address);
    expect(v4.best.peerAs).toBe(B1.asn);
    expect(v4.best.attributes.origin).toBe('igp');
    expect(v4.best.attributes.asPathSegments).toEqual([{ type: 'sequence', asns: [65001, 65010, 65011] }]);
    expect(v4.best.attributes.asPath).toBe('65001 65010 65011');
    expect(v4.best.attributes.nextHop).toBe('198.51.100.1');
    expect(v4.best.attributes.med).toBe(50);
    expect(v4.best.attributes.communities).toEqual(['65001:100', '65001:101']);
    expect(v4.best.attributes.largeCommunities).toEqual(['65001:1:2']);

    const v6 = await rii!.waitRoute('2001:db8:1::/48');
    expect(v6.best.peer).toBe(B1.address);
    expect(v6.best.attributes.asPathSegments).toEqual([{ type: 'sequence', asns: [65001, 65012] }]);
    expect(v6.best.attributes.nextHop).toBe('2001:db8::1');
    expect(v6.best.attributes.med).toBe(60);
    expect(v6.best.attributes.communities).toEqual(['65001:200']);
    expect(v6.best.attributes.largeCommunities).toEqual(['65001:6:6']);

    // Routes of the peer we connected to arrive too.
    const other = await rii!.waitRoute('2001:db8:2::/48');
    expect(other.best.peer).toBe(B2.address);
    expect(other.best.attributes.asPathSegments).toEqual([{ type: 'sequence', asns: [65002, 65022] }]);
    expect(rii!.peer(B1.address).prefixes).toBe(3);
  });

  test('what BIRD sent is visible through `shadownet routes` and `shadownet peers`', async () => {
    await rii!.waitRoute('10.1.0.0/24');
    const api = await startApiServer({ rii: rii!.rii, address: VR.address, port: a.port(50) });
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    try {
      expect(await main(['node', 'shadownet', 'routes', '--json', '--vnet', 'prod', '--lookup', '10.1.0.77', '--api', api.url])).toBe(0);
      const [route] = JSON.parse(out.join(''));
      expect(route).toMatchObject({ prefix: '10.1.0.0/24', best: { peer: B1.address, attributes: { asPath: '65001 65010 65011', med: 50, largeCommunities: ['65001:1:2'] } } });
      out.length = 0;
      expect(await main(['node', 'shadownet', 'routes', '--api', api.url, '--prefix', '2001:db8:1::/48'])).toBe(0);
      expect(out.join('')).toMatch(/2001:db8:1::\/48\s+2001:db8::1\s+\S+ \(AS65001\)\s+65001 65012\s+igp\s+60/);
      out.length = 0;
      expect(await main(['node', 'shadownet', 'peers', '--api', api.url])).toBe(0);
      expect(out.join('')).toMatch(new RegExp(`${B1.address.replace(/\./g, '\\.')}\\s+65001\\s+established\\s+3`));
    } finally {
      spy.mockRestore();
      await api.close();
    }
  });

  test('a route BIRD withdraws leaves the Loc-RIB, and the withdraw is published', async () => {
    await rii!.waitRoute('10.1.1.0/24');
    await b1.removeRoute('10.1.1.0/24');
    await rii!.waitNoRoute('10.1.1.0/24');
    const withdraw = rii!.events.find((e) => e.type === 'route-withdraw' && e.prefix === '10.1.1.0/24');
    expect(withdraw).toMatchObject({ type: 'route-withdraw', peer: B1.address, reason: 'withdrawn' });
    const bestGone = rii!.events.find((e) => e.type === 'best-path-change' && e.prefix === '10.1.1.0/24' && e.best === null);
    expect(bestGone).toBeDefined();
    expect(rii!.route('10.1.0.0/24')).toBeDefined();
  });

  test('a max-prefix breach ends the session with Cease/1, BIRD logs it, other sessions stay up', async () => {
    b3 = await bird(B3, B3_ROUTES, false);
    await waitFor('BIRD to log the Cease it received', () => /Received: Maximum number of prefixes reached/.test(b3.logText()), 15_000);
    const view = rii!.peer(B3.address);
    expect(view.routes.maxPrefixShutdowns).toBe(1);
    expect(view.state).not.toBe('established');
    // restartAfter is 600 s: BIRD keeps trying, the RII keeps it out and holds none of its routes.
    expect(rii!.route('10.3.0.0/24')).toBeUndefined();
    expect(rii!.peer(B1.address).state).toBe('established');
    expect(rii!.peer(B2.address).state).toBe('established');
  });

  test('a BIRD that restarts re-syncs: new routes appear, routes it no longer has go away', async () => {
    await rii!.waitRoute('10.2.1.0/24');
    // SIGKILL: no NOTIFICATION, so graceful restart keeps the routes as stale meanwhile.
    await b2.restart({
      kill: true,
      staticRoutes: [B2_ROUTES[0], B2_ROUTES[2], { prefix: '10.2.5.0/24', bgpPath: [65025], communities: [[65002, 5]] }],
    });
    await rii!.waitPeerState(B2.address, 'established', 20_000);
    await b2.waitEstablished('vr1');
    const added = await rii!.waitRoute('10.2.5.0/24');
    expect(added.best.attributes.communities).toEqual(['65002:5']);
    await rii!.waitNoRoute('10.2.1.0/24');
    const kept = await rii!.waitRoute('10.2.0.0/24');
    expect(kept.best.peer).toBe(B2.address);
    await waitFor('10.2.0.0/24 no longer stale', () => !rii!.route('10.2.0.0/24')?.best.stale);
    expect(rii!.peer(B1.address).state).toBe('established');
  });

  describe('malformed UPDATEs from a raw speaker', () => {
    let raw: RawBgpPeer;
    beforeAll(async () => {
      raw = await RawBgpPeer.establish({ host: VR.address, port: VR.port, localAddress: RAW.address, asn: RAW.asn, routerId: RAW.routerId });
      await rii!.waitPeerState(RAW.address, 'established');
    });
    afterAll(() => raw?.close());

    const base = (asns: number[] = [RAW.asn, 65050]): Uint8Array[] => [attr.origin(0), attr.asPath(asns), attr.nextHop('198.51.100.5')];

    test('an invalid ORIGIN value: treat-as-withdraw, the earlier route is removed, the session stays up', async () => {
      raw.sendUpdate({ attributes: base(), nlri: ['10.5.1.0/24'] });
      await rii!.waitRoute('10.5.1.0/24');
      raw.sendUpdate({ attributes: [rawAttribute(0x40, 1, [7]), ...base().slice(1)], nlri: ['10.5.1.0/24'] });
      await rii!.waitNoRoute('10.5.1.0/24');
      const w = rii!.events.find((e) => e.type === 'route-withdraw' && e.prefix === '10.5.1.0/24');
      expect(w).toMatchObject({ reason: 'treat-as-withdraw' });
      expect(rii!.peer(RAW.address).routes.treatAsWithdraw).toBeGreaterThanOrEqual(1);
      expect(raw.notification()).toBeUndefined();
      expect(rii!.peer(RAW.address).state).toBe('established');
    });

    test('MED with wrong attribute flags: treat-as-withdraw (RFC 7606 §3c), session up', async () => {
      raw.sendUpdate({ attributes: [...base(), rawAttribute(0x40, 4, [0, 0, 0, 9])], nlri: ['10.5.3.0/24'] });
      // A well-formed UPDATE sent after it proves the first was processed (and refused).
      raw.sendUpdate({ attributes: base(), nlri: ['10.5.4.0/24'] });
      await rii!.waitRoute('10.5.4.0/24');
      expect(rii!.route('10.5.3.0/24')).toBeUndefined();
      expect(raw.notification()).toBeUndefined();
      expect(rii!.peer(RAW.address).state).toBe('established');
    });

    test('a malformed ATOMIC_AGGREGATE is discarded and the route installed without it', async () => {
      raw.sendUpdate({ attributes: [...base(), rawAttribute(0x40, 6, [1])], nlri: ['10.5.2.0/24'] });
      const r = await rii!.waitRoute('10.5.2.0/24');
      expect(r.best.attributes.atomicAggregate).toBeUndefined();
      expect(r.best.attributes.asPathSegments).toEqual([{ type: 'sequence', asns: [RAW.asn, 65050] }]);
      expect(rii!.peer(RAW.address).routes.attributeDiscards).toBeGreaterThanOrEqual(1);
      expect(raw.notification()).toBeUndefined();
    });

    test('an unknown optional transitive attribute is kept byte for byte', async () => {
      raw.sendUpdate({ attributes: [...base(), rawAttribute(0xc0, 0xf0, [0xde, 0xad, 0xbe, 0xef])], nlri: ['10.5.5.0/24'] });
      const r = await rii!.waitRoute('10.5.5.0/24');
      const unknown = r.best.attributes.unknown ?? [];
      expect(unknown).toHaveLength(1);
      expect(unknown[0].code).toBe(0xf0);
      expect(unknown[0].value).toBe('deadbeef');
      expect(unknown[0].flags & 0xc0).toBe(0xc0);
    });

    test('an NLRI prefix longer than 32 bits is fatal: NOTIFICATION 3/10 and the session closes; BIRD stays up', async () => {
      raw.sendUpdate({ attributes: base(), nlri: Uint8Array.from([33, 10, 5, 6, 0, 0]) });
      expect(await raw.waitClosed()).toBe(true);
      expect(raw.notification()).toMatchObject({ code: 3, subcode: 10 });
      await waitFor('raw peer down in the RII', () => rii!.peer(RAW.address).state !== 'established');
      // Routes of the reset session are gone; the BIRD sessions never noticed.
      await rii!.waitNoRoute('10.5.4.0/24');
      expect(rii!.peer(B1.address).state).toBe('established');
      expect((await b1.protocols()).vr1?.info).toBe('Established');
      expect(rii!.route('10.1.0.0/24')?.best.peer).toBe(B1.address);
    });
  });

  test('a connection from an address that is not a configured peer is refused', async () => {
    const before = rii!.rii.stats().refused;
    const stranger = await RawBgpPeer.connect({ host: VR.address, port: VR.port, localAddress: STRANGER });
    expect(await stranger.waitClosed()).toBe(true);
    expect(stranger.messages.some((m) => m.type === 1 || m.type === 4)).toBe(false);
    expect(rii!.rii.stats().refused).toBe(before + 1);
    expect(rii!.rii.peers().some((p) => p.address === STRANGER)).toBe(false);
  });
});

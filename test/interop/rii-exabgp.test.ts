/**
 * shadownet's RII as a virtual router peering ExaBGP: both session
 * directions, attributes intact, withdrawals, a restart re-syncing, and raw
 * `attribute [ … ]` announcements: an unknown optional transitive attribute
 * is preserved, a known attribute with wrong flags is treated as withdraw,
 * while a BIRD session on the same virtual router stays established.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  InteropSlot,
  addressBlock,
  requireBinary,
  startBird,
  startExabgp,
  useInteropLab,
  waitFor,
  type BirdInstance,
  type ExabgpInstance,
} from './harness/index.js';
import { startRii, type RiiUnderTest } from './harness/rii.js';

const a = addressBlock(InteropSlot.RII_EXABGP);
const VR = { name: 'vr1', asn: 65000, routerId: '10.255.4.1', address: a.host(1), port: a.port(1) };
/** ExaBGP connects to the virtual router. */
const E1 = { address: a.host(2), port: a.port(2), asn: 65201, routerId: '10.255.4.2' };
/** ExaBGP waits; the virtual router connects. */
const E2 = { address: a.host(3), port: a.port(3), asn: 65202, routerId: '10.255.4.3' };
/** A bystander BIRD on the same virtual router. */
const B = { address: a.host(4), port: a.port(4), asn: 65204, routerId: '10.255.4.4' };

const missing = requireBinary('exabgp', 'python3', 'bird', 'birdc');

describe.skipIf(missing)('RII ↔ ExaBGP', () => {
  let rii: RiiUnderTest | undefined;
  const lab = useInteropLab('rii-exabgp', () => (rii ? `--- RII config ---\n${rii.yaml}\n--- RII events ---\n${rii.events.slice(-50).map((e) => JSON.stringify(e)).join('\n')}` : ''));
  let e1: ExabgpInstance;
  let e2: ExabgpInstance;
  let bird: BirdInstance;

  const exabgp = (o: typeof E1, passive: boolean): Promise<ExabgpInstance> =>
    startExabgp(lab, {
      routerId: o.routerId,
      address: o.address,
      asn: o.asn,
      listenPort: o.port,
      neighbors: [{ address: VR.address, asn: VR.asn, port: VR.port, passive }],
    });

  beforeAll(async () => {
    rii = await startRii({
      cidrs: ['10.0.0.0/8', '2001:db8::/32'],
      router: VR,
      peers: [
        { address: E1.address, asn: E1.asn, passive: true },
        { address: E2.address, asn: E2.asn, port: E2.port, passive: false },
        { address: B.address, asn: B.asn, passive: true },
      ],
    });
    [e1, e2, bird] = await Promise.all([
      exabgp(E1, false),
      exabgp(E2, true),
      startBird(lab, {
        routerId: B.routerId,
        address: B.address,
        asn: B.asn,
        listenPort: B.port,
        neighbors: [{ name: 'vr1', address: VR.address, port: VR.port, asn: VR.asn }],
        staticRoutes: [{ prefix: '10.24.0.0/24', bgpPath: [65240] }],
      }),
    ]);
  });

  afterAll(async () => {
    await rii?.stop();
  });

  test('ExaBGP connects to the virtual router and the session establishes', async () => {
    await rii!.waitPeerState(E1.address, 'established', 20_000);
    await e1.waitUp(VR.address);
  });

  test('the virtual router connects to a passive ExaBGP and the session establishes', async () => {
    await rii!.waitPeerState(E2.address, 'established', 20_000);
    await e2.waitUp(VR.address);
    await rii!.waitPeerState(B.address, 'established');
  });

  test('IPv4 and IPv6 routes arrive with AS path, MED, communities and large communities intact', async () => {
    await e1.waitUp(VR.address);
    await e1.announce(
      'announce route 10.21.0.0/24 next-hop 198.51.100.21 origin egp as-path [ 65201 65210 65211 ] med 80 community [ 65201:1 65201:2 ] large-community [ 65201:3:4 ]',
    );
    await e1.announce(
      'announce route 2001:db8:21::/48 next-hop 2001:db8::21 as-path [ 65201 65212 ] med 81 community [ 65201:5 ] large-community [ 65201:6:7 ]',
    );
    const v4 = await rii!.waitRoute('10.21.0.0/24');
    expect(v4.best.peer).toBe(E1.address);
    expect(v4.best.attributes.origin).toBe('egp');
    expect(v4.best.attributes.asPathSegments).toEqual([{ type: 'sequence', asns: [65201, 65210, 65211] }]);
    expect(v4.best.attributes.nextHop).toBe('198.51.100.21');
    expect(v4.best.attributes.med).toBe(80);
    expect(v4.best.attributes.communities).toEqual(['65201:1', '65201:2']);
    expect(v4.best.attributes.largeCommunities).toEqual(['65201:3:4']);
    const v6 = await rii!.waitRoute('2001:db8:21::/48');
    expect(v6.best.attributes.asPathSegments).toEqual([{ type: 'sequence', asns: [65201, 65212] }]);
    expect(v6.best.attributes.nextHop).toBe('2001:db8::21');
    expect(v6.best.attributes.med).toBe(81);
    expect(v6.best.attributes.communities).toEqual(['65201:5']);
    expect(v6.best.attributes.largeCommunities).toEqual(['65201:6:7']);
  });

  test('withdrawals remove the routes', async () => {
    await e1.announce('announce route 10.21.9.0/24 next-hop 198.51.100.21 as-path [ 65201 ]');
    await rii!.waitRoute('10.21.9.0/24');
    await e1.announce('withdraw route 10.21.9.0/24 next-hop 198.51.100.21');
    await rii!.waitNoRoute('10.21.9.0/24');
    expect(rii!.events.find((e) => e.type === 'route-withdraw' && e.prefix === '10.21.9.0/24')).toMatchObject({ reason: 'withdrawn' });
  });

  test('an unknown optional transitive attribute sent raw is preserved', async () => {
    await e1.announce('announce route 10.21.5.0/24 next-hop 198.51.100.21 as-path [ 65201 ] attribute [ 0xf0 0xc0 0xdeadbeef ]');
    const r = await rii!.waitRoute('10.21.5.0/24');
    const unknown = r.best.attributes.unknown ?? [];
    expect(unknown.map((u) => [u.code, u.value])).toEqual([[0xf0, 'deadbeef']]);
    expect(unknown[0].flags & 0xc0).toBe(0xc0);
  });

  test('MED sent raw with transitive flags is treated as withdraw; sessions stay up', async () => {
    await e1.announce('announce route 10.21.6.0/24 next-hop 198.51.100.21 as-path [ 65201 ]');
    await rii!.waitRoute('10.21.6.0/24');
    await e1.announce('announce route 10.21.6.0/24 next-hop 198.51.100.21 as-path [ 65201 ] attribute [ 0x04 0x40 0x00000009 ]');
    await rii!.waitNoRoute('10.21.6.0/24');
    expect(rii!.events.find((e) => e.type === 'route-withdraw' && e.prefix === '10.21.6.0/24')).toMatchObject({ reason: 'treat-as-withdraw' });
    expect(rii!.peer(E1.address).state).toBe('established');
    expect(e1.neighborState(VR.address)).toBe('up');
    expect(rii!.peer(B.address).state).toBe('established');
    expect((await bird.protocols()).vr1?.info).toBe('Established');
    expect(rii!.route('10.24.0.0/24')?.best.peer).toBe(B.address);
  });

  test('a restarted ExaBGP re-syncs with what it announces after the restart', async () => {
    await e2.waitUp(VR.address);
    await e2.announce('announce route 10.22.0.0/24 next-hop 198.51.100.22 as-path [ 65202 ]');
    await e2.announce('announce route 10.22.1.0/24 next-hop 198.51.100.22 as-path [ 65202 ]');
    await rii!.waitRoute('10.22.1.0/24');
    await e2.restart();
    await waitFor('the RII to notice ExaBGP went down', () => rii!.events.some((e) => e.type === 'session-state' && e.peer === E2.address && e.from === 'established'));
    await rii!.waitPeerState(E2.address, 'established', 20_000);
    await e2.waitUp(VR.address);
    await e2.announce('announce route 10.22.7.0/24 next-hop 198.51.100.22 as-path [ 65202 65227 ]');
    const r = await rii!.waitRoute('10.22.7.0/24');
    expect(r.best.attributes.asPathSegments).toEqual([{ type: 'sequence', asns: [65202, 65227] }]);
    await rii!.waitNoRoute('10.22.1.0/24', 15_000);
  });
});

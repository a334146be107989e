/**
 * shadownet's RII as a virtual router peering real gobgpd instances on
 * loopback: both session directions, IPv4/IPv6 attributes intact, withdrawals,
 * max-prefix (Cease/1 seen by GoBGP), and a restarted gobgpd re-syncing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  InteropSlot,
  addressBlock,
  requireBinary,
  startGobgp,
  useInteropLab,
  waitFor,
  type GobgpInstance,
} from './harness/index.js';
import { startRii, type RiiUnderTest } from './harness/rii.js';

const a = addressBlock(InteropSlot.RII_GOBGP);
const VR = { name: 'vr1', asn: 65000, routerId: '10.255.3.1', address: a.host(1), port: a.port(1) };
/** gobgpd connects to the virtual router. */
const G1 = { address: a.host(2), port: a.port(2), api: a.port(12), asn: 65101, routerId: '10.255.3.2' };
/** gobgpd waits; the virtual router connects. */
const G2 = { address: a.host(3), port: a.port(3), api: a.port(13), asn: 65102, routerId: '10.255.3.3' };
/** Sends more routes than its max-prefix limit. */
const G3 = { address: a.host(4), port: a.port(4), api: a.port(14), asn: 65103, routerId: '10.255.3.4' };

const missing = requireBinary('gobgpd', 'gobgp');

describe.skipIf(missing)('RII ↔ GoBGP', () => {
  let rii: RiiUnderTest | undefined;
  const lab = useInteropLab('rii-gobgp', () => (rii ? `--- RII config ---\n${rii.yaml}\n--- RII events ---\n${rii.events.slice(-50).map((e) => JSON.stringify(e)).join('\n')}` : ''));
  let g1: GobgpInstance;
  let g2: GobgpInstance;

  const gobgp = (o: typeof G1, passive: boolean): Promise<GobgpInstance> =>
    startGobgp(lab, {
      routerId: o.routerId,
      address: o.address,
      asn: o.asn,
      listenPort: o.port,
      apiPort: o.api,
      neighbors: [{ address: VR.address, asn: VR.asn, port: VR.port, passive }],
    });

  beforeAll(async () => {
    rii = await startRii({
      cidrs: ['10.0.0.0/8', '2001:db8::/32'],
      router: VR,
      peers: [
        { address: G1.address, asn: G1.asn, passive: true },
        { address: G2.address, asn: G2.asn, port: G2.port, passive: false },
        { address: G3.address, asn: G3.asn, passive: true, maxPrefix: { limit: 2, restartAfter: 600 } },
      ],
    });
    [g1, g2] = await Promise.all([gobgp(G1, false), gobgp(G2, true)]);
    await g1.addRoute('10.11.0.0/24', { asPath: [65110, 65111], med: 70, communities: [[65101, 1], [65101, 2]], largeCommunities: [[65101, 7, 8]] });
    await g1.addRoute('10.11.1.0/24', { asPath: [65110] });
    await g1.addRoute('2001:db8:11::/48', { asPath: [65112], med: 5, communities: [[65101, 6]], largeCommunities: [[65101, 9, 9]] });
    await g2.addRoute('10.12.0.0/24', { asPath: [65120] });
    await g2.addRoute('10.12.1.0/24', { asPath: [65121] });
  });

  afterAll(async () => {
    await rii?.stop();
  });

  test('gobgpd connects to the virtual router and the session establishes', async () => {
    await rii!.waitPeerState(G1.address, 'established');
    await g1.waitEstablished(VR.address);
  });

  test('the virtual router connects to a passive gobgpd and the session establishes', async () => {
    await rii!.waitPeerState(G2.address, 'established');
    await g2.waitEstablished(VR.address);
  });

  test('IPv4 and IPv6 routes arrive with AS path, MED, communities and large communities intact', async () => {
    const v4 = await rii!.waitRoute('10.11.0.0/24');
    expect(v4.best.peer).toBe(G1.address);
    expect(v4.best.peerAs).toBe(G1.asn);
    expect(v4.best.attributes.origin).toBe('igp');
    expect(v4.best.attributes.asPathSegments).toEqual([{ type: 'sequence', asns: [65101, 65110, 65111] }]);
    expect(v4.best.attributes.nextHop).toBe('198.51.100.2');
    expect(v4.best.attributes.med).toBe(70);
    expect(v4.best.attributes.communities).toEqual(['65101:1', '65101:2']);
    expect(v4.best.attributes.largeCommunities).toEqual(['65101:7:8']);

    const v6 = await rii!.waitRoute('2001:db8:11::/48');
    expect(v6.best.attributes.asPathSegments).toEqual([{ type: 'sequence', asns: [65101, 65112] }]);
    expect(v6.best.attributes.nextHop).toBe('2001:db8::2');
    expect(v6.best.attributes.med).toBe(5);
    expect(v6.best.attributes.communities).toEqual(['65101:6']);
    expect(v6.best.attributes.largeCommunities).toEqual(['65101:9:9']);

    const other = await rii!.waitRoute('10.12.0.0/24');
    expect(other.best.peer).toBe(G2.address);
    expect(other.best.attributes.asPathSegments).toEqual([{ type: 'sequence', asns: [65102, 65120] }]);
  });

  test('a route deleted in gobgpd is withdrawn from the Loc-RIB', async () => {
    await rii!.waitRoute('10.11.1.0/24');
    await g1.deleteRoute('10.11.1.0/24');
    await rii!.waitNoRoute('10.11.1.0/24');
    expect(rii!.events.find((e) => e.type === 'route-withdraw' && e.prefix === '10.11.1.0/24')).toMatchObject({
      peer: G1.address,
      reason: 'withdrawn',
    });
    await g1.deleteRoute('2001:db8:11::/48');
    await rii!.waitNoRoute('2001:db8:11::/48');
    expect(rii!.route('10.11.0.0/24')).toBeDefined();
  });

  test('a max-prefix breach ends the session with Cease/1 that gobgpd reports; other sessions stay up', async () => {
    const g3 = await gobgp(G3, false);
    for (let i = 0; i < 4; i++) await g3.addRoute(`10.13.${i}.0/24`);
    await waitFor(
      'gobgpd to log the Cease/1 it received',
      () => /maximum number of prefixes reached|"Code":6,"Subcode":1/i.test(g3.logText()),
      15_000,
    );
    expect(rii!.peer(G3.address).routes.maxPrefixShutdowns).toBe(1);
    expect(await g3.neighborState(VR.address)).not.toBe('established');
    expect(rii!.route('10.13.0.0/24')).toBeUndefined();
    expect(rii!.peer(G1.address).state).toBe('established');
    expect(rii!.peer(G2.address).state).toBe('established');
  });

  test('a gobgpd that restarts re-syncs with the routes it has now', async () => {
    await rii!.waitRoute('10.12.1.0/24');
    await g2.restart();
    await g2.addRoute('10.12.0.0/24', { asPath: [65120], communities: [[65102, 9]] });
    await g2.addRoute('10.12.7.0/24', { asPath: [65127] });
    await rii!.waitPeerState(G2.address, 'established', 20_000);
    const added = await rii!.waitRoute('10.12.7.0/24');
    expect(added.best.peer).toBe(G2.address);
    await waitFor('10.12.0.0/24 with its new community', () => rii!.route('10.12.0.0/24')?.best.attributes.communities?.includes('65102:9'));
    await rii!.waitNoRoute('10.12.1.0/24', 15_000);
    expect(rii!.peer(G1.address).state).toBe('established');
  });
});

/**
 * Proves the interop harness on its own, before shadownet is in the loop:
 * real BIRD, GoBGP and ExaBGP peer on loopback and pass routes whose
 * attributes arrive intact, and the raw test speaker is understood by GoBGP.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import {
  InteropSlot,
  RawBgpPeer,
  addressBlock,
  attr,
  rawAttribute,
  requireBinary,
  startBird,
  startExabgp,
  startGobgp,
  useInteropLab,
  waitFor,
  type BirdInstance,
  type GobgpInstance,
} from './harness/index.js';

const a = addressBlock(InteropSlot.HARNESS);
const BIRD = { address: a.host(2), port: a.port(2), asn: 65001, routerId: '10.255.1.2' };
const GOBGP = { address: a.host(3), port: a.port(3), api: a.port(4), asn: 65002, routerId: '10.255.1.3' };
const EXA = { address: a.host(5), port: a.port(5), asn: 65005, routerId: '10.255.1.5' };
const RAW = { address: a.host(6), asn: 65006, routerId: '10.255.1.6' };

interface GobgpPath {
  attrs: { type: number; [k: string]: unknown }[];
}
const attrOf = (p: GobgpPath, type: number): Record<string, unknown> | undefined => p.attrs.find((x) => x.type === type);

const missing = requireBinary('bird', 'birdc', 'gobgpd', 'gobgp');

describe.skipIf(missing)('interop harness: BIRD and GoBGP on loopback', () => {
  const lab = useInteropLab('harness');
  let bird: BirdInstance;
  let gobgp: GobgpInstance;

  beforeAll(async () => {
    [bird, gobgp] = await Promise.all([
      startBird(lab, {
        routerId: BIRD.routerId,
        address: BIRD.address,
        asn: BIRD.asn,
        listenPort: BIRD.port,
        neighbors: [{ name: 'gobgp', address: GOBGP.address, port: GOBGP.port, asn: GOBGP.asn }],
        staticRoutes: [
          {
            prefix: '10.1.0.0/24',
            bgpPath: [65010, 65011],
            med: 50,
            communities: [[65001, 100]],
            largeCommunities: [[65001, 1, 2]],
          },
          { prefix: '10.1.1.0/24', bgpPath: [65010] },
          { prefix: '2001:db8:1::/48', bgpPath: [65012], communities: [[65001, 200]], largeCommunities: [[65001, 6, 6]] },
        ],
      }),
      startGobgp(lab, {
        routerId: GOBGP.routerId,
        address: GOBGP.address,
        asn: GOBGP.asn,
        listenPort: GOBGP.port,
        apiPort: GOBGP.api,
        neighbors: [
          { address: BIRD.address, asn: BIRD.asn, port: BIRD.port, passive: true },
          { address: EXA.address, asn: EXA.asn, port: EXA.port, passive: true },
          { address: RAW.address, asn: RAW.asn, port: 179, passive: true, families: ['ipv4'] },
        ],
      }),
    ]);
    await gobgp.addRoute('10.2.0.0/24', {
      asPath: [65020, 65021],
      med: 7,
      communities: [[65002, 1]],
      largeCommunities: [[65002, 3, 4]],
    });
  });

  test('BIRD and GoBGP reach Established with each other', async () => {
    await bird.waitEstablished('gobgp');
    await gobgp.waitEstablished(BIRD.address);
    expect((await bird.protocols()).gobgp).toEqual({ state: 'up', info: 'Established' });
    expect(await gobgp.neighborState(BIRD.address)).toBe('established');
  });

  test('a GoBGP route reaches BIRD with AS path, MED, communities and large communities intact', async () => {
    const text = await waitFor('10.2.0.0/24 in BIRD', async () => {
      const t = await bird.showRoute('10.2.0.0/24');
      return t.includes('BGP.as_path') && t;
    });
    expect(text).toMatch(/BGP\.as_path: 65002 65020 65021\n/);
    expect(text).toMatch(/BGP\.next_hop: 198\.51\.100\.2\n/);
    expect(text).toMatch(/BGP\.med: 7\n/);
    expect(text).toMatch(/BGP\.community: \(65002,1\)\n/);
    expect(text).toMatch(/BGP\.large_community: \(65002, 3, 4\)\n/);
  });

  test('BIRD static routes reach GoBGP intact, IPv4 and IPv6', async () => {
    const v4 = await waitFor('10.1.0.0/24 in GoBGP adj-in', async () => (await gobgp.adjIn(BIRD.address))['10.1.0.0/24']);
    const p = v4[0] as GobgpPath;
    expect(attrOf(p, 2)?.as_paths).toEqual([{ segment_type: 2, num: 3, asns: [65001, 65010, 65011] }]);
    expect(attrOf(p, 3)?.nexthop).toBe('198.51.100.1');
    expect(attrOf(p, 4)?.metric).toBe(50);
    expect(attrOf(p, 8)?.communities).toEqual([((65001 << 16) | 100) >>> 0]);
    expect(attrOf(p, 32)?.value).toEqual([{ ASN: 65001, LocalData1: 1, LocalData2: 2 }]);

    const v6 = await waitFor('2001:db8:1::/48 in GoBGP adj-in', async () => (await gobgp.adjIn(BIRD.address, 'ipv6'))['2001:db8:1::/48']);
    const q = v6[0] as GobgpPath;
    expect(attrOf(q, 2)?.as_paths).toEqual([{ segment_type: 2, num: 2, asns: [65001, 65012] }]);
    expect(attrOf(q, 14)?.nexthop).toBe('2001:db8::1');
    expect(attrOf(q, 8)?.communities).toEqual([((65001 << 16) | 200) >>> 0]);
    expect(attrOf(q, 32)?.value).toEqual([{ ASN: 65001, LocalData1: 6, LocalData2: 6 }]);
  });

  test('removing a BIRD static route (reconfigure) withdraws it from GoBGP', async () => {
    await waitFor('10.1.1.0/24 in GoBGP', async () => (await gobgp.adjIn(BIRD.address))['10.1.1.0/24']);
    await bird.removeRoute('10.1.1.0/24');
    await waitFor('10.1.1.0/24 gone from GoBGP', async () => !(await gobgp.adjIn(BIRD.address))['10.1.1.0/24']);
    expect((await gobgp.adjIn(BIRD.address))['10.1.0.0/24']).toBeDefined();
    await bird.addRoute({ prefix: '10.1.2.0/24', bgpPath: [65013], med: 1 });
    const added = await waitFor('10.1.2.0/24 in GoBGP', async () => (await gobgp.adjIn(BIRD.address))['10.1.2.0/24']);
    expect(attrOf(added[0] as GobgpPath, 2)?.as_paths).toEqual([{ segment_type: 2, num: 2, asns: [65001, 65013] }]);
  });

  test('a raw test speaker establishes with GoBGP and its unknown optional transitive attribute is passed through', async () => {
    const raw = await RawBgpPeer.establish({
      host: GOBGP.address,
      port: GOBGP.port,
      localAddress: RAW.address,
      asn: RAW.asn,
      routerId: RAW.routerId,
      families: ['ipv4'],
    });
    try {
      raw.sendUpdate({
        attributes: [
          attr.origin(0),
          attr.asPath([RAW.asn, 65060]),
          attr.nextHop('198.51.100.6'),
          rawAttribute(0xc0, 0xf0, [0xde, 0xad, 0xbe, 0xef]),
        ],
        nlri: ['10.6.0.0/24'],
      });
      const got = await waitFor('10.6.0.0/24 from the raw speaker', async () => (await gobgp.adjIn(RAW.address))['10.6.0.0/24']);
      const p = got[0] as GobgpPath;
      expect(attrOf(p, 2)?.as_paths).toEqual([{ segment_type: 2, num: 2, asns: [RAW.asn, 65060] }]);
      expect(attrOf(p, 0xf0)).toBeDefined();
      expect(await gobgp.neighborState(RAW.address)).toBe('established');
    } finally {
      raw.close();
    }
  });

  test.skipIf(requireBinary('exabgp', 'python3'))('ExaBGP announces through the API pipe, including a raw attribute', async () => {
    const exa = await startExabgp(lab, {
      routerId: EXA.routerId,
      address: EXA.address,
      asn: EXA.asn,
      listenPort: EXA.port,
      neighbors: [{ address: GOBGP.address, asn: GOBGP.asn, port: GOBGP.port }],
    });
    await exa.waitUp(GOBGP.address);
    // ExaBGP sends the AS path as given: on eBGP the first ASN must be its own.
    await exa.announce('announce route 10.5.0.0/24 next-hop 198.51.100.5 as-path [ 65005 65050 ] med 9 community [ 65005:5 ] large-community [ 65005:7:8 ] attribute [ 0xf1 0xc0 0x0102 ]');
    const got = await waitFor('10.5.0.0/24 from ExaBGP', async () => (await gobgp.adjIn(EXA.address))['10.5.0.0/24']);
    const p = got[0] as GobgpPath;
    expect(attrOf(p, 2)?.as_paths).toEqual([{ segment_type: 2, num: 2, asns: [EXA.asn, 65050] }]);
    expect(attrOf(p, 4)?.metric).toBe(9);
    expect(attrOf(p, 8)?.communities).toEqual([((65005 << 16) | 5) >>> 0]);
    expect(attrOf(p, 32)?.value).toEqual([{ ASN: 65005, LocalData1: 7, LocalData2: 8 }]);
    expect(attrOf(p, 0xf1)).toBeDefined();
    await exa.announce('withdraw route 10.5.0.0/24 next-hop 198.51.100.5');
    await waitFor('10.5.0.0/24 withdrawn', async () => !(await gobgp.adjIn(EXA.address))['10.5.0.0/24']);
    // ExaBGP reports what GoBGP sent it (BIRD's and GoBGP's own routes) to the API process as JSON.
    await waitFor('an UPDATE JSON from ExaBGP', () => exa.messages().some((m) => m.type === 'update'));
  });
});

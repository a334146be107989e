import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SimulatedClock } from '../../core/clock.js';
import { Afi, formatPrefix, parseAddress, parsePrefix, type Prefix } from '../../core/prefix.js';
import { AsPathSegmentType, Origin, type RouteAttributes, type RouteEvent, routeAttributes } from '../../core/types.js';
import { AttributeStore } from './attribute-store.js';
import { RibErrorCode } from './errors.js';
import { VnetRib, type RibPeer } from './vnet-rib.js';

function attrs(over: Partial<RouteAttributes> & { path?: number[] } = {}): RouteAttributes {
  const { path, ...rest } = over;
  return routeAttributes({ nextHop: '192.0.2.1', asSequence: path, ...rest });
}

const pfx = (s: string): Prefix => parsePrefix(s);

function peer(n: number, over: Partial<RibPeer> = {}): RibPeer {
  const address = over.address ?? `10.0.0.${n}`;
  return { id: `r1|${address}`, router: 'r1', address, asn: 65000 + n, bgpId: `192.0.2.${n}`, ibgp: false, ...over };
}

function harness(opts: { ecmpMax?: number; peers?: RibPeer[] } = {}) {
  const clock = new SimulatedClock(1_000_000);
  const events: RouteEvent[] = [];
  const store = new AttributeStore();
  const rib = new VnetRib({ vnet: 'blue', clock, emit: (e) => events.push(e), ecmpMax: opts.ecmpMax, store });
  const peers = opts.peers ?? [peer(1), peer(2), peer(3)];
  for (const p of peers) rib.addPeer(p);
  const ids = peers.map((p) => p.id);
  const types = () => events.map((e) => e.type);
  const bestPeer = (p: string) => rib.get(pfx(p))?.best.peer;
  return { clock, events, store, rib, ids, types, bestPeer };
}

/** Announce the same prefix from each peer with its own attributes; returns the best path's peer address. */
function race(paths: { peer: RibPeer; a: RouteAttributes }[], order = paths.map((_, i) => i)): string | undefined {
  const h = harness({ peers: paths.map((p) => p.peer) });
  for (const i of order) h.rib.announce(paths[i].peer.id, pfx('203.0.113.0/24'), paths[i].a);
  return h.bestPeer('203.0.113.0/24');
}

describe('VnetRib decision process (RFC 4271 §9.1.2.2)', () => {
  it('prefers the highest LOCAL_PREF over a shorter AS_PATH', () => {
    expect(
      race([
        { peer: peer(1), a: attrs({ path: [65001], localPref: 100 }) },
        { peer: peer(2), a: attrs({ path: [65002, 1, 2, 3], localPref: 200 }) },
      ]),
    ).toBe('10.0.0.2');
  });

  it('takes a missing LOCAL_PREF as 100', () => {
    const none = { peer: peer(1), a: attrs({ path: [65001] }) };
    expect(race([none, { peer: peer(2), a: attrs({ path: [65002], localPref: 99 }) }])).toBe('10.0.0.1');
    expect(race([none, { peer: peer(2), a: attrs({ path: [65002], localPref: 101 }) }])).toBe('10.0.0.2');
  });

  it('prefers the shorter AS_PATH; an AS_SET counts one, confederation segments none', () => {
    const set: RouteAttributes = attrs({
      asPath: [
        { type: AsPathSegmentType.AS_SEQUENCE, asns: [65003] },
        { type: AsPathSegmentType.AS_SET, asns: [1, 2, 3, 4] },
      ],
    });
    const confed: RouteAttributes = attrs({
      asPath: [
        { type: AsPathSegmentType.AS_CONFED_SEQUENCE, asns: [64512, 64513, 64514] },
        { type: AsPathSegmentType.AS_SEQUENCE, asns: [65001] },
      ],
    });
    // Length 2 (sequence of 1 + set) beats length 3.
    expect(race([{ peer: peer(1), a: attrs({ path: [65001, 5, 6] }) }, { peer: peer(3), a: set }])).toBe('10.0.0.3');
    // Length 1 (confed ignored) beats length 2.
    expect(race([{ peer: peer(1), a: attrs({ path: [65001, 7] }) }, { peer: peer(3), a: confed }])).toBe('10.0.0.3');
  });

  it('prefers the lowest ORIGIN', () => {
    expect(
      race([
        { peer: peer(1), a: attrs({ path: [65001], origin: Origin.INCOMPLETE }) },
        { peer: peer(2), a: attrs({ path: [65002], origin: Origin.EGP }) },
      ]),
    ).toBe('10.0.0.2');
  });

  it('compares MED only between paths from the same neighbour AS; a missing MED is 0', () => {
    const p1 = peer(1, { asn: 65010 });
    const p2 = peer(2, { asn: 65010 });
    expect(race([{ peer: p1, a: attrs({ path: [65010], med: 50 }) }, { peer: p2, a: attrs({ path: [65010], med: 10 }) }])).toBe('10.0.0.2');
    expect(race([{ peer: p1, a: attrs({ path: [65010] }) }, { peer: p2, a: attrs({ path: [65010], med: 10 }) }])).toBe('10.0.0.1');
    // Different neighbour AS: MED is not compared, the lower BGP identifier (peer 1) wins.
    expect(race([{ peer: peer(1), a: attrs({ path: [65001], med: 50 }) }, { peer: peer(2), a: attrs({ path: [65002], med: 10 }) }])).toBe('10.0.0.1');
  });

  it('applies MED within neighbour-AS groups, so the outcome never depends on arrival order', () => {
    // Pairwise: a beats b (router id), c beats a (MED, same AS), b beats c (router id): a cycle.
    // RFC 4271: c removes a within AS 65100, then b beats c on router id.
    const a = { peer: peer(1, { asn: 65100 }), a: attrs({ path: [65100], med: 10 }) };
    const b = { peer: peer(2, { asn: 65200 }), a: attrs({ path: [65200], med: 0 }) };
    const c = { peer: peer(3, { asn: 65100 }), a: attrs({ path: [65100], med: 5 }) };
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    for (const order of orders) expect(race([a, b, c], order), `order ${order.join(',')}`).toBe('10.0.0.2');
  });

  it('prefers eBGP over iBGP', () => {
    expect(
      race([
        { peer: peer(1, { ibgp: true, asn: 65000 }), a: attrs({ path: [65009] }) },
        { peer: peer(2), a: attrs({ path: [65009] }) },
      ]),
    ).toBe('10.0.0.2');
  });

  it('breaks ties on the lowest BGP identifier, using ORIGINATOR_ID when present', () => {
    const p1 = peer(1, { bgpId: '10.9.9.9' });
    const p2 = peer(2, { bgpId: '10.1.1.1' });
    expect(race([{ peer: p1, a: attrs({ path: [65001] }) }, { peer: p2, a: attrs({ path: [65002] }) }])).toBe('10.0.0.2');
    expect(
      race([
        { peer: p1, a: attrs({ path: [65001], originatorId: '10.0.0.1' }) },
        { peer: p2, a: attrs({ path: [65002] }) },
      ]),
    ).toBe('10.0.0.1');
  });

  it('breaks a remaining tie on the lowest peer address', () => {
    const p9 = peer(9, { bgpId: '1.1.1.1', address: '10.0.0.9' });
    const p10 = peer(10, { bgpId: '1.1.1.1', address: '10.0.0.10' });
    expect(race([{ peer: p9, a: attrs({ path: [65001] }) }, { peer: p10, a: attrs({ path: [65002] }) }])).toBe('10.0.0.9');
  });

  it('lists every candidate best first', () => {
    const h = harness();
    h.rib.announce(h.ids[0], pfx('198.51.100.0/24'), attrs({ path: [65001], localPref: 50 }));
    h.rib.announce(h.ids[1], pfx('198.51.100.0/24'), attrs({ path: [65002], localPref: 300 }));
    h.rib.announce(h.ids[2], pfx('198.51.100.0/24'), attrs({ path: [65003], localPref: 200 }));
    expect(h.rib.get(pfx('198.51.100.0/24'))!.paths.map((p) => p.peer)).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.1']);
  });
});

describe('VnetRib ECMP', () => {
  it('installs paths equal through the eBGP/iBGP step, across neighbour ASes, best first', () => {
    const h = harness({ peers: [peer(1), peer(2), peer(3), peer(4, { ibgp: true, asn: 65000 })] });
    const p = pfx('198.51.100.0/24');
    h.rib.announce(h.ids[2], p, attrs({ path: [65003], med: 7 }));
    h.rib.announce(h.ids[0], p, attrs({ path: [65001], med: 100 }));
    h.rib.announce(h.ids[1], p, attrs({ path: [65002, 9] }));
    h.rib.announce(h.ids[3], p, attrs({ path: [65004] }));
    const e = h.rib.get(p)!;
    expect(e.best.peer).toBe('10.0.0.1');
    expect(e.ecmp.map((x) => x.peer)).toEqual(['10.0.0.1', '10.0.0.3']);
    expect(e.paths).toHaveLength(4);
    const last = h.events.filter((x) => x.type === 'best-path-change').at(-1);
    expect(last).toMatchObject({ ecmp: 2 });
  });

  it('caps the equal-cost set at ecmpMax', () => {
    const h = harness({ ecmpMax: 2 });
    for (const id of h.ids) h.rib.announce(id, pfx('198.51.100.0/24'), attrs({ path: [1] }));
    expect(h.rib.get(pfx('198.51.100.0/24'))!.ecmp.map((x) => x.peer)).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('reports a change of the equal-cost set even when the best path stays', () => {
    const h = harness();
    const p = pfx('198.51.100.0/24');
    h.rib.announce(h.ids[0], p, attrs({ path: [1] }));
    h.events.length = 0;
    h.rib.announce(h.ids[1], p, attrs({ path: [2] }));
    expect(h.types()).toEqual(['route-announce', 'best-path-change']);
    expect(h.events[1]).toMatchObject({ ecmp: 2, best: { peer: '10.0.0.1' }, previous: { peer: '10.0.0.1' } });
    h.events.length = 0;
    // A worse path joins the candidates only: nothing installed changes.
    h.rib.announce(h.ids[2], p, attrs({ path: [3, 4] }));
    expect(h.types()).toEqual(['route-announce']);
  });
});

describe('VnetRib updates and events', () => {
  it('emits announce then best-path-change, with increasing seq and clock time', () => {
    const h = harness();
    h.clock.advance(5);
    h.rib.announce(h.ids[0], pfx('192.0.2.0/24'), attrs({ path: [65001] }));
    expect(h.events).toHaveLength(2);
    expect(h.events[0]).toMatchObject({ type: 'route-announce', vnet: 'blue', router: 'r1', peer: '10.0.0.1', peerAs: 65001, prefix: '192.0.2.0/24', replaced: false, time: 1_000_005 });
    expect(h.events[1]).toMatchObject({ type: 'best-path-change', prefix: '192.0.2.0/24', previous: null, ecmp: 1, best: { peer: '10.0.0.1', peerAs: 65001 } });
    expect(h.events[1].seq).toBeGreaterThan(h.events[0].seq);
    expect(h.rib.nextSeq()).toBeGreaterThan(h.events[1].seq);
  });

  it('replaces a route implicitly and releases the old attributes', () => {
    const h = harness();
    const p = pfx('192.0.2.0/24');
    h.rib.announce(h.ids[0], p, attrs({ path: [65001], med: 1 }));
    h.rib.announce(h.ids[0], p, attrs({ path: [65001], med: 2 }));
    expect(h.types()).toEqual(['route-announce', 'best-path-change', 'route-announce', 'best-path-change']);
    expect(h.events[2]).toMatchObject({ replaced: true });
    expect(h.rib.adjRibInCount(h.ids[0])).toBe(1);
    expect(h.rib.get(p)!.best.attributes.med).toBe(2);
    expect(h.rib.stats()).toMatchObject({ prefixes: 1, paths: 1, attributeSets: 1 });
  });

  it('reports the same attributes again as a replacement without a best-path change', () => {
    const h = harness();
    const p = pfx('192.0.2.0/24');
    h.rib.announce(h.ids[0], p, attrs({ path: [65001] }));
    const before = h.rib.get(p)!.best;
    h.rib.announce(h.ids[0], p, attrs({ path: [65001] }));
    expect(h.types()).toEqual(['route-announce', 'best-path-change', 'route-announce']);
    expect(h.events[2]).toMatchObject({ replaced: true });
    expect(h.rib.get(p)!.best).toBe(before);
    expect(h.store.refs(before.attributes)).toBe(1);
  });

  it('shares one attribute object between routes with equal attributes', () => {
    const h = harness();
    h.rib.announce(h.ids[0], pfx('192.0.2.0/24'), attrs({ path: [65001] }));
    h.rib.announce(h.ids[0], pfx('198.51.100.0/24'), attrs({ path: [65001] }));
    expect(h.rib.get(pfx('192.0.2.0/24'))!.best.attributes).toBe(h.rib.get(pfx('198.51.100.0/24'))!.best.attributes);
    expect(h.rib.stats().attributeSets).toBe(1);
  });

  it('ignores a withdrawal of a route it does not hold', () => {
    const h = harness();
    h.rib.announce(h.ids[0], pfx('192.0.2.0/24'), attrs({ path: [65001] }));
    h.events.length = 0;
    expect(h.rib.withdraw(h.ids[1], pfx('192.0.2.0/24'))).toBe(false);
    expect(h.rib.withdraw(h.ids[0], pfx('192.0.2.0/25'))).toBe(false);
    expect(h.rib.withdraw(h.ids[0], pfx('192.0.2.0/24'), 'withdrawn', 7)).toBe(false);
    expect(h.rib.withdraw('nobody', pfx('192.0.2.0/24'))).toBe(false);
    expect(h.events).toEqual([]);
  });

  it('withdraws: losing path quietly, then the best, then the prefix leaves the Loc-RIB', () => {
    const h = harness();
    const p = pfx('192.0.2.0/24');
    h.rib.announce(h.ids[0], p, attrs({ path: [65001] }));
    h.rib.announce(h.ids[1], p, attrs({ path: [65002, 1] }));
    h.events.length = 0;
    expect(h.rib.withdraw(h.ids[1], p)).toBe(true);
    expect(h.types()).toEqual(['route-withdraw']);
    expect(h.rib.withdraw(h.ids[0], p, 'treat-as-withdraw')).toBe(true);
    expect(h.types()).toEqual(['route-withdraw', 'route-withdraw', 'best-path-change']);
    expect(h.events[1]).toMatchObject({ reason: 'treat-as-withdraw', peer: '10.0.0.1' });
    expect(h.events[2]).toMatchObject({ best: null, previous: { peer: '10.0.0.1' }, ecmp: 0 });
    expect(h.rib.get(p)).toBeUndefined();
    expect(h.rib.stats()).toMatchObject({ prefixes: 0, paths: 0, attributeSets: 0 });
  });

  it('keeps ADD-PATH paths of one peer apart by path identifier', () => {
    const h = harness();
    const p = pfx('192.0.2.0/24');
    h.rib.announce(h.ids[0], p, attrs({ path: [65001, 2] }), 1);
    h.rib.announce(h.ids[0], p, attrs({ path: [65001] }), 2);
    expect(h.rib.adjRibInCount(h.ids[0])).toBe(2);
    expect(h.rib.get(p)!.best.pathId).toBe(2);
    expect(h.rib.withdraw(h.ids[0], p, 'withdrawn', 2)).toBe(true);
    expect(h.rib.get(p)!.best.pathId).toBe(1);
    expect([...h.rib.adjRibIn(h.ids[0])]).toEqual([{ prefix: p, pathId: 1, attributes: h.rib.get(p)!.best.attributes, stale: false }]);
  });

  it('withdraws every route of a peer that goes down and frees the attributes', () => {
    const h = harness();
    h.rib.announce(h.ids[0], pfx('192.0.2.0/24'), attrs({ path: [65001] }));
    h.rib.announce(h.ids[0], pfx('2001:db8::/32'), attrs({ path: [65001], nextHop: '2001:db8::1' }));
    h.rib.announce(h.ids[1], pfx('192.0.2.0/24'), attrs({ path: [65002, 5] }));
    h.events.length = 0;
    h.rib.peerDown(h.ids[0]);
    const withdraws = h.events.filter((e) => e.type === 'route-withdraw');
    expect(withdraws.map((e) => e.type === 'route-withdraw' && e.reason)).toEqual(['peer-down', 'peer-down']);
    expect(h.bestPeer('192.0.2.0/24')).toBe('10.0.0.2');
    expect(h.rib.get(pfx('2001:db8::/32'))).toBeUndefined();
    expect(h.rib.adjRibInCount(h.ids[0])).toBe(0);
    h.rib.removePeer(h.ids[1]);
    expect(h.rib.stats()).toEqual({ prefixes: 0, paths: 0, attributeSets: 0, peers: 2, listenerErrors: 0 });
    expect(h.store.size).toBe(0);
  });

  it('puts paths in events that serialise without RIB internals', () => {
    const h = harness();
    h.rib.announce(h.ids[0], pfx('192.0.2.0/24'), attrs({ path: [65001] }));
    const json = JSON.parse(JSON.stringify(h.events[1]));
    expect(Object.keys(json.best).sort()).toEqual(['attributes', 'peer', 'peerAs', 'router', 'stale']);
  });

  it('refuses unknown peers and malformed prefixes with typed errors', () => {
    const h = harness();
    expect(() => h.rib.announce('nobody', pfx('192.0.2.0/24'), attrs())).toThrow(expect.objectContaining({ code: RibErrorCode.UNKNOWN_PEER }));
    const bad: Prefix = { afi: Afi.IPV4, length: 33, address: new Uint8Array(4) };
    expect(() => h.rib.announce(h.ids[0], bad, attrs())).toThrow(expect.objectContaining({ code: RibErrorCode.INVALID_PREFIX, field: 'prefix.length' }));
    const short: Prefix = { afi: Afi.IPV6, length: 32, address: new Uint8Array(4) };
    expect(() => h.rib.announce(h.ids[0], short, attrs())).toThrow(expect.objectContaining({ field: 'prefix.address' }));
    expect(() => h.rib.addPeer(peer(7, { bgpId: 'x' }))).toThrow(expect.objectContaining({ code: RibErrorCode.INVALID_PEER, field: 'bgpId' }));
    expect(h.rib.stats().attributeSets).toBe(0);
  });

  it('keeps its state consistent when a listener throws, and counts it', () => {
    const seen: unknown[] = [];
    const rib = new VnetRib({
      vnet: 'x',
      clock: new SimulatedClock(),
      emit: () => {
        throw new Error('listener bug');
      },
      onListenerError: (err) => seen.push(err),
    });
    rib.addPeer(peer(1));
    rib.announce(peer(1).id, pfx('192.0.2.0/24'), attrs());
    rib.peerDown(peer(1).id);
    expect(rib.stats()).toMatchObject({ prefixes: 0, paths: 0, attributeSets: 0, listenerErrors: 4 });
    expect(seen).toHaveLength(4);
  });

  it('counts attribute references across vnets sharing one store', () => {
    const store = new AttributeStore();
    const clock = new SimulatedClock();
    const red = new VnetRib({ vnet: 'red', clock, store });
    const green = new VnetRib({ vnet: 'green', clock, store });
    for (const r of [red, green]) r.addPeer(peer(1));
    red.announce(peer(1).id, pfx('192.0.2.0/24'), attrs({ path: [1] }));
    green.announce(peer(1).id, pfx('192.0.2.0/24'), attrs({ path: [1] }));
    expect(store.size).toBe(1);
    red.removePeer(peer(1).id);
    expect(store.size).toBe(1);
    expect(green.get(pfx('192.0.2.0/24'))!.best.attributes.asPath[0].asns).toEqual([1]);
    green.withdraw(peer(1).id, pfx('192.0.2.0/24'));
    expect(store.size).toBe(0);
  });

  it('works without a listener', () => {
    const rib = new VnetRib({ vnet: 'quiet', clock: new SimulatedClock() });
    rib.addPeer(peer(1));
    rib.announce(peer(1).id, pfx('192.0.2.0/24'), attrs());
    expect(rib.lookup('192.0.2.9')?.best.peer).toBe('10.0.0.1');
  });
});

describe('VnetRib graceful restart (RFC 4724)', () => {
  function grHarness() {
    const h = harness();
    const shared = pfx('192.0.2.0/24');
    const own = pfx('198.51.100.0/24');
    const own6 = pfx('2001:db8::/32');
    h.rib.announce(h.ids[0], shared, attrs({ path: [65001], localPref: 200 }));
    h.rib.announce(h.ids[0], own, attrs({ path: [65001] }));
    h.rib.announce(h.ids[0], own6, attrs({ path: [65001], nextHop: '2001:db8::1' }));
    h.rib.announce(h.ids[1], shared, attrs({ path: [65002] }));
    h.events.length = 0;
    return { ...h, shared, own, own6 };
  }

  it('keeps stale routes, which lose to fresh ones, and restores them on re-announcement', () => {
    const h = grHarness();
    h.rib.peerDown(h.ids[0], { staleForMs: 120_000 });
    // Only the shared prefix changes best path; stale-only prefixes stay quietly.
    expect(h.types()).toEqual(['best-path-change']);
    expect(h.events[0]).toMatchObject({ prefix: '192.0.2.0/24', best: { peer: '10.0.0.2' }, previous: { peer: '10.0.0.1' } });
    expect(h.rib.get(h.own)!.best.stale).toBe(true);
    expect(h.rib.get(h.shared)!.paths.map((p) => [p.peer, p.stale])).toEqual([
      ['10.0.0.2', false],
      ['10.0.0.1', true],
    ]);
    h.events.length = 0;
    h.rib.addPeer(peer(1));
    h.rib.announce(h.ids[0], h.shared, attrs({ path: [65001], localPref: 200 }));
    expect(h.types()).toEqual(['route-announce', 'best-path-change']);
    expect(h.events[0]).toMatchObject({ replaced: true });
    expect(h.bestPeer('192.0.2.0/24')).toBe('10.0.0.1');
    expect(h.rib.get(h.shared)!.best.stale).toBe(false);
  });

  it('treats a stale route re-announced unchanged as the same best path', () => {
    const h = grHarness();
    h.rib.peerDown(h.ids[0], { staleForMs: 120_000 });
    h.events.length = 0;
    h.rib.announce(h.ids[0], h.own, attrs({ path: [65001] }));
    expect(h.types()).toEqual(['route-announce']);
    expect(h.rib.get(h.own)!.best.stale).toBe(false);
    expect([...h.rib.adjRibIn(h.ids[0])].filter((r) => r.stale)).toHaveLength(2);
  });

  it('sweeps what was not re-announced at End-of-RIB, one family at a time', () => {
    const h = grHarness();
    h.rib.peerDown(h.ids[0], { staleForMs: 120_000 });
    h.rib.announce(h.ids[0], h.shared, attrs({ path: [65001], localPref: 200 }));
    h.events.length = 0;
    h.rib.endOfRib(h.ids[0], Afi.IPV4);
    expect(h.events.map((e) => e.type === 'route-withdraw' && `${e.prefix} ${e.reason}`).filter(Boolean)).toEqual(['198.51.100.0/24 stale-expired']);
    expect(h.rib.get(h.own)).toBeUndefined();
    expect(h.rib.get(h.shared)!.best.peer).toBe('10.0.0.1');
    expect(h.rib.get(h.own6)!.best.stale).toBe(true);
    expect(h.clock.pending).toBe(1);
    h.rib.endOfRib(h.ids[0], Afi.IPV6);
    expect(h.rib.get(h.own6)).toBeUndefined();
    expect(h.clock.pending).toBe(0);
    expect(h.rib.adjRibInCount(h.ids[0])).toBe(1);
  });

  it('withdraws still-stale routes when the restart time runs out', () => {
    const h = grHarness();
    h.rib.peerDown(h.ids[0], { staleForMs: 120_000 });
    h.clock.advance(119_999);
    expect(h.rib.adjRibInCount(h.ids[0])).toBe(3);
    expect([...h.rib.adjRibIn(h.ids[0])].every((r) => r.stale)).toBe(true);
    h.events.length = 0;
    h.clock.advance(1);
    const reasons = h.events.filter((e) => e.type === 'route-withdraw').map((e) => e.type === 'route-withdraw' && e.reason);
    expect(reasons).toEqual(['stale-expired', 'stale-expired', 'stale-expired']);
    expect(h.rib.adjRibInCount(h.ids[0])).toBe(0);
    expect(h.bestPeer('192.0.2.0/24')).toBe('10.0.0.2');
    expect(h.rib.stats()).toMatchObject({ prefixes: 1, paths: 1 });
  });

  it('removing a restarting peer withdraws its stale routes and cancels the sweep', () => {
    const h = grHarness();
    h.rib.peerDown(h.ids[0], { staleForMs: 120_000 });
    h.rib.removePeer(h.ids[0]);
    expect(h.clock.pending).toBe(0);
    expect(h.rib.stats()).toMatchObject({ prefixes: 1, paths: 1, peers: 2 });
  });

  it('a plain peer-down during a restart withdraws everything and cancels the sweep', () => {
    const h = grHarness();
    h.rib.peerDown(h.ids[0], { staleForMs: 120_000 });
    h.rib.peerDown(h.ids[0]);
    expect(h.clock.pending).toBe(0);
    expect(h.rib.adjRibInCount(h.ids[0])).toBe(0);
  });
});

describe('VnetRib longest-prefix match', () => {
  function lpmHarness(prefixes: string[]) {
    const h = harness();
    for (const p of prefixes) h.rib.announce(h.ids[0], pfx(p), attrs({ path: [65001] }));
    const match = (a: string) => {
      const e = h.rib.lookup(a);
      return e ? formatPrefix(e.prefix) : undefined;
    };
    return { ...h, match };
  }

  it('finds the longest IPv4 match, from the default route to host routes', () => {
    const h = lpmHarness(['0.0.0.0/0', '10.0.0.0/8', '10.1.0.0/16', '10.1.2.3/32', '128.0.0.0/1', '255.255.255.254/31', '255.255.255.255/32']);
    expect(h.match('10.1.2.3')).toBe('10.1.2.3/32');
    expect(h.match('10.1.2.4')).toBe('10.1.0.0/16');
    expect(h.match('10.200.0.1')).toBe('10.0.0.0/8');
    expect(h.match('11.0.0.1')).toBe('0.0.0.0/0');
    expect(h.match('200.1.1.1')).toBe('128.0.0.0/1');
    expect(h.match('255.255.255.255')).toBe('255.255.255.255/32');
    expect(h.match('255.255.255.254')).toBe('255.255.255.254/31');
    expect(h.rib.lookup(parseAddress('10.1.2.3'))!.prefix.length).toBe(32);
    h.rib.withdraw(h.ids[0], pfx('0.0.0.0/0'));
    expect(h.match('11.0.0.1')).toBeUndefined();
  });

  it('finds the longest IPv6 match, from ::/0 to host routes', () => {
    const h = lpmHarness(['::/0', '2001:db8::/32', '2001:db8:1::/48', '2001:db8:1:8000::/49', '2001:db8:1::1/128', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128']);
    expect(h.match('2001:db8:1::1')).toBe('2001:db8:1::1/128');
    expect(h.match('2001:db8:1::2')).toBe('2001:db8:1::/48');
    expect(h.match('2001:db8:1:8001::2')).toBe('2001:db8:1:8000::/49');
    expect(h.match('2001:db8:ffff::1')).toBe('2001:db8::/32');
    expect(h.match('3000::1')).toBe('::/0');
    expect(h.match('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128');
    // Families do not mix.
    expect(h.match('10.0.0.1')).toBeUndefined();
  });

  it('rejects a malformed address with a typed error', () => {
    const h = lpmHarness(['0.0.0.0/0']);
    expect(() => h.rib.lookup('10.0.0')).toThrow(expect.objectContaining({ code: 'SHADOWNET_ERR_INVALID_ADDRESS' }));
    expect(() => h.rib.lookup(new Uint8Array(5))).toThrow(expect.objectContaining({ code: 'SHADOWNET_ERR_INVALID_ADDRESS' }));
  });

  it('lists more-specifics with entries({ within }) for both families', () => {
    const h = lpmHarness(['0.0.0.0/0', '10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '11.0.0.0/8', '128.0.0.0/1', '200.0.0.0/8', '2001:db8::/32', '2001:db8:1::/48', '2001:db9::/32']);
    const list = (f: Parameters<VnetRib['entries']>[0]) => [...h.rib.entries(f)].map((e) => formatPrefix(e.prefix)).sort();
    expect(list({ within: pfx('10.0.0.0/8') })).toEqual(['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24']);
    expect(list({ within: pfx('128.0.0.0/1') })).toEqual(['128.0.0.0/1', '200.0.0.0/8']);
    expect(list({ within: pfx('2001:db8::/32') })).toEqual(['2001:db8:1::/48', '2001:db8::/32']);
    expect(list({ afi: Afi.IPV6 })).toHaveLength(3);
    expect(list(undefined)).toHaveLength(10);
    expect(list({ within: pfx('0.0.0.0/0') })).toHaveLength(7);
  });

  it('probes key ranges correctly when a table is dense', () => {
    const h = harness();
    for (let i = 0; i < 256; i++) h.rib.announce(h.ids[0], pfx(`${i}.0.0.0/8`), attrs());
    const all = [...h.rib.entries({ within: pfx('0.0.0.0/0') })].map((e) => formatPrefix(e.prefix));
    expect(new Set(all).size).toBe(256);
    expect([...h.rib.entries({ within: pfx('128.0.0.0/2') })]).toHaveLength(64);
  });
});

describe('VnetRib under churn (property)', () => {
  const prefixes = ['10.0.0.0/8', '10.0.0.0/16', '2001:db8::/32', '0.0.0.0/0'];
  const peers = [peer(1, { asn: 65100 }), peer(2, { asn: 65100, bgpId: '192.0.2.9' }), peer(3, { asn: 65200 }), peer(4, { asn: 65000, ibgp: true })];
  const attrArb = fc.record({
    lp: fc.constantFrom(null, 100, 200),
    len: fc.integer({ min: 1, max: 3 }),
    first: fc.constantFrom(65100, 65200),
    med: fc.constantFrom(null, 0, 5, 10),
    origin: fc.constantFrom(0, 1, 2),
  });
  const toAttrs = (a: { lp: number | null; len: number; first: number; med: number | null; origin: number }) =>
    attrs({ localPref: a.lp, path: [a.first, ...Array(a.len - 1).fill(7)], med: a.med, origin: a.origin as 0 | 1 | 2 });
  const op = fc.record({
    kind: fc.constantFrom('announce', 'announce', 'withdraw', 'down', 'gr', 'eor'),
    peer: fc.integer({ min: 0, max: 3 }),
    prefix: fc.integer({ min: 0, max: prefixes.length - 1 }),
    a: attrArb,
  });

  it('agrees with a RIB rebuilt from its final routes, and events replay to its Loc-RIB', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const h = harness({ peers });
        for (const o of ops) {
          const id = peers[o.peer].id;
          const p = pfx(prefixes[o.prefix]);
          if (o.kind === 'announce') h.rib.announce(id, p, toAttrs(o.a));
          else if (o.kind === 'withdraw') h.rib.withdraw(id, p);
          else if (o.kind === 'down') h.rib.peerDown(id);
          else if (o.kind === 'gr') h.rib.peerDown(id, { staleForMs: 1000 });
          else h.rib.endOfRib(id);
        }
        // Replaying best-path-change events gives the Loc-RIB's best paths.
        const replay = new Map<string, string | null>();
        for (const e of h.events) if (e.type === 'best-path-change') replay.set(e.prefix, e.best ? `${e.best.peer}#${e.ecmp}` : null);
        for (const text of prefixes) {
          const e = h.rib.get(pfx(text));
          expect(replay.get(text) ?? null).toEqual(e ? `${e.best.peer}#${e.ecmp.length}` : null);
        }
        // The same routes fed in reverse order select the same paths.
        const rebuilt = harness({ peers });
        const routes: { id: string; p: Prefix; a: RouteAttributes; stale: boolean }[] = [];
        for (const pr of peers) for (const r of h.rib.adjRibIn(pr.id)) routes.push({ id: pr.id, p: r.prefix, a: r.attributes, stale: r.stale });
        for (const r of routes.reverse()) rebuilt.rib.announce(r.id, r.p, r.a);
        for (const pr of peers) if (routes.some((r) => r.id === pr.id && r.stale)) rebuilt.rib.peerDown(pr.id, { staleForMs: 1000 });
        for (const r of routes) if (!r.stale) rebuilt.rib.announce(r.id, r.p, r.a);
        const view = (rib: VnetRib) => [...rib.entries()].map((e) => `${formatPrefix(e.prefix)} ${e.paths.map((x) => `${x.peer}${x.stale ? '!' : ''}`).join(',')} ${e.ecmp.length}`).sort();
        expect(view(rebuilt.rib)).toEqual(view(h.rib));
        expect(h.rib.stats().paths).toBe(routes.length);
        expect(h.store.size).toBe(new Set(routes.map((r) => r.a)).size);
      }),
      { numRuns: 300 },
    );
  });
});

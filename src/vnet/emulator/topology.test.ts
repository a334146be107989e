import { describe, expect, it } from 'vitest';
import { Substrate, SubstrateErrorCode } from './topology.js';

const hosts = (...names: string[]) => names.map((name) => ({ name }));
const link = (a: string, b: string, latency: number, capacity = 1e9) => ({ a, b, capacity, latency });
const names = (path: readonly { a: string; b: string }[] | null) => path?.map((l) => `${l.a}-${l.b}`) ?? null;

describe('Substrate paths', () => {
  it('takes the lowest total latency, even over more links', () => {
    const s = new Substrate({
      hosts: hosts('a', 'b', 'c', 'd'),
      links: [link('a', 'b', 0.005), link('a', 'c', 0.001), link('c', 'b', 0.001), link('b', 'd', 0.001)],
    });
    expect(names(s.path('a', 'd'))).toEqual(['a-c', 'c-b', 'b-d']);
    expect(Substrate.latency(s.path('a', 'd')!)).toBeCloseTo(0.003, 12);
    expect(names(s.path('d', 'a'))).toEqual(['b-d', 'c-b', 'a-c']);
    expect(s.path('c', 'c')).toEqual([]);
  });

  it('breaks ties by fewer links, then by the order links are configured, and caches', () => {
    // 0.1 + 0.2 and 0.2 + 0.1 differ in floating point; they must still tie.
    const s = new Substrate({
      hosts: hosts('a', 'x', 'y', 'b'),
      links: [
        link('a', 'y', 0.2),
        link('y', 'b', 0.1),
        link('a', 'x', 0.1),
        link('x', 'b', 0.2),
        link('a', 'b', 0.3),
      ],
    });
    expect(names(s.path('a', 'b'))).toEqual(['a-b']);
    const t = new Substrate({
      hosts: hosts('a', 'x', 'y', 'b'),
      links: [link('a', 'y', 0.2), link('y', 'b', 0.1), link('a', 'x', 0.1), link('x', 'b', 0.2)],
    });
    expect(names(t.path('a', 'b'))).toEqual(['a-y', 'y-b']);
    expect(t.path('a', 'b')).toBe(t.path('a', 'b'));
  });

  it('reports hosts that cannot reach each other', () => {
    const s = new Substrate({
      hosts: hosts('a', 'b', 'c', 'd'),
      links: [link('a', 'b', 0.001), link('c', 'd', 0.001)],
    });
    expect(s.path('a', 'c')).toBeNull();
    expect(s.components()).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(s.unreachablePairs()).toEqual([
      ['a', 'c'],
      ['a', 'd'],
      ['b', 'c'],
      ['b', 'd'],
    ]);
    expect(() => s.path('a', 'zz')).toThrow(
      expect.objectContaining({ code: SubstrateErrorCode.UNKNOWN_HOST }),
    );
  });

  it('refuses a link to an unknown host', () => {
    expect(() => new Substrate({ hosts: hosts('a'), links: [link('a', 'b', 0)] })).toThrow(
      expect.objectContaining({ code: SubstrateErrorCode.UNKNOWN_HOST }),
    );
  });

  it('builds from a whole config', () => {
    const s = new Substrate({
      substrate: { hosts: hosts('a', 'b'), links: [link('a', 'b', 0.001)] },
    } as never);
    expect(s.hosts).toEqual(['a', 'b']);
    expect(s.links[0]).toMatchObject({ index: 0, a: 'a', b: 'b', capacity: 1e9 });
  });
});

describe('Substrate capacity', () => {
  // 1 Mbit/s for a 10 s step: 10 Mbit fit.
  const oneLink = () => new Substrate({ hosts: hosts('a', 'b'), links: [link('a', 'b', 0.001, 1e6)] });

  it('carries everything under capacity', () => {
    const s = oneLink();
    const p = s.path('a', 'b')!;
    s.beginStep(10);
    for (let id = 0; id < 10; id++) s.charge(p, 1e6, 100, id);
    const r = s.endStep();
    expect(r.droppedFlowIds).toEqual([]);
    expect(r.links[0]).toMatchObject({
      offeredBits: 1e7,
      carriedBits: 1e7,
      carriedPackets: 1000,
      droppedBits: 0,
      droppedPackets: 0,
      utilisation: 1,
    });
  });

  it('delivers half of twice the capacity, and counts the rest as dropped', () => {
    const s = oneLink();
    const p = s.path('a', 'b')!;
    for (let step = 0; step < 2; step++) {
      s.beginStep(10);
      for (let id = 0; id < 20; id++) s.charge(p, 1e6, 100, step * 100 + id);
      const r = s.endStep();
      expect(r.droppedFlowIds).toHaveLength(10);
      expect(r.links[0]).toMatchObject({
        offeredBits: 2e7,
        carriedBits: 1e7,
        droppedBits: 1e7,
        droppedPackets: 1000,
        droppedFlows: 10,
        utilisation: 1,
      });
      expect(r).toMatchObject({ droppedBits: 1e7, droppedPackets: 1000 });
    }
    expect(s.counters(0)).toEqual({
      bitsCarried: 2e7,
      packetsCarried: 2000,
      bitsDropped: 2e7,
      packetsDropped: 2000,
    });
  });

  it('drops the same flows whatever order they were charged in, and spreads losses across applications', () => {
    const run = (order: number[], seed = 0) => {
      const s = new Substrate({ hosts: hosts('a', 'b'), links: [link('a', 'b', 0.001, 1e6)] }, { seed });
      const p = s.path('a', 'b')!;
      s.beginStep(10);
      for (const id of order) s.charge(p, 1e5, 10, id);
      return s.endStep().droppedFlowIds;
    };
    // Application A's flows (ids 0..99) are generated before B's (100..199): 2× capacity.
    const ids = Array.from({ length: 200 }, (_, i) => i);
    const dropped = run(ids);
    expect(dropped).toHaveLength(100);
    expect([...run([...ids].reverse())].sort((x, y) => x - y)).toEqual([...dropped].sort((x, y) => x - y));
    const lostA = dropped.filter((id) => id < 100).length;
    expect(lostA).toBeGreaterThan(30);
    expect(lostA).toBeLessThan(70);
    expect(run(ids, 99)).not.toEqual(dropped);
  });

  it('counts a refused flow on the first full link of its path only', () => {
    // a -(1 Mbit/s)- b -(100 Mbit/s)- c
    const s = new Substrate({
      hosts: hosts('a', 'b', 'c'),
      links: [link('a', 'b', 0.001, 1e6), link('b', 'c', 0.001, 1e8)],
    });
    const p = s.path('a', 'c')!;
    s.beginStep(1);
    s.charge(p, 8e5, 10, 1);
    s.charge(p, 8e5, 10, 2);
    s.charge(s.path('b', 'c')!, 1e6, 5, 3);
    const r = s.endStep();
    expect(r.droppedFlowIds).toHaveLength(1);
    expect(r.links[0]).toMatchObject({
      offeredBits: 1.6e6,
      carriedBits: 8e5,
      droppedBits: 8e5,
      droppedPackets: 10,
      utilisation: 0.8,
    });
    expect(r.links[1]).toMatchObject({
      offeredBits: 2.6e6,
      carriedBits: 1.8e6,
      carriedPackets: 15,
      droppedBits: 0,
    });
  });

  it('carries traffic within one host for free, and refuses charges outside a step', () => {
    const s = oneLink();
    expect(() => s.charge(s.path('a', 'b')!, 1, 1, 1)).toThrow(
      expect.objectContaining({ code: SubstrateErrorCode.STEP }),
    );
    s.beginStep(1);
    s.charge(s.path('a', 'a')!, 1e12, 1, 1);
    expect(s.endStep().droppedFlowIds).toEqual([]);
    expect(() => s.beginStep(0)).toThrow(expect.objectContaining({ code: SubstrateErrorCode.STEP }));
  });
});

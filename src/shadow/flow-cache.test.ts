import { describe, expect, it } from 'vitest';
import { dissect, PacketView } from '../wire/dissect.js';
import { frame } from '../../test/helpers/packets.js';
import { FLOW_DST_ROUTE, FLOW_SESSION, FLOW_SRC_ROUTE, FlowCache } from './flow-cache.js';

function view(src: string, dst: string, srcPort: number): { v: PacketView; data: Uint8Array } {
  const data = frame({ src, dst, srcPort, dstPort: 443, payload: 10 });
  const v = new PacketView();
  if (!dissect(data, 0, data.length, 1, v)) throw new Error('bad frame');
  return { v, data };
}

/** A cache whose folds are summed per (session) into a map, to check that no count is lost or doubled. */
function counted(sizeLog2: number) {
  const folded = new Map<number, { packets: number; bytes: number }>();
  const cache = new FlowCache(sizeLog2, (e, at, packets, bytes) => {
    const s = e[at + FLOW_SESSION];
    const f = folded.get(s) ?? { packets: 0, bytes: 0 };
    f.packets += packets;
    f.bytes += bytes;
    folded.set(s, f);
  });
  return { cache, folded };
}

function lookup(cache: FlowCache, p: { v: PacketView; data: Uint8Array }, session: number): number {
  const ver = p.v.ipVersion;
  const at = ver === 4 ? cache.find4(p.v, 0) : cache.find6(p.v, p.data, 0);
  if (at >= 0) return at;
  return ver === 4 ? cache.store4(p.v, 0, session, 7, 9) : cache.store6(p.v, p.data, 0, session, 7, 9);
}

describe('FlowCache', () => {
  it('finds a stored flow (IPv4 and IPv6) with its decision and routes, until invalidated', () => {
    const { cache } = counted(10);
    const a = view('10.0.0.1', '192.0.2.1', 1000);
    const b = view('2001:db8::1', '2001:db8::2', 1000);
    expect(cache.find4(a.v, 0)).toBe(-1);
    cache.store4(a.v, 0, 3, 11, 12);
    expect(cache.find6(b.v, b.data, 0)).toBe(-1);
    cache.store6(b.v, b.data, 0, 4, 21, 22);
    const at = cache.find4(a.v, 0);
    expect([cache.entries[at + FLOW_SESSION], cache.entries[at + FLOW_SRC_ROUTE], cache.entries[at + FLOW_DST_ROUTE]]).toEqual([3, 11, 12]);
    expect(cache.entries[cache.find6(b.v, b.data, 0) + FLOW_SESSION]).toBe(4);
    // Another vnet index is another flow.
    expect(cache.find4(a.v, 1)).toBe(-1);
    cache.invalidate();
    expect(cache.find4(a.v, 0)).toBe(-1);
    expect(cache.find6(b.v, b.data, 0)).toBe(-1);
  });

  it('loses no count when flows collide, move between the ways and are evicted, or the cache is invalidated', () => {
    // One bucket of two ways: every third flow evicts one.
    const { cache, folded } = counted(1);
    const flows = Array.from({ length: 5 }, (_, i) => view(`10.0.0.${i + 1}`, '192.0.2.1', 2000 + i));
    const sent = new Map<number, { packets: number; bytes: number }>();
    let x = 12345;
    for (let n = 0; n < 2000; n++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const i = x % flows.length;
      const at = lookup(cache, flows[i], i);
      const bytes = 60 + (x % 1400);
      cache.count(at, bytes);
      const s = sent.get(i) ?? { packets: 0, bytes: 0 };
      s.packets++;
      s.bytes += bytes;
      sent.set(i, s);
      if (n === 1000) cache.invalidate();
    }
    cache.foldAll();
    expect(new Map([...folded].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...sent].sort((a, b) => a[0] - b[0])));
    // Folding zeroes: a second fold adds nothing.
    cache.foldAll();
    expect(new Map([...folded].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...sent].sort((a, b) => a[0] - b[0])));
  });

  it('folds an entry before its byte count leaves 32 bits', () => {
    const { cache, folded } = counted(4);
    const f = view('10.0.0.1', '192.0.2.1', 3000);
    const at = lookup(cache, f, 1);
    for (let i = 0; i < 40; i++) cache.count(at, 64 * 1024 * 1024);
    cache.foldAll();
    expect(folded.get(1)).toEqual({ packets: 40, bytes: 40 * 64 * 1024 * 1024 });
  });
  it('forgets only the decisions made with a marked route, wherever the flow sits in its bucket', () => {
    // 2^3 entries in 4 buckets of two ways: among 8 flows some share a bucket, and the earlier one moves to the second way.
    const cache = new FlowCache(3);
    const flows = Array.from({ length: 8 }, (_, i) => view(`10.0.0.${i + 1}`, '192.0.2.1', 1000 + i));
    const routes = [
      [3, 4],
      [0, 7],
      [13, 14],
      [8, 3],
      [9, 10],
      [11, 12],
      [15, 3],
      [5, 6],
    ];
    for (const [i, f] of flows.entries()) {
      expect(cache.find4(f.v, 0)).toBe(-1);
      cache.store4(f.v, 0, i, routes[i][0], routes[i][1]);
    }
    const live = () => flows.map((f) => cache.find4(f.v, 0) >= 0);
    const before = live();
    // Some flows were pushed out, and some of those kept sit in a second way.
    expect(before.filter(Boolean).length).toBeGreaterThanOrEqual(4);
    expect(before.filter(Boolean).length).toBeLessThan(8);
    // Route 3: flows 0 (source), 3 and 6 (destination); 0, no route: flow 1's source.
    const marked = [0, 1, 3, 6];
    const forgotten = cache.forgetRoutes([[3, 0]]);
    const after = live();
    for (let i = 0; i < flows.length; i++) expect(after[i], `flow ${i}`).toBe(before[i] && !marked.includes(i));
    expect(forgotten).toBe(marked.filter((i) => before[i]).length);
    // Another network's marks do not touch these (network 0) flows.
    expect(cache.forgetRoutes([undefined, Array.from({ length: 16 }, (_, i) => i)])).toBe(0);
    // Routes whose indices share summary bits with theirs (mod 4096) do not either.
    expect(cache.forgetRoutes([[4096 + 4, 8192 + 9, 4096 + 10]])).toBe(0);
    expect(live()).toEqual(after);
  });

  it('forgets everything when more decisions were filed than it can list', () => {
    const cache = new FlowCache(2);
    for (let i = 0; i < 5; i++) {
      const f = view(`10.0.1.${i + 1}`, '192.0.2.1', 2000);
      cache.find4(f.v, 0);
      cache.store4(f.v, 0, 1, 20, 21);
    }
    const last = view('10.0.1.5', '192.0.2.1', 2000);
    expect(cache.find4(last.v, 0)).toBeGreaterThanOrEqual(0);
    expect(cache.forgetRoutes([[]])).toBe(-1);
    expect(cache.find4(last.v, 0)).toBe(-1);
    // After that the list starts again.
    cache.store4(last.v, 0, 1, 20, 21);
    expect(cache.forgetRoutes([[99]])).toBe(0);
    expect(cache.find4(last.v, 0)).toBeGreaterThanOrEqual(0);
  });
});

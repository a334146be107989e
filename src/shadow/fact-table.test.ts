import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatPrefix, parseAddress, parsePrefix, routeAttributes, type PathSummary, type RouteAttributes, type RouteEvent } from '../core/index.js';
import { Prefix6Map, RouteFactTable, StaticPrefixTable } from './fact-table.js';

const attrs = (over: Partial<RouteAttributes> = {}): RouteAttributes => routeAttributes({ asSequence: [65001], nextHop: '192.0.2.1', ...over });

const A = attrs();
const path = (a: RouteAttributes = A, peer = '192.0.2.1'): PathSummary => ({ router: 'r1', peer, peerAs: 65001, attributes: a });

let seq = 0;
function best(prefix: string, p: PathSummary | null, time = 1000, vnet = 'v'): RouteEvent {
  return { type: 'best-path-change', seq: ++seq, time, vnet, prefix, best: p, previous: null, ecmp: p ? 1 : 0 };
}

const v4 = (s: string): number => {
  const b = parseAddress(s);
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
};

/** Longest-prefix match by brute force over the installed prefixes. */
function reference(installed: Set<string>, addr: Uint8Array): string | undefined {
  let bestLen = -1;
  let bestText: string | undefined;
  for (const t of installed) {
    const p = parsePrefix(t);
    if (p.address.length !== addr.length || p.length <= bestLen) continue;
    let ok = true;
    for (let bit = 0; bit < p.length && ok; bit++) {
      const m = 0x80 >> (bit & 7);
      if ((p.address[bit >> 3] & m) !== (addr[bit >> 3] & m)) ok = false;
    }
    if (ok) {
      bestLen = p.length;
      bestText = t;
    }
  }
  return bestText;
}

// Prefixes and addresses drawn from a small space so that they overlap a lot.
const arb4Prefix = fc
  .tuple(fc.constantFrom(10, 11), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 32 }))
  .map(([a, b, c, d, len]) => formatPrefix(parsePrefix(`${a}.${b}.${c}.${d}/${len}`, false)));
const arb4Addr = fc
  .tuple(fc.constantFrom(10, 11, 12), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }))
  .map(([a, b, c, d]) => Uint8Array.of(a, b, c, d));
const arb6Prefix = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 128 }))
  .map(([a, b, c, len]) => formatPrefix(parsePrefix(`2001:db8:${a}:${b.toString(16)}::${c.toString(16)}/${len}`, false)));
const arb6Addr = fc
  .tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }))
  .map(([a, b, c]) => parseAddress(`2001:db8:${a}:${b.toString(16)}::${c.toString(16)}`));

function runOps(table: RouteFactTable, ops: readonly [boolean, string][], queries: readonly Uint8Array[]): void {
  const installed = new Set<string>();
  for (const [add, prefix] of ops) {
    // Deletes pick from what is installed when possible, so they hit.
    const target = !add && installed.size > 0 ? [...installed][prefix.length % installed.size] : prefix;
    table.apply(best(target, add ? path() : null));
    table.commit();
    if (add) installed.add(target);
    else installed.delete(target);
    for (const q of queries) {
      const got = table.lookup(q);
      expect(got ? formatPrefix(got.prefix) : undefined).toBe(reference(installed, q));
    }
  }
  expect(table.size).toBe(installed.size);
}

describe('RouteFactTable longest-prefix match', () => {
  for (const dirThreshold of [0, 1_000_000]) {
    it(`IPv4 matches a brute-force reference under inserts and deletes (${dirThreshold === 0 ? 'DIR-24-8' : 'hash tables'})`, () => {
      // One table for every run: a DIR-24-8 first level is 64 MiB. A snapshot load resets it.
      const table = new RouteFactTable({ vnet: 'v', dirThreshold });
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.boolean(), arb4Prefix), { minLength: 1, maxLength: 40 }), fc.array(arb4Addr, { minLength: 1, maxLength: 20 }), (ops, queries) => {
          table.load([], 0);
          table.commit();
          runOps(table, ops, queries);
        }),
        { numRuns: dirThreshold === 0 ? 40 : 100 },
      );
    });
  }

  it('keeps the announce times of the routes set, in order, for route-age conditions', () => {
    const t = new RouteFactTable({ vnet: 'v' });
    t.setLocal([parsePrefix('10.0.0.0/8')]);
    for (const [prefix, time] of [
      ['192.0.2.0/24', 5000],
      ['198.51.100.0/24', 5000],
      ['203.0.113.0/24', 9000],
      // An event older than the newest (out of order): filed in its place.
      ['192.0.2.0/25', 7000],
    ] as const)
      t.apply(best(prefix, path(), time));
    t.commit();
    expect([t.firstAnnounceAtOrAfter(0), t.firstAnnounceAtOrAfter(5001), t.firstAnnounceAtOrAfter(7001), t.firstAnnounceAtOrAfter(9001)]).toEqual([5000, 7000, 9000, Infinity]);
    expect([t.lastAnnounceBefore(5000), t.lastAnnounceBefore(7000), t.lastAnnounceBefore(1e9)]).toEqual([-Infinity, 5000, 9000]);
    // The same attributes again change nothing, so no new time; other attributes do.
    t.apply(best('203.0.113.0/24', path(), 12_000));
    t.apply(best('198.51.100.0/24', path(attrs({ med: 7 })), 13_000));
    t.commit();
    expect(t.firstAnnounceAtOrAfter(9001)).toBe(13_000);
    // A snapshot replaces them all with its own time.
    t.replace([{ prefix: parsePrefix('192.0.2.0/24'), best: path() }], 20_000);
    expect([t.firstAnnounceAtOrAfter(0), t.lastAnnounceBefore(1e9)]).toEqual([20_000, 20_000]);
  });

  it('names the routes a commit changed, so that only decisions made with them are forgotten', () => {
    for (const dirThreshold of [0, 1_000_000]) {
      const t = new RouteFactTable({ vnet: 'v', dirThreshold });
      const index = (p: string): number => t.lookup(parsePrefix(p).address)!.index;
      for (const p of ['10.0.0.0/8', '10.1.0.0/16', '2001:db8::/32']) t.apply(best(p, path()));
      t.commit();
      expect(t.takeChanges().all).toBe(true);
      const r8 = index('10.0.0.0/8');
      const r16 = index('10.1.0.0/16');
      const r6 = index('2001:db8::/32');
      // A new /24 inside the /16 takes addresses from it; a new /24 outside every route takes unrouted ones (0).
      t.apply(best('10.1.2.0/24', path()));
      t.apply(best('192.0.2.0/24', path()));
      t.apply(best('2001:db8:1::/48', path()));
      t.commit();
      // Each new prefix's own index is named too (it may have meant a withdrawn route before).
      expect(t.takeChanges()).toEqual({ all: false, routes: [r16, index('10.1.2.0/24'), 0, index('192.0.2.0/24'), r6, index('2001:db8:1::/48')] });
      // Other facts for the /8; the same facts again for the /16 (nothing); the /16 withdrawn.
      t.apply(best('10.0.0.0/8', path(attrs({ med: 9 }))));
      t.apply(best('10.1.0.0/16', path()));
      t.apply(best('10.1.0.0/16', null));
      t.commit();
      expect(t.takeChanges()).toEqual({ all: false, routes: [r8, r16] });
      expect(t.takeChanges()).toEqual({ all: false, routes: [] });
      // The withdrawn /16's index is not given to a new prefix in the commit that freed it, only in a later one.
      t.apply(best('10.2.0.0/16', path()));
      t.commit();
      expect(index('10.2.0.0/16')).toBe(r16);
      t.replace([{ prefix: parsePrefix('10.0.0.0/8'), best: path() }], 5000);
      expect(t.takeChanges().all).toBe(true);
    }
  });

  it('IPv4 after a snapshot load (DIR-24-8 built in one pass) matches a brute-force reference, then under changes', () => {
    const table = new RouteFactTable({ vnet: 'v', dirThreshold: 0 });
    fc.assert(
      fc.property(
        fc.array(arb4Prefix, { minLength: 1, maxLength: 60 }),
        fc.array(fc.tuple(fc.boolean(), arb4Prefix), { maxLength: 10 }),
        fc.array(arb4Addr, { minLength: 1, maxLength: 20 }),
        (snapshot, ops, probes) => {
          let queries = probes;
          table.load(
            snapshot.map((p) => ({ prefix: parsePrefix(p), best: path() })),
            0,
          );
          table.commit();
          const installed = new Set(snapshot);
          // Also the last address of every prefix of the snapshot, which only a full fill of its range answers.
          for (const p of snapshot) {
            const pre = parsePrefix(p);
            const last = pre.address.slice();
            for (let b = pre.length; b < 32; b++) last[b >> 3] |= 0x80 >> (b & 7);
            queries = [...queries, last];
          }
          for (const q of queries) {
            const got = table.lookup(q);
            expect(got ? formatPrefix(got.prefix) : undefined).toBe(reference(installed, q));
          }
          for (const [add, prefix] of ops) {
            const target = !add && installed.size > 0 ? [...installed][prefix.length % installed.size] : prefix;
            table.apply(best(target, add ? path() : null));
            if (add) installed.add(target);
            else installed.delete(target);
          }
          table.commit();
          for (const q of queries) {
            const got = table.lookup(q);
            expect(got ? formatPrefix(got.prefix) : undefined).toBe(reference(installed, q));
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('IPv6 matches a brute-force reference under inserts and deletes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), arb6Prefix), { minLength: 1, maxLength: 40 }), fc.array(arb6Addr, { minLength: 1, maxLength: 20 }), (ops, queries) => {
        runOps(new RouteFactTable({ vnet: 'v' }), ops, queries);
      }),
    );
  });

  it('deleting a more-specific restores the covering route, in DIR-24-8 and chunk slots', () => {
    const t = new RouteFactTable({ vnet: 'v', dirThreshold: 0 });
    for (const p of ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.128/25', '10.1.2.130/32']) t.apply(best(p, path()));
    t.commit();
    const at = (a: string) => {
      const r = t.lookup(a);
      return r ? formatPrefix(r.prefix) : 'none';
    };
    expect(at('10.1.2.130')).toBe('10.1.2.130/32');
    expect(at('10.1.2.131')).toBe('10.1.2.128/25');
    expect(at('10.1.2.1')).toBe('10.1.2.0/24');
    t.apply(best('10.1.2.128/25', null));
    t.commit();
    expect(at('10.1.2.131')).toBe('10.1.2.0/24');
    expect(at('10.1.2.130')).toBe('10.1.2.130/32');
    t.apply(best('10.1.0.0/16', null));
    t.apply(best('10.1.2.0/24', null));
    t.commit();
    expect(at('10.1.2.131')).toBe('10.0.0.0/8');
    expect(at('10.1.3.1')).toBe('10.0.0.0/8');
    t.apply(best('10.1.2.130/32', null));
    t.apply(best('10.0.0.0/8', null));
    t.commit();
    expect(at('10.1.2.130')).toBe('none');
    expect(t.size).toBe(0);
  });

  it('lookup6 reads the address in place at an offset of a packet buffer', () => {
    const t = new RouteFactTable({ vnet: 'v' });
    t.apply(best('2001:db8::/32', path()));
    t.apply(best('2001:db8:1::/48', path()));
    t.commit();
    const buf = new Uint8Array(64);
    buf.set(parseAddress('2001:db8:1::9'), 22);
    expect(formatPrefix(t.route(t.lookup6(buf, 22))!.prefix)).toBe('2001:db8:1::/48');
    buf.set(parseAddress('2001:db8:2::9'), 22);
    expect(formatPrefix(t.route(t.lookup6(buf, 22))!.prefix)).toBe('2001:db8::/32');
    buf.set(parseAddress('2001:db9::9'), 22);
    expect(t.lookup6(buf, 22)).toBe(0);
  });
});

describe('RouteFactTable changes', () => {
  it('queued changes take effect only at commit', () => {
    const t = new RouteFactTable({ vnet: 'v' });
    t.apply(best('10.0.0.0/8', path()));
    expect(t.lookup4(v4('10.1.1.1'))).toBe(0);
    expect(t.pending).toBe(1);
    expect(t.commit()).toBe(1);
    expect(t.lookup4(v4('10.1.1.1'))).toBeGreaterThan(0);
    t.apply(best('10.0.0.0/8', null));
    expect(t.lookup4(v4('10.1.1.1'))).toBeGreaterThan(0);
    t.commit();
    expect(t.lookup4(v4('10.1.1.1'))).toBe(0);
  });

  it('counts events it cannot use and ignores other event types', () => {
    const t = new RouteFactTable({ vnet: 'v' });
    t.apply(best('10.0.0.0/8', path(), 0, 'other'));
    t.apply(best('10.0.0.0/33', path()));
    t.apply(best('10.9.0.0/16', null));
    t.apply({ type: 'route-withdraw', seq: 1, time: 0, vnet: 'v', router: 'r1', peer: '192.0.2.1', peerAs: 65001, prefix: '10.0.0.0/8', reason: 'withdrawn' });
    t.commit();
    expect(t.stats.ignored).toEqual({ 'other-vnet': 1, 'bad-prefix': 1, 'withdraw-unknown-prefix': 1 });
    expect(t.size).toBe(0);
  });

  it('a snapshot load replaces the table; announce time is kept when only the ECMP set changes', () => {
    const t = new RouteFactTable({ vnet: 'v', dirThreshold: 0 });
    t.apply(best('10.0.0.0/8', path(), 5));
    t.commit();
    t.load([{ prefix: parsePrefix('192.0.2.0/24'), best: path() }], 100);
    t.commit();
    expect(t.lookup('10.1.1.1')).toBeUndefined();
    expect(t.lookup('192.0.2.7')?.announcedAt).toBe(100);
    t.apply(best('192.0.2.0/24', path(), 200));
    t.commit();
    expect(t.lookup('192.0.2.7')?.announcedAt).toBe(100);
    t.apply(best('192.0.2.0/24', path(attrs({ med: 5 })), 300));
    t.commit();
    expect(t.lookup('192.0.2.7')?.announcedAt).toBe(300);
  });

  it('condition bits are computed for existing routes, new routes and changed best paths', () => {
    const t = new RouteFactTable({ vnet: 'v' });
    const c100 = attrs({ communities: [(65001 << 16) | 100] });
    t.apply(best('10.0.0.0/8', path(c100)));
    t.commit();
    const bit = t.acquireCondition('c100', (p) => p.attributes.communities.includes((65001 << 16) | 100));
    const has = (a: string) => {
      const r = t.lookup4(v4(a));
      return r !== 0 && (t.facts[t.routeGroup[r] * t.factWords + (bit >>> 5)] & (1 << (bit & 31))) !== 0;
    };
    t.apply(best('11.0.0.0/8', path(A)));
    t.apply(best('12.0.0.0/8', path(c100, '192.0.2.9')));
    t.commit();
    expect([has('10.0.0.1'), has('11.0.0.1'), has('12.0.0.1')]).toEqual([true, false, true]);
    t.apply(best('10.0.0.0/8', path(A)));
    t.commit();
    expect(has('10.0.0.1')).toBe(false);
    // Identical conditions share a bit; a released bit is reused and recomputed.
    expect(t.acquireCondition('c100', () => false)).toBe(bit);
    t.releaseCondition(bit);
    t.releaseCondition(bit);
    expect(t.conditions).toBe(0);
    const again = t.acquireCondition('never', () => false);
    expect(again).toBe(bit);
    expect(has('12.0.0.1')).toBe(false);
    // Many conditions spill into more words without disturbing earlier bits.
    const bits = Array.from({ length: 40 }, (_, i) => t.acquireCondition(`k${i}`, () => i % 2 === 0));
    expect(t.factWords).toBe(2);
    const g = t.routeGroup[t.lookup4(v4('12.0.0.1'))];
    expect(bits.map((b) => (t.facts[g * t.factWords + (b >>> 5)] >>> (b & 31)) & 1)).toEqual(bits.map((_, i) => (i % 2 === 0 ? 1 : 0)));
  });
});

describe('StaticPrefixTable', () => {
  it('finds the longest IPv4 and IPv6 prefix and its value', () => {
    const t = new StaticPrefixTable([
      { prefix: parsePrefix('10.0.0.0/8'), value: 1 },
      { prefix: parsePrefix('10.1.0.0/16'), value: 2 },
      { prefix: parsePrefix('0.0.0.0/0'), value: 3 },
      { prefix: parsePrefix('2001:db8::/32'), value: 4 },
      { prefix: parsePrefix('2001:db8::1/128'), value: 5 },
    ]);
    expect(['10.1.2.3', '10.2.0.0', '8.8.8.8', '2001:db8::1', '2001:db8::2', '2001:db9::'].map((a) => t.lookup(a))).toEqual([2, 1, 3, 5, 4, -1]);
    expect(t.lookup4(v4('10.1.0.1'))).toBe(2);
    expect(t.size).toBe(5);
  });
});

describe('Prefix6Map with many prefix lengths', () => {
  it('answers the longest match as a scan over every prefix would, across inserts, deletes and lengths under 16', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const addr = (): Uint8Array => {
      const a = new Uint8Array(16);
      a[0] = 0x20;
      a[1] = rand(4);
      for (let i = 2; i < 16; i++) a[i] = rand(256);
      return a;
    };
    const map = new Prefix6Map();
    const live = new Map<string, { a: Uint8Array; len: number; value: number }>();
    const masked = (a: Uint8Array, len: number): Uint8Array => {
      const out = new Uint8Array(16);
      for (let i = 0; i < 16; i++) {
        const bits = Math.min(8, Math.max(0, len - i * 8));
        out[i] = a[i] & ((0xff << (8 - bits)) & 0xff);
      }
      return out;
    };
    const lengths = [3, 8, 14, 16, 20, 24, 29, 32, 36, 40, 44, 48, 56, 64, 96, 127, 128];
    for (let i = 0; i < 600; i++) {
      const len = lengths[rand(lengths.length)];
      const a = masked(addr(), len);
      map.set(a, len, i);
      live.set(`${a.join('.')}/${len}`, { a, len, value: i });
    }
    const keys = [...live.keys()];
    for (let i = 0; i < 150; i++) {
      const k = keys[rand(keys.length)];
      const e = live.get(k);
      if (!e) continue;
      expect(map.delete(e.a, e.len)).toBe(true);
      live.delete(k);
    }
    const entries = [...live.values()];
    const probe = (a: Uint8Array): number => {
      let best = -1;
      let bestLen = -1;
      for (const e of entries) {
        if (e.len > bestLen && masked(a, e.len).every((x, i) => x === e.a[i])) {
          best = e.value;
          bestLen = e.len;
        }
      }
      return best;
    };
    for (let i = 0; i < 400; i++) {
      // Half the probes inside a known prefix, half anywhere in 2000::/14.
      const a = addr();
      if (i % 2 === 0) {
        const e = entries[rand(entries.length)];
        for (let b = 0; b < e.len; b++) {
          const byte = b >> 3;
          const m = 0x80 >> (b & 7);
          a[byte] = (a[byte] & ~m) | (e.a[byte] & m);
        }
      }
      expect(map.lookup(a, 0)).toBe(probe(a));
    }
  });
});

describe('local routes', () => {
  for (const dirThreshold of [4096, 0]) {
    it(`route the network's own prefixes without facts; announced more-specifics win, the exact prefix stays local (dirThreshold ${dirThreshold})`, () => {
      const t = new RouteFactTable({ vnet: 'v', dirThreshold });
      const bit = t.acquireCondition('origin-65001', (p) => p.attributes.asPath.some((s) => s.asns.includes(65001)));
      t.setLocal([parsePrefix('10.0.0.0/16'), parsePrefix('fd00::/48')]);
      t.apply(best('10.0.5.0/24', path()));
      t.apply(best('10.0.0.0/16', path()));
      t.commit();
      const local = t.lookup('10.0.9.9')!;
      expect(formatPrefix(local.prefix)).toBe('10.0.0.0/16');
      expect(t.isLocal(local.index)).toBe(true);
      expect(t.facts[t.routeGroup[local.index] * t.factWords] & (1 << bit)).toBe(0);
      expect(t.routeMeta[local.index * 2 + 1]).toBe(0);
      const announced = t.lookup('10.0.5.1')!;
      expect(formatPrefix(announced.prefix)).toBe('10.0.5.0/24');
      expect(t.isLocal(announced.index)).toBe(false);
      expect(t.facts[t.routeGroup[announced.index] * t.factWords] & (1 << bit)).not.toBe(0);
      expect(t.isLocal(t.lookup('fd00::1')!.index)).toBe(true);
      expect(t.lookup('10.1.0.1')).toBeUndefined();
      expect(t.stats.ignored['local-prefix']).toBe(1);
      // A withdrawal of the local prefix leaves it; a snapshot load keeps it.
      t.apply(best('10.0.0.0/16', null));
      t.load([{ prefix: parsePrefix('192.0.2.0/24'), best: path() }], 5);
      t.commit();
      expect(t.isLocal(t.lookup('10.0.9.9')!.index)).toBe(true);
      expect(t.lookup('10.0.5.1')!.index).toBe(t.lookup('10.0.9.9')!.index);
      expect(formatPrefix(t.lookup('192.0.2.7')!.prefix)).toBe('192.0.2.0/24');
      // Replacing the local routes removes the old ones.
      t.setLocal([parsePrefix('10.1.0.0/16')]);
      t.commit();
      expect(t.lookup('10.0.9.9')).toBeUndefined();
      expect(t.isLocal(t.lookup('10.1.2.3')!.index)).toBe(true);
    });
  }
});

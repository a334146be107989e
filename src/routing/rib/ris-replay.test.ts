import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../core/clock.js';
import { addressInPrefix, formatPrefix, parsePrefix } from '../../core/prefix.js';
import { AsPathSegmentType, type AsPathSegment, type RouteAttributes, type RouteEvent } from '../../core/types.js';
import { missingDataMessage, sharedDataDir } from '../../../test/helpers/shared-data.js';
import { asPathLength } from './decision.js';
import { VnetRib } from './vnet-rib.js';

// RIPE RIS UPDATES (BGP4MP) as `bgpdump -m` printed them: replayed in order
// they exercise implicit replace, withdrawals and contested prefixes on real routes.
const dir = sharedDataDir('mrt');
const FILE = 'updates.20100722.2015.gz.expected-bgpdump-vm.txt.gz';

function asPath(text: string): AsPathSegment[] {
  const segs: AsPathSegment[] = [];
  const seq: number[] = [];
  for (const m of text.matchAll(/\{([^}]*)\}|(\d+)/g)) {
    if (m[1] !== undefined) {
      if (seq.length) segs.push({ type: AsPathSegmentType.AS_SEQUENCE, asns: seq.splice(0) });
      segs.push({ type: AsPathSegmentType.AS_SET, asns: m[1].split(',').map(Number) });
    } else seq.push(Number(m[2]));
  }
  if (seq.length) segs.push({ type: AsPathSegmentType.AS_SEQUENCE, asns: seq });
  return segs;
}

function toAttributes(f: string[]): RouteAttributes {
  const [, , , , , , path, origin, nextHop, localPref, med, communities, atomic, aggregator] = f;
  const [aggAs, aggAddr] = aggregator ? aggregator.split(' ') : [];
  return {
    origin: origin === 'IGP' ? 0 : origin === 'EGP' ? 1 : 2,
    asPath: asPath(path),
    nextHop,
    nextHopLinkLocal: null,
    med: Number(med),
    // bgpdump prints 0 when LOCAL_PREF is absent, as it is on these eBGP sessions.
    localPref: localPref === '0' ? null : Number(localPref),
    atomicAggregate: atomic === 'AG',
    aggregator: aggAs ? { asn: Number(aggAs), address: aggAddr } : null,
    communities: communities ? communities.split(' ').map((c) => c.split(':').map(Number)).map(([h, l]) => (h * 65536 + l) >>> 0) : [],
    extendedCommunities: [],
    largeCommunities: [],
    originatorId: null,
    clusterList: [],
    unknown: [],
  };
}

describe('VnetRib replaying RIPE RIS updates', () => {
  it.skipIf(!dir)(dir ? 'holds what the peers last announced and selects by AS path length' : missingDataMessage('mrt'), () => {
    const lines = gunzipSync(readFileSync(join(dir!, FILE))).toString('latin1').trim().split('\n');
    const events: RouteEvent[] = [];
    const rib = new VnetRib({ vnet: 'ris', clock: new SimulatedClock(), emit: (e) => events.push(e) });
    const model = new Map<string, Map<string, RouteAttributes>>(); // prefix → peer → attributes
    const peerIds = new Set<string>();
    for (const line of lines) {
      const f = line.split('|');
      const [, , kind, peerIp, peerAs] = f;
      const id = `rrc|${peerIp}`;
      if (!peerIds.has(id)) {
        rib.addPeer({ id, router: 'rrc', address: peerIp, asn: Number(peerAs), bgpId: peerIp.includes(':') ? '0.0.0.1' : peerIp, ibgp: false });
        peerIds.add(id);
      }
      if (kind === 'STATE') {
        if (f[5] === '6' && f[6] !== '6') {
          rib.peerDown(id);
          for (const m of model.values()) m.delete(id);
        }
        continue;
      }
      const prefix = parsePrefix(f[5]);
      const text = formatPrefix(prefix);
      if (kind === 'A') {
        const a = toAttributes(f);
        rib.announce(id, prefix, a);
        if (!model.has(text)) model.set(text, new Map());
        model.get(text)!.set(id, a);
      } else {
        expect(rib.withdraw(id, prefix)).toBe(model.get(text)?.delete(id) ?? false);
      }
    }

    const held = [...model].filter(([, m]) => m.size > 0);
    expect(held.length).toBeGreaterThan(500);
    expect(rib.stats().prefixes).toBe(held.length);
    expect(rib.stats().paths).toBe(held.reduce((n, [, m]) => n + m.size, 0));
    for (const id of peerIds) expect(rib.adjRibInCount(id)).toBe(held.filter(([, m]) => m.has(id)).length);

    const lastBest = new Map<string, string | null>();
    for (const e of events) if (e.type === 'best-path-change') lastBest.set(e.prefix, e.best ? e.best.peer : null);
    let contested = 0;
    for (const [text, m] of held) {
      const e = rib.get(parsePrefix(text))!;
      expect(e.paths).toHaveLength(m.size);
      if (m.size > 1) contested++;
      const shortest = Math.min(...[...m.values()].map(asPathLength));
      expect(asPathLength(e.best.attributes)).toBe(shortest);
      expect(lastBest.get(text)).toBe(e.best.peer);
      // The prefix's own first address matches it or something more specific.
      const hit = rib.lookup(e.prefix.address)!;
      expect(hit.prefix.length).toBeGreaterThanOrEqual(e.prefix.length);
      expect(addressInPrefix(hit.prefix, e.prefix.address)).toBe(true);
    }
    expect(contested).toBeGreaterThan(10);

    for (const id of peerIds) rib.removePeer(id);
    expect(rib.stats()).toMatchObject({ prefixes: 0, paths: 0, attributeSets: 0 });
  });
});

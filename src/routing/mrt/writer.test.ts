import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RouteAttributes } from '../../core/index.js';
import { formatPrefix } from '../../core/prefix.js';
import { encodeMessage } from '../../wire/bgp/index.js';
import { bgpdumpLines } from './bgpdump.js';
import { newMrtReadStats } from './reader.js';
import { mrtRoutes } from './routes.js';
import { MrtWriter, writeSyntheticTableDump } from './writer.js';

const tmp = mkdtempSync(join(tmpdir(), 'shadownet-mrtw-'));
const BGPDUMP = '/usr/bin/bgpdump';
const haveBgpdump = existsSync(BGPDUMP);

const base: RouteAttributes = {
  origin: 0,
  asPath: [{ type: 2, asns: [65001, 4_200_000_000, 3356] }],
  nextHop: '198.51.100.7',
  nextHopLinkLocal: null,
  med: 50,
  localPref: 200,
  atomicAggregate: true,
  aggregator: { asn: 3356, address: '192.0.2.9' },
  communities: [((65001 << 16) >>> 0) + 7, 0xffffff01],
  extendedCommunities: [],
  largeCommunities: [[65001, 1, 2]],
  originatorId: null,
  clusterList: [],
  unknown: [],
};
const v6: RouteAttributes = { ...base, nextHop: '2001:db8::7', atomicAggregate: false, aggregator: null, med: null, communities: [] };

async function writeSample(path: string): Promise<void> {
  const w = new MrtWriter(path);
  await w.writePeerIndexTable(
    [
      { address: '192.0.2.1', asn: 65001, bgpId: '192.0.2.1' },
      { address: '2001:db8::1', asn: 4_200_000_000, bgpId: '192.0.2.2' },
    ],
    { timestamp: 1_700_000_000, collectorBgpId: '10.0.0.1', viewName: 'test' },
  );
  await w.writeRib('203.0.113.0/24', [{ peerIndex: 0, attributes: base }, { peerIndex: 1, attributes: base }], { timestamp: 1_700_000_000 });
  await w.writeRib('2001:db8:100::/48', [{ peerIndex: 1, attributes: v6 }], { timestamp: 1_700_000_000 });
  const update = encodeMessage(
    {
      type: 'update',
      withdrawn: [{ afi: 1, length: 16, address: Uint8Array.of(10, 1, 0, 0) }],
      attributes: [
        { type: 'origin', flags: 0x40, value: 0 },
        { type: 'as-path', flags: 0x40, segments: [{ type: 2, asns: [65001, 65002] }], asnBytes: 4 },
        { type: 'next-hop', flags: 0x40, nextHop: '192.0.2.1' },
      ],
      nlri: [{ afi: 1, length: 24, address: Uint8Array.of(198, 18, 0, 0) }],
      issues: [],
    },
    undefined,
    0,
    { fourOctetAs: true },
  );
  const peer = { address: '192.0.2.1', asn: 65001 };
  const local = { address: '192.0.2.254', asn: 64999 };
  await w.writeStateChange({ timestamp: 1_700_000_001, peer, local, from: 'open-confirm', to: 'established' });
  await w.writeMessage(update, { timestamp: 1_700_000_002, microseconds: 1500, peer, local });
  await w.close();
}

describe('MrtWriter', () => {
  it('writes TABLE_DUMP_V2 and BGP4MP records that read back to the same routes', async () => {
    const p = join(tmp, 'sample.mrt');
    await writeSample(p);
    const routes = [];
    const stats = newMrtReadStats();
    for await (const r of mrtRoutes(p, { stats })) routes.push(r);
    expect(stats.badRecords).toBe(0);
    expect(routes.map((r) => (r.type === 'state' ? `${r.from}>${r.to}` : `${r.action} ${formatPrefix(r.prefix)} ${r.peer.address}`))).toEqual([
      'announce 203.0.113.0/24 192.0.2.1',
      'announce 203.0.113.0/24 2001:db8::1',
      'announce 2001:db8:100::/48 2001:db8::1',
      'open-confirm>established',
      'withdraw 10.1.0.0/16 192.0.2.1',
      'announce 198.18.0.0/24 192.0.2.1',
    ]);
    const first = routes[0];
    expect(first.type === 'route' && first.attributes).toMatchObject({
      asPath: base.asPath,
      nextHop: '198.51.100.7',
      med: 50,
      localPref: 200,
      atomicAggregate: true,
      aggregator: base.aggregator,
      communities: base.communities,
      largeCommunities: base.largeCommunities,
    });
    const six = routes[2];
    expect(six.type === 'route' && six.attributes?.nextHop).toBe('2001:db8::7');
    const last = routes[5];
    expect(last.time).toBe(1_700_000_002_001);
  });

  it.skipIf(!haveBgpdump)('writes files that Debian bgpdump reads exactly as we dump them', async () => {
    const p = join(tmp, 'sample-bgpdump.mrt');
    await writeSample(p);
    const theirs = execFileSync(BGPDUMP, ['-m', p], { stdio: ['ignore', 'pipe', 'ignore'] }).toString('utf8');
    const ours: string[] = [];
    for await (const l of bgpdumpLines(p)) ours.push(l + '\n');
    expect(theirs.split('\n').length).toBe(7);
    expect(ours.join('')).toBe(theirs);
    expect(theirs).toContain('TABLE_DUMP2|1700000000|B|192.0.2.1|65001|203.0.113.0/24|65001 4200000000 3356|IGP|198.51.100.7|200|50|65001:7 no-export|AG|3356 192.0.2.9|');
  });

  it('writes a synthetic table deterministically for a seed, with distinct prefixes', async () => {
    const a = join(tmp, 'syn-a.mrt');
    const b = join(tmp, 'syn-b.mrt');
    const c = join(tmp, 'syn-c.mrt');
    const ra = await writeSyntheticTableDump(a, { count: 3000, seed: 42, attributeSets: 300 });
    await writeSyntheticTableDump(b, { count: 3000, seed: 42, attributeSets: 300 });
    await writeSyntheticTableDump(c, { count: 3000, seed: 43, attributeSets: 300 });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(readFileSync(a).equals(readFileSync(c))).toBe(false);
    expect(ra.prefixes).toBe(3000);
    const prefixes = new Set<string>();
    const paths = new Set<unknown>();
    let withCommunities = 0;
    for await (const r of mrtRoutes(a)) {
      if (r.type !== 'route') continue;
      prefixes.add(formatPrefix(r.prefix));
      paths.add(r.attributes);
      const len = r.attributes?.asPath[0].asns.length ?? 0;
      expect(len).toBeGreaterThanOrEqual(2);
      expect(len).toBeLessThanOrEqual(8);
      if ((r.attributes?.communities.length ?? 0) > 0) withCommunities++;
    }
    expect(prefixes.size).toBe(3000);
    expect(paths.size).toBeGreaterThan(200);
    expect(withCommunities).toBeGreaterThan(600);
    expect(withCommunities).toBeLessThan(2400);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { formatPrefix } from '../../core/prefix.js';
import { missingDataMessage, sharedDataDir } from '../../../test/helpers/shared-data.js';
import { mrtRoutes, type MrtRoute } from './routes.js';
import { newMrtReadStats } from './reader.js';

const dir = sharedDataDir('mrt');

async function all(file: string): Promise<MrtRoute[]> {
  const out: MrtRoute[] = [];
  const stats = newMrtReadStats();
  for await (const r of mrtRoutes(file, { stats })) out.push(r);
  expect(stats.badRecords).toBe(0);
  return out;
}


describe.skipIf(!dir)('mrtRoutes', () => {
  if (!dir) {
    it('needs the shared data', () => console.log(missingDataMessage('mrt')));
    return;
  }

  it('yields the same announcements, withdrawals and state changes as bgpdump, in order', async () => {
    const expected = gunzipSync(readFileSync(join(dir, 'updates.20100722.2015.gz.expected-bgpdump-vm.txt.gz')))
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const f = l.split('|');
        return f[2] === 'STATE' ? `${f[1]}|S|${f[4]}|${f[5]}>${f[6]}` : `${f[1]}|${f[2]}|${f[4]}|${f[5]}`;
      });
    const got = (await all(join(dir, 'updates.20100722.2015.gz'))).map((r) =>
      r.type === 'state'
        ? `${r.time / 1000}|S|${r.peer.asn}|${r.fromCode}>${r.toCode}`
        : `${r.time / 1000}|${r.action === 'announce' ? 'A' : 'W'}|${r.peer.asn}|${formatPrefix(r.prefix)}`,
    );
    expect(got).toEqual(expected);
  });

  it('decodes attributes of an UPDATE: AS path, communities, aggregator, atomic aggregate', async () => {
    const routes = await all(join(dir, 'updates.20100722.2015.gz'));
    const r = routes.find((x) => x.type === 'route' && formatPrefix(x.prefix) === '117.41.0.0/19' && x.peer.asn === 34347);
    expect(r?.type).toBe('route');
    if (r?.type !== 'route') return;
    expect(r.peer.address).toBe('193.203.0.124');
    expect(r.attributes?.asPath).toEqual([{ type: 2, asns: [34347, 3257, 10026, 4809] }]);
    expect(r.attributes?.aggregator).toEqual({ asn: 4809, address: '59.43.5.90' });
    expect(r.attributes?.atomicAggregate).toBe(true);
    expect(r.attributes?.communities[0]).toBe(((3257 << 16) >>> 0) + 4000);
    expect(r.time).toBe(1279829702000);
  });

  it('turns add-path RIB entries into announcements with path ids and the peer table address', async () => {
    const routes = await all(join(dir, 'bview.ipv6_unicast_add_path.gz'));
    const lines = gunzipSync(readFileSync(join(dir, 'bview.ipv6_unicast_add_path.gz.expected-bgpdump-vm.txt.gz')))
      .toString('utf8')
      .trim()
      .split('\n');
    expect(routes).toHaveLength(lines.length);
    const f = lines[0].split('|');
    const r = routes[0];
    expect(r.type === 'route' && r.action).toBe('announce');
    if (r.type !== 'route') return;
    expect(formatPrefix(r.prefix)).toBe(f[5]);
    expect(String(r.pathId)).toBe(f[6]);
    expect(r.peer.asn).toBe(Number(f[4]));
    // These entries carry no next hop at all (bgpdump prints 255.255.255.255).
    expect(r.attributes?.nextHop).toBeNull();
    expect(r.attributes?.localPref).toBe(Number(f[10]));
    expect(r.attributes?.asPath[0].asns.join(' ')).toBe(f[7]);
  });

  it('shares one attributes object among RIB entries with identical attribute bytes', async () => {
    const routes = (await all(join(dir, 'openbgpd_rib_table-v2.mrt'))).filter((r) => r.type === 'route');
    const distinct = new Set(routes.map((r) => (r.type === 'route' ? r.attributes : undefined)));
    expect(routes.length).toBe(31);
    expect(distinct.size).toBeLessThan(routes.length);
  });
});

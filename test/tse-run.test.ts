/**
 * `shadownet run` with a shadow section: VXLAN mirror traffic arriving on
 * UDP is decapsulated, classified and counted, and the sessions and IP sets
 * can be changed through the API while it runs.
 */
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { frame } from './helpers/packets.js';

const API = 'http://127.0.0.1:24351';
const RX = 24350;

async function send(vni: number, dsts: string[], flags = 0x08): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (const dst of dsts) {
    const f = frame({ src: '10.1.0.1', dst, dstPort: 443 });
    const vx = Buffer.alloc(8 + f.length);
    vx[0] = flags;
    vx.writeUIntBE(vni, 4, 3);
    Buffer.from(f).copy(vx, 8);
    await new Promise<void>((r) => s.send(vx, RX, '127.0.0.1', () => r()));
  }
  s.close();
}

const get = (path: string) => fetch(API + path).then((r) => r.json() as Promise<Record<string, unknown>>);
const engineStats = () => get('/api/v1/shadow') as Promise<{ engine: { packets: number }; sessions: { name: string; copied: number }[]; sources: { dropped: Record<string, number> }[] }>;

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined && ok(v)) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not reached');
}

describe('shadownet run with traffic shadowing', () => {
  it('receives VXLAN, copies by session, and takes session and IP-set changes over the API', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shadownet-tse-run-'));
    const cfg = join(dir, 'c.yaml');
    writeFileSync(
      cfg,
      `vnets:
  - name: prod
    vni: 7001
    cidrs: [10.0.0.0/8]
    prefixTags: [{ prefix: 10.10.0.0/16, tags: { critical: true } }]
log: { level: silent }
shadow:
  receiver: { address: 127.0.0.1, port: ${RX} }
  ipSets: [{ name: watch, entries: [] }]
  targets: [{ name: asc, type: bus }]
  sessions:
    - { name: critical, vnet: prod, priority: 1, target: asc, rules: [{ action: accept, destinationRoute: { tags: { critical: true } } }] }
    - { name: watched, vnet: prod, priority: 2, target: asc, rules: [{ action: accept, destinationRoute: { ipSet: watch } }] }
`,
    );
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const done = main(['node', 'shadownet', 'run', '-c', cfg, '--api-listen', '127.0.0.1:24351']);
    try {
      await until(() => get('/healthz'), (h) => h.ok === true);
      await send(7001, ['10.10.0.1', '10.10.0.2', '10.20.0.1']);
      await send(9999, ['10.10.0.3']);
      await send(7001, ['10.10.0.4'], 0x00);
      let st = await until(engineStats, (s) => s.engine.packets === 3);
      expect(st.sessions.map((s) => [s.name, s.copied])).toEqual([
        ['critical', 2],
        ['watched', 0],
      ]);
      expect(st.sources[0].dropped).toEqual({ 'vxlan-unknown-vni': 1, 'vxlan-bad-flags': 1 });

      const put = await fetch(`${API}/api/v1/shadow/ipsets/watch`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ entries: ['10.20.0.0/24', 'not-an-ip'] }) });
      expect(put.status).toBe(200);
      expect(await put.json()).toMatchObject({ installed: 1, rejected: [{ entry: 'not-an-ip' }] });
      await send(7001, ['10.20.0.1']);
      st = await until(engineStats, (s) => s.engine.packets === 4);
      expect(st.sessions.find((s) => s.name === 'watched')!.copied).toBe(1);

      expect((await fetch(`${API}/api/v1/shadow/sessions/critical`, { method: 'DELETE' })).status).toBe(204);
      const bad = await fetch(`${API}/api/v1/shadow/sessions/broken`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vnet: 'prod', priority: 1, target: 'asc', rules: [] }) });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/rules/);
      await send(7001, ['10.10.0.9']);
      st = await until(engineStats, (s) => s.engine.packets === 5);
      expect(st.sessions.map((s) => s.name)).toEqual(['watched']);
    } finally {
      process.emit('SIGINT');
      expect(await done).toBe(0);
      spy.mockRestore();
    }
  });
});

/**
 * The `shadownet` command as a user meets it: exit codes, --help, config
 * checking, MRT replay into a virtual network, and `run` answering on its API
 * until SIGINT.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { missingDataMessage, projectRoot, sharedDataDir } from './helpers/shared-data.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
  return {
    out: () => out.join(''),
    err: () => err.join(''),
    restore: () => {
      o.mockRestore();
      e.mockRestore();
    },
  };
}

const run = (...args: string[]) => main(['node', 'shadownet', ...args]);
const tmp = mkdtempSync(join(tmpdir(), 'shadownet-cli-'));

describe('shadownet CLI', () => {
  let io: ReturnType<typeof capture>;
  afterEach(() => {
    io?.restore();
    process.exitCode = undefined;
  });

  it('shows help and refuses unknown commands with exit code 2', async () => {
    io = capture();
    expect(await run('--help')).toBe(0);
    expect(io.out()).toMatch(/routes.*\n[\s\S]*peers/);
    expect(await run('routes', '--help')).toBe(0);
    expect(io.out()).toMatch(/--lookup <ip>/);
    expect(await run('no-such-command')).toBe(2);
  });

  it('checks configs: valid, invalid with paths, missing file', async () => {
    io = capture();
    expect(await run('config', 'check', join(projectRoot, 'examples', 'demo.yaml'))).toBe(0);
    expect(io.out()).toMatch(/valid \(2 virtual networks, 2 virtual routers, 5 peers\)/);
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(bad, 'vnets:\n  - name: prod\n    cidrs: [10.0.0.0/8]\n    routers:\n      - { name: vr1, asn: 0, routerId: 10.0.0.1, listen: { address: 127.0.0.1 } }\n');
    expect(await run('config', 'check', bad)).toBe(2);
    expect(io.err()).toContain('vnets[0].routers[0].asn (line 5): expected an integer 1..4294967295');
    expect(await run('config', 'check', join(tmp, 'absent.yaml'))).toBe(2);
    expect(io.err()).toMatch(/cannot read config file/);
  });

  it('serves the API while `run` is going and stops on SIGINT', async () => {
    const cfg = join(tmp, 'run.yaml');
    writeFileSync(
      cfg,
      'vnets:\n  - name: prod\n    cidrs: [10.0.0.0/8]\n    routers:\n      - { name: vr1, asn: 65000, routerId: 10.0.0.1, listen: { address: 127.0.0.1, port: 23201 }, peers: [{ address: 127.0.0.2, asn: 65001 }] }\nlog: { level: silent }\n',
    );
    io = capture();
    const done = run('run', '-c', cfg, '--api-listen', '127.0.0.1:23202');
    let peers: { state: string; address: string }[] = [];
    for (let i = 0; i < 100 && peers.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      peers = await fetch('http://127.0.0.1:23202/api/v1/peers').then((r) => r.json() as Promise<typeof peers>, () => []);
    }
    expect(peers).toEqual([expect.objectContaining({ address: '127.0.0.2', state: 'active' })]);
    expect(io.out()).toMatch(/virtual router prod\/vr1: AS 65000, listening on 127\.0\.0\.1 port 23201/);
    const metrics = await fetch('http://127.0.0.1:23202/metrics').then((r) => r.text());
    expect(metrics).toMatch(/shadownet_rii_peer_up\{vnet="prod",router="vr1",peer="127.0.0.2"\} 0/);
    process.emit('SIGINT');
    expect(await done).toBe(0);
    await expect(fetch('http://127.0.0.1:23202/healthz')).rejects.toThrow();
  });

  const mrt = sharedDataDir('mrt');
  it.skipIf(!mrt)('replays an MRT file into a virtual network', async () => {
    const cfg = join(tmp, 'replay.yaml');
    writeFileSync(cfg, 'vnets:\n  - name: internet\n    cidrs: [0.0.0.0/0, "::/0"]\n  - name: small\n    cidrs: [10.0.0.0/8]\nlog: { level: silent }\n');
    io = capture();
    const file = join(mrt!, 'updates.20100722.2015.gz');
    expect(await run('mrt', 'replay', file, '-c', cfg, '--vnet', 'internet', '--json')).toBe(0);
    const summary = JSON.parse(io.out().trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ vnet: 'internet', badRecords: 0, rejectedOutOfRange: 0 });
    expect(summary.announced).toBeGreaterThan(1000);
    expect(summary.withdrawn).toBeGreaterThan(0);
    // Replaying bgpdump's own decode of this file (src/routing/rib/ris-replay.test.ts) leaves the same 706 prefixes.
    expect(summary.prefixes).toBe(706);
    expect(summary.stateChanges).toBe(40);
    expect(await run('mrt', 'replay', file, '-c', cfg, '--vnet', 'small', '--json')).toBe(0);
    const small = JSON.parse(io.out().trim().split('\n').at(-1)!);
    expect(small.prefixes).toBe(0);
    expect(small.rejectedOutOfRange).toBe(summary.announced);
    expect(await run('mrt', 'replay', file, '-c', cfg, '--vnet', 'nope')).toBe(2);
    expect(await run('mrt', 'replay', join(tmp, 'absent.mrt'), '-c', cfg, '--vnet', 'small')).toBe(1);
  });
  if (!mrt) it.skip(missingDataMessage('mrt'), () => undefined);
});

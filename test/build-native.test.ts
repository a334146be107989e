/**
 * scripts/build-native.mjs: builds the native helper with the system's C
 * compiler, and when it cannot, says why and lets the install go on (or
 * fails with --strict).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const script = join(import.meta.dirname, '..', 'scripts', 'build-native.mjs');
const dir = mkdtempSync(join(tmpdir(), 'shadownet-native-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const haveCc = spawnSync('cc', ['--version']).status === 0;

function build(out: string, env: Record<string, string> = {}, strict = false) {
  const args = [script, '--out', out, ...(strict ? ['--strict'] : [])];
  return spawnSync(process.execPath, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
}

describe('build-native', () => {
  it.skipIf(!haveCc)('builds a helper that loads and answers', () => {
    const out = join(dir, 'ok');
    const r = build(out, {}, true);
    expect(r.status, r.stderr).toBe(0);
    const helper = createRequire(import.meta.url)(join(out, 'udp-batch.node')) as { open(f: number, a: null, p: number): number; close(fd: number): void };
    const fd = helper.open(4, null, 0);
    expect(fd).toBeGreaterThan(2);
    helper.close(fd);
    expect(() => helper.open(5, null, 0)).toThrow(/family must be 4 or 6/);
  });

  it('without a compiler, says why and exits 0; with --strict, exits 1', () => {
    const missing = { CC: join(dir, 'no-such-compiler') };
    const soft = build(join(dir, 'soft'), missing);
    expect(soft.status).toBe(0);
    expect(soft.stderr).toMatch(/native helpers not built .*no-such-compiler/);
    const strict = build(join(dir, 'strict'), missing, true);
    expect(strict.status).toBe(1);
    expect(strict.stderr).toMatch(/native helpers not built/);
  });
});

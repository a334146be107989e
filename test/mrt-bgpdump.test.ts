import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bgpdumpLines } from '../src/routing/mrt/bgpdump.js';
import { newMrtReadStats } from '../src/routing/mrt/reader.js';
import { missingDataMessage, sharedDataDir } from './helpers/shared-data.js';

const dir = sharedDataDir('mrt');
const BGPDUMP = '/usr/bin/bgpdump';
const haveBgpdump = existsSync(BGPDUMP);

async function ours(file: string): Promise<{ text: string; bad: number }> {
  const stats = newMrtReadStats();
  const lines: string[] = [];
  for await (const l of bgpdumpLines(file, { stats })) lines.push(l);
  return { text: lines.map((l) => l + '\n').join(''), bad: stats.badRecords };
}

function firstDifference(a: string, b: string): string {
  const al = a.split('\n');
  const bl = b.split('\n');
  for (let i = 0; i < Math.max(al.length, bl.length); i++) {
    if (al[i] !== bl[i]) return `line ${i + 1}:\n  ours:    ${al[i]}\n  bgpdump: ${bl[i]}`;
  }
  return 'identical';
}

describe('bgpdump -m compatible output', () => {
  for (const f of [
    'updates.20100722.2015.gz',
    'bview.ipv4_unicast_add_path.gz',
    'bview.ipv6_unicast_add_path.gz',
    'bview.64k_stream_overflow.gz',
  ]) {
    it.skipIf(!dir)(`matches the recorded bgpdump output for ${f} byte for byte`, async () => {
      if (!dir) return console.log(missingDataMessage('mrt'));
      const expected = gunzipSync(readFileSync(join(dir, `${f}.expected-bgpdump-vm.txt.gz`))).toString('utf8');
      const got = await ours(join(dir, f));
      expect(got.bad).toBe(0);
      expect(firstDifference(got.text, expected)).toBe('identical');
      expect(got.text).toBe(expected);
    });
  }

  for (const f of ['bird-mrtdump_bgp.mrt', 'openbgpd_rib_table-v2.mrt']) {
    it.skipIf(!dir || !haveBgpdump)(`matches what the installed bgpdump prints for ${f}`, async () => {
      if (!dir || !haveBgpdump) return console.log(dir ? `skipped: ${BGPDUMP} is not installed` : missingDataMessage('mrt'));
      const expected = execFileSync(BGPDUMP, ['-m', join(dir, f)], { stdio: ['ignore', 'pipe', 'ignore'] }).toString('utf8');
      const got = await ours(join(dir, f));
      expect(firstDifference(got.text, expected)).toBe('identical');
      expect(got.text).toBe(expected);
    });
  }
});

describe('shadownet mrt dump', () => {
  async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const { Command } = await import('commander');
    const { registerMrtCommands } = await import('../src/cli/commands/mrt.js');
    const { CliExit } = await import('../src/cli/exit-codes.js');
    const program = new Command().exitOverride();
    registerMrtCommands(program);
    let out = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'shadownet', ...args]);
      return { code: 0, out, err: '' };
    } catch (e) {
      if (e instanceof CliExit) return { code: e.exitCode, out, err: e.message };
      throw e;
    } finally {
      process.stdout.write = write;
    }
  }

  it.skipIf(!dir)('prints bgpdump -m lines, and JSON with --json', async () => {
    if (!dir) return;
    const f = join(dir, 'bview.ipv4_unicast_add_path.gz');
    const expected = gunzipSync(readFileSync(`${f}.expected-bgpdump-vm.txt.gz`)).toString('utf8');
    const plain = await run(['mrt', 'dump', f]);
    expect(plain.code).toBe(0);
    expect(plain.out).toBe(expected);
    const json = await run(['mrt', 'dump', '--json', f]);
    const objs = json.out.trim().split('\n').map((l) => JSON.parse(l) as { prefix: string; pathId: number; action: string });
    expect(objs).toHaveLength(expected.trim().split('\n').length);
    const first = expected.split('\n')[0].split('|');
    expect(objs[0]).toMatchObject({ type: 'route', action: 'announce', prefix: first[5], pathId: Number(first[6]) });
  });

  it.skipIf(!dir)('exits 1 with a count of bad records for a truncated file, after printing what it could', async () => {
    if (!dir) return;
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const src = readFileSync(join(dir, 'bird-mrtdump_bgp.mrt'));
    const p = join(mkdtempSync(join(tmpdir(), 'shadownet-cli-')), 'cut.mrt');
    writeFileSync(p, src.subarray(0, src.length - 5));
    const r = await run(['mrt', 'dump', p]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/1 bad record skipped \(file ends inside a record/);
    expect(r.out.split('\n').length).toBeGreaterThan(10);
    const missing = await run(['mrt', 'dump', join(dir, 'no-such-file.mrt')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no such file/);
  });
});

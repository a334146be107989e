import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { missingDataMessage, sharedDataDir } from '../../../test/helpers/shared-data.js';
import { MrtDecodeError, MrtErrorCode, type MrtRecord } from '../../wire/mrt.js';
import { newMrtReadStats, readMrt, type MrtReadStats } from './reader.js';

const dir = sharedDataDir('mrt');
const tmp = mkdtempSync(join(tmpdir(), 'shadownet-mrt-'));

async function collect(src: Parameters<typeof readMrt>[0], stats = newMrtReadStats(), errors: MrtDecodeError[] = []): Promise<MrtRecord[]> {
  const out: MrtRecord[] = [];
  for await (const r of readMrt(src, { stats, onBadRecord: (e) => errors.push(e) })) out.push(r);
  return out;
}

function chunks(buf: Uint8Array, cuts: number[]): Readable {
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, buf.length]) {
    parts.push(buf.subarray(prev, c));
    prev = c;
  }
  return Readable.from(parts.filter((p) => p.length > 0));
}

describe.skipIf(!dir)('readMrt', () => {
  if (!dir) {
    it('needs the shared data', () => console.log(missingDataMessage('mrt')));
    return;
  }
  const bird = readFileSync(join(dir, 'bird-mrtdump_bgp.mrt'));
  const overflowGz = readFileSync(join(dir, 'bview.64k_stream_overflow.gz'));

  it('reads plain and gzip files alike, and counts what it read', async () => {
    const plain = await collect(join(dir, 'bird-mrtdump_bgp.mrt'));
    const gzPath = join(tmp, 'bird.gz');
    writeFileSync(gzPath, gzipSync(bird));
    const stats = newMrtReadStats();
    const gz = await collect(gzPath, stats);
    expect(plain).toHaveLength(27);
    expect(gz).toEqual(plain);
    expect(stats).toMatchObject({ records: 27, badRecords: 0, truncated: false, gzip: true, bytesDecoded: bird.length });
  });

  it('frames records split across chunks at every byte boundary', async () => {
    const whole = await collect(Readable.from([bird]));
    for (let cut = 1; cut < bird.length; cut++) {
      const got = await collect(chunks(bird, [cut]));
      expect(got.length, `cut ${cut}`).toBe(whole.length);
    }
    const oneByte = await collect(Readable.from(Array.from(bird, (b) => Uint8Array.of(b))));
    expect(oneByte).toEqual(whole);
  });

  it('streams a record larger than 64 KB out of gzip in small pieces', async () => {
    const raw = gunzipSync(overflowGz);
    const cuts = [];
    for (let i = 1000; i < overflowGz.length; i += 1000) cuts.push(i);
    const recs = await collect(chunks(overflowGz, cuts));
    expect(recs).toHaveLength(2);
    const rib = recs[1].body;
    expect(rib.kind).toBe('rib');
    expect(raw.length).toBeGreaterThan(65536);
  });

  it('delivers every record before a truncated last one, and reports it', async () => {
    const cut = bird.length - 10;
    const stats = newMrtReadStats();
    const errors: MrtDecodeError[] = [];
    const recs = await collect(Readable.from([bird.subarray(0, cut)]), stats, errors);
    expect(recs).toHaveLength(26);
    expect(stats).toMatchObject({ records: 26, badRecords: 1, truncated: true });
    expect(errors[0].code).toBe(MrtErrorCode.TRUNCATED);
    expect(errors[0].message).toMatch(/stream ends inside a record/);
  });

  it('delivers what a cut gzip file held before the cut', async () => {
    const gz = gzipSync(Buffer.concat([bird, bird, bird, bird]));
    const stats: MrtReadStats = newMrtReadStats();
    const recs = await collect(Readable.from([gz.subarray(0, gz.length - 40)]), stats);
    expect(stats.truncated).toBe(true);
    expect(stats.badRecords).toBe(1);
    expect(recs.length).toBeGreaterThan(27);
    expect(recs.length).toBeLessThan(108);
  });

  it('skips a record whose body does not decode and reads on', async () => {
    const bad = Buffer.from(bird);
    // First record is a BGP4MP STATE_CHANGE_AS4 over IPv4; set its AFI to 7.
    bad[12 + 4 + 4 + 2 + 1] = 7;
    const stats = newMrtReadStats();
    const errors: MrtDecodeError[] = [];
    const recs = await collect(Readable.from([bad]), stats, errors);
    expect(recs).toHaveLength(26);
    expect(stats.badRecords).toBe(1);
    expect(errors[0].message).toMatch(/unsupported address family 7 \(field afi at offset 22\)/);
  });

  it('refuses bzip2 input with a clear error', async () => {
    const p = join(tmp, 'x.bz2');
    writeFileSync(p, Buffer.from('BZh91AY&SY....'));
    await expect(collect(p)).rejects.toMatchObject({ code: MrtErrorCode.UNSUPPORTED_COMPRESSION, message: expect.stringMatching(/bzip2/) });
  });

  it('reports progress in source bytes up to the file size', async () => {
    const seen: number[] = [];
    const gz = readFileSync(join(dir, 'updates.20100722.2015.gz'));
    const cuts: number[] = [];
    for (let i = 4096; i < gz.length; i += 4096) cuts.push(i);
    for await (const _ of readMrt(chunks(gz, cuts), {
      progressEvery: 8192,
      onProgress: (p) => seen.push(p.bytesRead),
    })) void _;
    expect(seen.length).toBeGreaterThan(3);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(seen[seen.length - 1]).toBe(gz.length);
  });

  it('an empty input is zero records, not an error', async () => {
    const stats = newMrtReadStats();
    expect(await collect(Readable.from([]), stats)).toEqual([]);
    expect(stats.badRecords).toBe(0);
  });
});

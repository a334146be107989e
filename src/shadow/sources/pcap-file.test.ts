import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../core/clock.js';
import type { PacketBatch } from '../../core/packet.js';
import { encodePcap } from '../../wire/pcap.js';
import { PcapFileSource } from './pcap-file.js';
import { PacketIoError } from './errors.js';

const dir = mkdtempSync(join(tmpdir(), 'shadownet-pcapsrc-'));
const T0 = 1_700_000_000;

function file(name: string, times: number[], size = 60): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    encodePcap(
      times.map((t, i) => ({
        seconds: T0 + Math.floor(t),
        nanoseconds: Math.round((t % 1) * 1e9),
        data: new Uint8Array(size).fill(i & 0xff),
      })),
      { nanosecond: true },
    ),
  );
  return path;
}

/** What a sink saw: per batch, the packets' first bytes and (for paced runs) the clock time. */
function recorder(clock?: SimulatedClock) {
  const batches: { at: number; firsts: number[] }[] = [];
  const start = clock?.now() ?? 0;
  return {
    batches,
    sink: (b: PacketBatch): void => {
      const firsts: number[] = [];
      for (let i = 0; i < b.count; i++) firsts.push(b.data[b.offsets[i]]);
      batches.push({ at: (clock?.now() ?? 0) - start, firsts });
    },
  };
}

/** Run with a simulated clock: jump to each timer the source sets until it finishes. */
async function runPaced(
  src: PcapFileSource,
  sink: (b: PacketBatch) => void,
  clock: SimulatedClock,
): Promise<void> {
  let done = false;
  const p = src.run(sink).finally(() => (done = true));
  while (!done) {
    await new Promise((r) => setTimeout(r, 1));
    const next = clock.nextAt();
    if (next !== undefined) clock.advanceTo(next);
  }
  await p;
}

describe('PcapFileSource', () => {
  it('delivers every packet in batches of the requested size, fast', async () => {
    const path = file(
      'many.pcap',
      Array.from({ length: 600 }, (_, i) => i * 0.001),
    );
    const src = new PcapFileSource(path, { batchSize: 256, readSize: 1000 });
    const rec = recorder();
    await src.run(rec.sink);
    expect(rec.batches.map((b) => b.firsts.length)).toEqual([256, 256, 88]);
    expect(rec.batches.flatMap((b) => b.firsts)).toEqual(Array.from({ length: 600 }, (_, i) => i & 0xff));
    expect(src.stats).toMatchObject({ packets: 600, bytes: 600 * 60, batches: 3, dropped: {} });
    expect(src.format).toBe('pcap');
  });

  it('at recorded pace keeps the recorded spacing on the clock, divided by speed', async () => {
    const path = file('paced.pcap', [0, 0.5, 0.5, 2, 2.25]);
    for (const speed of [1, 4]) {
      const clock = new SimulatedClock();
      const rec = recorder(clock);
      await runPaced(new PcapFileSource(path, { pace: 'recorded', speed, clock }), rec.sink, clock);
      expect(rec.batches).toEqual([
        { at: 0, firsts: [0] },
        { at: 500 / speed, firsts: [1, 2] },
        { at: 2000 / speed, firsts: [3] },
        { at: 2250 / speed, firsts: [4] },
      ]);
    }
  });

  it('stops while waiting for a packet time', async () => {
    const path = file('long.pcap', [0, 3600]);
    const clock = new SimulatedClock();
    const src = new PcapFileSource(path, { pace: 'recorded', clock });
    const rec = recorder(clock);
    const p = src.run(rec.sink);
    while (clock.pending === 0) await new Promise((r) => setTimeout(r, 1));
    await src.stop();
    await p;
    expect(rec.batches.flatMap((b) => b.firsts)).toEqual([0]);
  });

  it('fails at start on a file that is not a capture, or not there', async () => {
    const bad = join(dir, 'bad.pcap');
    writeFileSync(bad, 'this is a text file, not a capture\n');
    const err = await new PcapFileSource(bad).run(() => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PacketIoError);
    expect((err as PacketIoError).code).toBe('SHADOWNET_ERR_CAPTURE_BAD_MAGIC');
    expect((err as Error).message).toContain('bad.pcap');
    await expect(new PcapFileSource(join(dir, 'absent.pcap')).run(() => {})).rejects.toThrow(
      /cannot open capture file/,
    );
  });

  it('delivers the good records of a file that ends mid-record and counts the cut one', async () => {
    const path = file('cut.pcap', [0, 1, 2]);
    const whole = (await import('node:fs')).readFileSync(path);
    writeFileSync(path, whole.subarray(0, whole.length - 30));
    const src = new PcapFileSource(path);
    const rec = recorder();
    await src.run(rec.sink);
    expect(rec.batches.flatMap((b) => b.firsts)).toEqual([0, 1]);
    expect(src.stats.dropped).toEqual({ 'truncated-record': 1 });
  });

  it('refuses nonsense options', () => {
    expect(() => new PcapFileSource('x', { speed: 0 })).toThrow(/speed must be a positive number/);
    expect(() => new PcapFileSource('x', { batchSize: 1000 })).toThrow(/batchSize must be 1..256/);
  });
});

import { describe, expect, it } from 'vitest';
import { PacketDirection, type PacketBatch } from '../../core/packet.js';
import { ProgrammaticSource } from './programmatic.js';

describe('ProgrammaticSource', () => {
  it('delivers full batches as they fill and partial ones on flush, in order', async () => {
    const src = new ProgrammaticSource('emu', 101, 'prod', { batchSize: 4 });
    const seen: { vnet?: string; linkType: number; firsts: number[]; dirs: number[] }[] = [];
    const running = src.run(async (b: PacketBatch) => {
      await new Promise((r) => setTimeout(r, 1));
      const firsts: number[] = [];
      const dirs: number[] = [];
      for (let i = 0; i < b.count; i++) {
        firsts.push(b.data[b.offsets[i]]);
        dirs.push(b.directions![i]);
      }
      seen.push({ vnet: b.vnet, linkType: b.linkType, firsts, dirs });
    });
    for (let i = 0; i < 10; i++)
      expect(
        src.push(Uint8Array.of(i, 0x45), 100, 1, 0, i % 2 ? PacketDirection.EGRESS : PacketDirection.INGRESS),
      ).toBe(true);
    await src.flush();
    expect(seen.map((s) => s.firsts)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect(seen[0]).toMatchObject({ vnet: 'prod', linkType: 101, dirs: [1, 2, 1, 2] });
    src.push(Uint8Array.of(42), 1, 2, 0);
    await src.stop();
    await running;
    expect(seen.at(-1)!.firsts).toEqual([42]);
    expect(src.stats).toMatchObject({ packets: 11, batches: 4, dropped: {} });
    expect(src.push(Uint8Array.of(1), 1, 3, 0)).toBe(false);
    expect(src.stats.dropped).toEqual({ 'source-stopped': 1 });
  });

  it('counts packets that find the queue full while no sink takes them', () => {
    const src = new ProgrammaticSource('emu', 1, undefined, { batchSize: 2, maxQueuedBatches: 2 });
    let accepted = 0;
    for (let i = 0; i < 10; i++) if (src.push(new Uint8Array(20), 20, 0, 0)) accepted++;
    // Two queued batches of 2, plus one filling batch of 2 → 6 accepted.
    expect(accepted).toBe(6);
    expect(src.stats.dropped).toEqual({ 'queue-full': 4 });
  });
});

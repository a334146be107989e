import { describe, expect, it } from 'vitest';
import { PacketBatchBuilder, PacketDirection, nanosecondsOfMs } from './packet.js';

describe('PacketBatchBuilder.pushFrom', () => {
  it('copies the bytes at an offset as push copies a view of them, small and large packets alike', () => {
    const source = new Uint8Array(3000);
    for (let i = 0; i < source.length; i++) source[i] = (i * 7) & 0xff;
    const a = new PacketBatchBuilder('a', 1, 4, 4096);
    const b = new PacketBatchBuilder('b', 1, 4, 4096);
    for (const [off, len, wire] of [
      [5, 60, 60],
      [100, 1500, 1514],
      [2000, 64, 10],
    ]) {
      expect(a.push(source.subarray(off, off + len), wire, 1700000000, 5, PacketDirection.UNKNOWN)).toBe(true);
      expect(b.pushFrom(source, off, len, wire, 1700000000, 5)).toBe(true);
    }
    expect(b.count).toBe(3);
    for (let i = 0; i < 3; i++) {
      expect(b.lengths[i]).toBe(a.lengths[i]);
      expect(b.wireLengths[i]).toBe(a.wireLengths[i]);
      expect([...b.data.subarray(b.offsets[i], b.offsets[i] + b.lengths[i])]).toEqual([...a.data.subarray(a.offsets[i], a.offsets[i] + a.lengths[i])]);
    }
    // The source may change afterwards: the batch holds a copy.
    source.fill(0);
    expect(b.data[b.offsets[0]]).toBe(35);
    expect(b.wireLengths[2]).toBe(64);
  });

  it('refuses a packet that does not fit, and grows the buffer for one larger than it when empty', () => {
    const b = new PacketBatchBuilder('b', 1, 2, 100);
    const source = new Uint8Array(500).fill(9);
    expect(b.pushFrom(source, 0, 80, 80, 0, 0)).toBe(true);
    expect(b.pushFrom(source, 0, 80, 80, 0, 0)).toBe(false);
    b.reset();
    expect(b.pushFrom(source, 10, 400, 400, 0, 0)).toBe(true);
    expect(b.data.length).toBeGreaterThanOrEqual(400);
    expect(b.full()).toBe(false);
    expect(b.pushFrom(source, 0, 1, 1, 0, 0)).toBe(false);
  });
});

describe('nanosecondsOfMs', () => {
  it('gives the nanoseconds within the second, never 10^9', () => {
    expect(nanosecondsOfMs(1_767_571_200_250.5)).toBe(250_500_000);
    expect(nanosecondsOfMs(1_767_571_200_000)).toBe(0);
    // A hair before a whole second (representable near the epoch; today's times are 244 ns apart as doubles)
    // would round up to 10^9, which is not a nanosecond count.
    expect(Math.round((1_999.9999999 % 1000) * 1e6)).toBe(1e9);
    expect(nanosecondsOfMs(1_999.9999999)).toBe(999_999_999);
  });
});

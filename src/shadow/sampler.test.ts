import { describe, expect, it } from 'vitest';
import { PacketView } from '../wire/dissect.js';
import { CountSampler, EVERY_PACKET, FlowSampler, RandomSampler, createSampler } from './sampler.js';

const view = new PacketView();
const none = new Uint8Array(0);
function flowView(i: number, reverse: boolean): PacketView {
  view.ipVersion = 4;
  view.protocol = i % 3 === 0 ? 17 : 6;
  const a = (0x0a000000 + i) >>> 0;
  const b = (0xc6336400 + (i % 251)) >>> 0;
  const pa = 1024 + (i % 50000);
  const pb = 443;
  view.src4 = reverse ? b : a;
  view.dst4 = reverse ? a : b;
  view.srcPort = reverse ? pb : pa;
  view.dstPort = reverse ? pa : pb;
  return view;
}

describe('samplers', () => {
  it('1-in-N by count copies exactly one packet in N, starting with the first', () => {
    const s = new CountSampler(7);
    const picks: number[] = [];
    for (let i = 0; i < 70; i++) if (s.sample()) picks.push(i);
    expect(picks).toEqual([0, 7, 14, 21, 28, 35, 42, 49, 56, 63]);
  });

  it('seeded random 1-in-N repeats with the same seed and keeps near the rate', () => {
    const run = (seed: number) => {
      const s = new RandomSampler(10, seed);
      return Array.from({ length: 20000 }, () => s.sample());
    };
    const a = run(42);
    expect(run(42)).toEqual(a);
    expect(run(43)).not.toEqual(a);
    const n = a.filter(Boolean).length;
    expect(n).toBeGreaterThan(1700);
    expect(n).toBeLessThan(2300);
  });

  it('per-flow sampling copies a sampled flow whole, in both directions, and about 1 flow in N', () => {
    const s = new FlowSampler(8, 1234);
    let sampledFlows = 0;
    for (let f = 0; f < 4000; f++) {
      const seen = new Set<boolean>();
      for (let p = 0; p < 6; p++) seen.add(s.sample(flowView(f, p % 2 === 1), none));
      expect(seen.size, `flow ${f} split`).toBe(1);
      if (seen.has(true)) sampledFlows++;
    }
    expect(sampledFlows).toBeGreaterThan(400);
    expect(sampledFlows).toBeLessThan(600);
    // Another seed picks other flows.
    const t = new FlowSampler(8, 99);
    let differ = 0;
    for (let f = 0; f < 400; f++) if (t.sample(flowView(f, false), none) !== s.sample(flowView(f, false), none)) differ++;
    expect(differ).toBeGreaterThan(0);
  });

  it('createSampler follows the session setting', () => {
    expect(createSampler(undefined)).toBe(EVERY_PACKET);
    expect(createSampler({ oneIn: 1, perFlow: true })).toBe(EVERY_PACKET);
    expect(createSampler({ oneIn: 5 })).toBeInstanceOf(CountSampler);
    expect(createSampler({ oneIn: 5 }, { random: true, seed: 3 })).toBeInstanceOf(RandomSampler);
    expect(createSampler({ oneIn: 5, perFlow: true })).toBeInstanceOf(FlowSampler);
    expect(() => new CountSampler(0)).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import { ApplicationSchema } from '../../config.js';
import { appDemand, appUsage } from './resources.js';

const app = ApplicationSchema.parse({
  name: 'api',
  kind: 'api',
  protocol: 'http',
  port: 80,
  clients: ['10.0.0.0/8'],
  requestsPerSecond: 100,
  resources: { cpuPerRequest: 0.01, cpuBaseCores: 0.5, memoryBaseMiB: 400, memoryPerRpsMiB: 2, cores: 4, memoryMiB: 4096 },
});

describe('appUsage', () => {
  it('uses base + per-request CPU and memory while capacity lasts', () => {
    const u = appUsage(app, 100, { cores: 4, memoryMiB: 4096 });
    expect(u.cpuCores).toBeCloseTo(1.5);
    // 400 + 2×100 + a working set of 0.25×400×100/200.
    expect(u.memoryMiB).toBeCloseTo(650);
    expect(u.saturation).toBe(0);
  });

  it('caps CPU at the allocation and reports the unserved fraction', () => {
    const u = appUsage(app, 1000, { cores: 2, memoryMiB: 8192 });
    expect(u.cpuCores).toBeCloseTo(2);
    expect(u.servedRps).toBeCloseTo(150);
    expect(u.saturation).toBeCloseTo(0.85);
    expect(appDemand(app, 1000).cpuCores).toBeCloseTo(10.5);
  });

  it('is limited by memory too, and monotone in load', () => {
    const u = appUsage(app, 1000, { cores: 64, memoryMiB: 1000 });
    expect(u.memoryMiB).toBeLessThanOrEqual(1000);
    expect(u.memoryMiB).toBeGreaterThan(999);
    expect(u.saturation).toBeGreaterThan(0.6);
    let last = 0;
    for (let r = 0; r <= 2000; r += 50) {
      const x = appUsage(app, r, { cores: 4, memoryMiB: 4096 });
      expect(x.cpuCores).toBeGreaterThanOrEqual(last);
      last = x.cpuCores;
    }
    expect(appUsage(app, 0, { cores: 4, memoryMiB: 4096 })).toEqual({ cpuCores: 0.5, memoryMiB: 400, saturation: 0, servedRps: 0 });
    expect(appUsage(app, 10, { cores: 0.25, memoryMiB: 4096 }).saturation).toBe(1);
  });
});

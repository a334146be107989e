/**
 * The CPU and memory an application uses at a load, given what it is
 * allocated: the ground truth forecasts and allocation advice are judged
 * against. With the application's `resources` (cpuBaseCores, cpuPerRequest,
 * memoryBaseMiB, memoryPerRpsMiB) and a load of `rps` requests per second:
 *
 *   cpuDemand(r)    = cpuBaseCores + cpuPerRequest × r
 *   workingSet(r)   = 0.25 × memoryBaseMiB × r / (r + requestsPerSecond)
 *   memoryDemand(r) = memoryBaseMiB + memoryPerRpsMiB × r + workingSet(r)
 *
 * The working set is a cache that fills with load and stays bounded (it never
 * exceeds a quarter of the base; it does not grow with time).
 *
 * Served load is the largest r ≤ rps with cpuDemand(r) ≤ cores and
 * memoryDemand(r) ≤ memoryMiB; saturation = 1 − served / rps (0 when rps is
 * 0). Reported use is cpuDemand(served) and memoryDemand(served), so it never
 * exceeds the allocation except for the base itself when the allocation is
 * smaller than the base (then nothing is served).
 */
import type { ApplicationConfig } from '../../config.js';

export interface Allocation {
  readonly cores: number;
  readonly memoryMiB: number;
}

export interface AppUsage {
  readonly cpuCores: number;
  readonly memoryMiB: number;
  /** Fraction of the requests that could not be served (0..1). */
  readonly saturation: number;
  /** Requests per second actually served. */
  readonly servedRps: number;
}

type UsageApp = Pick<ApplicationConfig, 'requestsPerSecond' | 'resources'>;

/** CPU cores and MiB the application would use at `rps` with unlimited capacity. */
export function appDemand(app: UsageApp, rps: number): { cpuCores: number; memoryMiB: number } {
  const r = app.resources;
  const load = Math.max(0, rps);
  const workingSet = (0.25 * r.memoryBaseMiB * load) / (load + app.requestsPerSecond);
  return { cpuCores: r.cpuBaseCores + r.cpuPerRequest * load, memoryMiB: r.memoryBaseMiB + r.memoryPerRpsMiB * load + workingSet };
}

/** Usage and saturation at `rps` with `allocation` (see the module comment for the formulas). */
export function appUsage(app: UsageApp, rps: number, allocation: Allocation): AppUsage {
  const load = Math.max(0, rps);
  const r = app.resources;
  const base = appDemand(app, 0);
  if (load === 0) return { cpuCores: base.cpuCores, memoryMiB: base.memoryMiB, saturation: 0, servedRps: 0 };
  if (base.cpuCores > allocation.cores || base.memoryMiB > allocation.memoryMiB)
    return { cpuCores: Math.min(base.cpuCores, allocation.cores), memoryMiB: Math.min(base.memoryMiB, allocation.memoryMiB), saturation: 1, servedRps: 0 };
  let served = r.cpuPerRequest > 0 ? Math.min(load, (allocation.cores - r.cpuBaseCores) / r.cpuPerRequest) : load;
  if (appDemand(app, served).memoryMiB > allocation.memoryMiB) {
    // memoryDemand is increasing in r: bisect for the largest load that fits.
    let lo = 0;
    let hi = served;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (appDemand(app, mid).memoryMiB <= allocation.memoryMiB) lo = mid;
      else hi = mid;
    }
    served = lo;
  }
  const use = appDemand(app, served);
  return { cpuCores: use.cpuCores, memoryMiB: use.memoryMiB, saturation: Math.max(0, 1 - served / load), servedRps: served };
}

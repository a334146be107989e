/**
 * Load over time and the flows it produces. An application's request rate is
 *
 *   rate(t) = requestsPerSecond × daily(t) × weekly(t) × growth(t) × burst(t)
 *
 * - daily(t)  = 1 + daily × cos(2π (hourUTC(t) − peakHour) / 24): peak at
 *   peakHour, trough twelve hours later, mean 1 over a day;
 * - weekly(t) = 1 − weekly on Saturdays and Sundays (UTC), 1 otherwise;
 * - growth(t) = (1 + growthPerWeek) ^ ((t − start) / 1 week);
 * - burst(t)  = 3 inside a burst, 1 outside. Each UTC day has a Poisson
 *   number (mean burstsPerDay) of 10-minute bursts at uniform times, drawn
 *   from a generator seeded by (seed, application, day), so the schedule is a
 *   pure function of those.
 */
import { formatAddress, parsePrefix, type Prefix } from '../../../core/prefix.js';
import type { ApplicationConfig } from '../../config.js';
import type { Flow, FlowKind } from '../types.js';
import { DEFAULT_FLOW_BYTES, flowFor } from './flows.js';
import { createRng, mixSeed, type Rng } from './rng.js';

export { createRng, mixSeed, type Rng } from './rng.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** Length of one burst. */
export const BURST_MS = 10 * 60_000;
export const BURST_FACTOR = 3;

/** Mean bytes per flow (both directions) when the application does not say. */
export const DEFAULT_BYTES_PER_FLOW: Readonly<Record<ApplicationConfig['protocol'], number>> = {
  dns: DEFAULT_FLOW_BYTES.dns,
  http: DEFAULT_FLOW_BYTES.http,
  tls: DEFAULT_FLOW_BYTES.tls,
  ssh: DEFAULT_FLOW_BYTES.ssh,
  bulk: DEFAULT_FLOW_BYTES.bulk,
};

type Rhythm = ApplicationConfig['rhythm'];
type RateApp = Pick<ApplicationConfig, 'name' | 'requestsPerSecond' | 'rhythm'>;

/** Burst windows [start, end) of one UTC day (index = floor(t / 1 day)). */
export function burstWindows(app: Pick<ApplicationConfig, 'name' | 'rhythm'>, day: number, seed = 0): [number, number][] {
  const mean = app.rhythm.burstsPerDay;
  if (!(mean > 0)) return [];
  const rng = createRng(mixSeed(seed, app.name, 'bursts', day));
  const n = rng.poisson(mean);
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const s = day * DAY + Math.floor(rng.next() * DAY);
    out.push([s, s + BURST_MS]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

// The schedules of the days last asked for, per application (and seed): rates are read at every arrival.
interface BurstDays {
  seed: number;
  mean: number;
  readonly days: Map<number, [number, number][]>;
}
const burstCache = new WeakMap<object, BurstDays>();

function cachedBurstWindows(app: Pick<ApplicationConfig, 'name' | 'rhythm'>, day: number, seed: number): [number, number][] {
  const mean = app.rhythm.burstsPerDay;
  if (!(mean > 0)) return [];
  let c = burstCache.get(app);
  if (!c) {
    c = { seed, mean, days: new Map() };
    burstCache.set(app, c);
  } else if (c.seed !== seed || c.mean !== mean) {
    c.seed = seed;
    c.mean = mean;
    c.days.clear();
  }
  let w = c.days.get(day);
  if (!w) {
    if (c.days.size >= 8) c.days.clear();
    w = burstWindows(app, day, seed);
    c.days.set(day, w);
  }
  return w;
}

/** True when `timeMs` falls inside one of the application's bursts. */
export function inBurst(app: Pick<ApplicationConfig, 'name' | 'rhythm'>, timeMs: number, seed = 0): boolean {
  if (!(app.rhythm.burstsPerDay > 0)) return false;
  const day = Math.floor(timeMs / DAY);
  for (let d = day; d >= day - 1; d--) {
    const w = cachedBurstWindows(app, d, seed);
    for (let i = 0; i < w.length; i++) if (timeMs >= w[i][0] && timeMs < w[i][1]) return true;
  }
  return false;
}

export function dailyFactor(rhythm: Rhythm, timeMs: number): number {
  const hour = (((timeMs % DAY) + DAY) % DAY) / HOUR;
  return 1 + rhythm.daily * Math.cos((2 * Math.PI * (hour - rhythm.peakHour)) / 24);
}

/** 1 − weekly on Saturday and Sunday (UTC). */
export function weeklyFactor(rhythm: Rhythm, timeMs: number): number {
  // 1970-01-01 was a Thursday: day 0 → 4 in getUTCDay() terms.
  const dow = (((Math.floor(timeMs / DAY) + 4) % 7) + 7) % 7;
  return dow === 0 || dow === 6 ? 1 - rhythm.weekly : 1;
}

export function growthFactor(rhythm: Rhythm, timeMs: number, startMs: number): number {
  return Math.pow(1 + rhythm.growthPerWeek, (timeMs - startMs) / WEEK);
}

/** Requests per second of `app` at `timeMs`, for an emulation that began at `startMs` (see the module comment). */
export function appRate(app: RateApp, timeMs: number, startMs: number, seed = 0): number {
  const r = app.rhythm;
  return app.requestsPerSecond * dailyFactor(r, timeMs) * weeklyFactor(r, timeMs) * growthFactor(r, timeMs, startMs) * (inBurst(app, timeMs, seed) ? BURST_FACTOR : 1);
}

const KIND: Readonly<Record<ApplicationConfig['protocol'], FlowKind>> = { http: 'http', tls: 'tls', dns: 'dns', ssh: 'ssh', bulk: 'bulk' };

export interface GenerateOptions {
  /** Start of the emulation (growth is measured from it); default `fromMs`. */
  readonly startMs?: number;
  /** Seed of the burst schedule (the emulation's seed); default 0. */
  readonly seed?: number;
  /** Flow ids; default numbers from 1 within this call. */
  readonly nextId?: () => number;
}

/** A uniformly chosen host address inside a prefix (network and broadcast avoided where there is room). */
export function randomAddressIn(prefix: string, rng: Rng): string {
  const p = parsedPrefix(prefix);
  const len = p.address.length;
  const out = len === 4 ? scratch4 : scratch16;
  out.set(p.address);
  const hostBits = len * 8 - p.length;
  for (let i = 0; i < len; i++) {
    const bitsBefore = i * 8;
    if (bitsBefore + 8 <= p.length) continue;
    const keep = Math.max(0, p.length - bitsBefore);
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    out[i] = (out[i] & mask) | (rng.int(256) & ~mask & 0xff);
  }
  if (hostBits >= 2 && len === 4) {
    const last = out[3];
    const hostMask = hostBits >= 8 ? 0xff : (1 << hostBits) - 1;
    // Retry away from the all-zeros and all-ones host parts when they are possible picks.
    if ((last & hostMask) === 0 || (last & hostMask) === hostMask) out[3] = (last & ~hostMask) | (1 + rng.int(Math.max(1, hostMask - 1)));
  }
  return len === 4 ? `${out[0]}.${out[1]}.${out[2]}.${out[3]}` : formatAddress(out, 0, 16);
}

const scratch4 = new Uint8Array(4);
const scratch16 = new Uint8Array(16);
const prefixCache = new Map<string, Prefix>();
function parsedPrefix(text: string): Prefix {
  let p = prefixCache.get(text);
  if (!p) {
    p = parsePrefix(text, false);
    if (prefixCache.size >= 4096) prefixCache.clear();
    prefixCache.set(text, p);
  }
  return p;
}

/**
 * The flows `app`'s clients open towards `serviceAddress` in [fromMs, toMs):
 * arrivals of a Poisson process at {@link appRate} (the rate is read at each
 * arrival), clients drawn uniformly from `clientPrefixes` with ephemeral ports
 * (32768–60999, Linux's range), kinds from the protocol, sizes log-normal
 * around bytesPerFlow. Deterministic for the generator's state.
 */
export function generateAppFlows(
  app: ApplicationConfig,
  vnet: string,
  clientPrefixes: readonly string[],
  serviceAddress: string,
  fromMs: number,
  toMs: number,
  rng: Rng,
  opts: GenerateOptions = {},
): Flow[] {
  const startMs = opts.startMs ?? fromMs;
  let counter = 0;
  const nextId = opts.nextId ?? (() => ++counter);
  const v6 = serviceAddress.includes(':');
  const prefixes = clientPrefixes.filter((p) => p.includes(':') === v6);
  if (prefixes.length === 0) return [];
  const mean = app.bytesPerFlow ?? DEFAULT_BYTES_PER_FLOW[app.protocol];
  const kind = KIND[app.protocol];
  const sigma = 0.6;
  const flows: Flow[] = [];
  const hostname = app.hostname ?? `${app.name}.${vnet}.internal`;
  let t = fromMs;
  while (true) {
    const rate = appRate(app, t, startMs, opts.seed ?? 0);
    if (!(rate > 0)) break;
    t += rng.exp(1000 / rate);
    if (t >= toMs) break;
    const target = Math.round(mean * Math.exp(sigma * rng.normal() - (sigma * sigma) / 2));
    flows.push(
      flowFor(kind, {
        id: nextId(),
        vnet,
        app: app.name,
        label: null,
        client: randomAddressIn(rng.pick(prefixes), rng),
        clientPort: 32768 + rng.int(28232),
        server: serviceAddress,
        serverPort: app.port,
        start: Math.round(t * 1000) / 1000,
        hostname,
        seed: rng.int(0x100000000),
        targetBytes: target,
      }),
    );
  }
  return flows;
}

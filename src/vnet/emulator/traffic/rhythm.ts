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
import { grown } from '../../../core/typed.js';
import type { ApplicationConfig } from '../../config.js';
import type { Flow, FlowKind } from '../types.js';
import { createFlowCounts, DEFAULT_FLOW_BYTES, flowCounts, flowFor, type FlowSpec } from './flows.js';
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

/**
 * A step's flows as columns (struct of arrays): application flows over IPv4
 * are carried as numbers, and a {@link Flow} object is built only for those
 * that become packets ({@link FlowBatch.flow}). Other flows (attacks, IPv6
 * applications) ride along as objects, in the same order.
 */
export class FlowBatch {
  length = 0;
  id = new Float64Array(0);
  start = new Float64Array(0);
  duration = new Float64Array(0);
  /** IPv4 client address as a 32-bit number (rows without an object). */
  client = new Uint32Array(0);
  clientPort = new Uint16Array(0);
  seed = new Uint32Array(0);
  packetsToServer = new Float64Array(0);
  packetsToClient = new Float64Array(0);
  bytesToServer = new Float64Array(0);
  bytesToClient = new Float64Array(0);
  protocol = new Uint8Array(0);
  /** Index of the row's application plan, or -1 (attacks). */
  app = new Int32Array(0);
  /** Free for the batch's user (the emulator keeps each row's fate here). */
  mark = new Uint8Array(0);
  /** The row's flow when it was made as an object. */
  objects: (Flow | undefined)[] = [];
  /** The application plans rows refer to (null: that application's rows carry objects). */
  plans: (AppFlowPlan | null)[] = [];

  clear(): void {
    this.length = 0;
    this.objects.length = 0;
  }

  /** Room for one more row: its index. */
  add(): number {
    const i = this.length;
    if (i === this.id.length) this.#grow(Math.max(1024, i * 2));
    this.length = i + 1;
    this.objects[i] = undefined;
    return i;
  }

  /** A row carried as an object. */
  push(flow: Flow, app: number): number {
    const i = this.add();
    this.objects[i] = flow;
    this.id[i] = flow.id;
    this.start[i] = flow.start;
    this.duration[i] = flow.duration;
    this.packetsToServer[i] = flow.packetsToServer;
    this.packetsToClient[i] = flow.packetsToClient;
    this.bytesToServer[i] = flow.bytesToServer;
    this.bytesToClient[i] = flow.bytesToClient;
    this.protocol[i] = flow.protocol;
    this.app[i] = app;
    return i;
  }

  /** Row `i` as a {@link Flow} (the object it was made as, or one built from its columns). */
  flow(i: number): Flow {
    const o = this.objects[i];
    if (o) return o;
    const p = this.plans[this.app[i]]!;
    const c = this.client[i];
    return {
      id: this.id[i],
      kind: p.kind,
      vnet: p.vnet,
      app: p.app.name,
      label: null,
      client: `${c >>> 24}.${(c >>> 16) & 0xff}.${(c >>> 8) & 0xff}.${c & 0xff}`,
      clientPort: this.clientPort[i],
      server: p.server,
      serverPort: p.app.port,
      start: this.start[i],
      hostname: p.hostname,
      seed: this.seed[i],
      protocol: this.protocol[i],
      duration: this.duration[i],
      packetsToServer: this.packetsToServer[i],
      packetsToClient: this.packetsToClient[i],
      bytesToServer: this.bytesToServer[i],
      bytesToClient: this.bytesToClient[i],
    };
  }

  #grow(n: number): void {
    this.id = grown(this.id, n);
    this.start = grown(this.start, n);
    this.duration = grown(this.duration, n);
    this.packetsToServer = grown(this.packetsToServer, n);
    this.packetsToClient = grown(this.packetsToClient, n);
    this.bytesToServer = grown(this.bytesToServer, n);
    this.bytesToClient = grown(this.bytesToClient, n);
    this.client = grown(this.client, n);
    this.seed = grown(this.seed, n);
    this.clientPort = grown(this.clientPort, n);
    this.protocol = grown(this.protocol, n);
    this.app = grown(this.app, n);
    this.mark = grown(this.mark, n);
  }

}

/**
 * What {@link generateAppBatch} needs of an application, worked out once:
 * null when its flows cannot be carried as numbers (an IPv6 service).
 */
export interface AppFlowPlan {
  readonly app: ApplicationConfig;
  readonly vnet: string;
  readonly server: string;
  readonly kind: FlowKind;
  readonly hostname: string;
  readonly mean: number;
  /** The IPv4 client prefixes: network bytes and length. */
  readonly prefixes: readonly { readonly bytes: Uint8Array; readonly length: number }[];
  /** Burst windows [start, end, ...] of `day` and the day before, for `seed`. */
  readonly bursts: { day: number; seed: number; windows: number[] };
  /** Reused for the flow's counts. */
  readonly spec: { -readonly [K in keyof FlowSpec]: FlowSpec[K] };
}

export function appFlowPlan(app: ApplicationConfig, vnet: string, clientPrefixes: readonly string[], serviceAddress: string): AppFlowPlan | null {
  if (serviceAddress.includes(':')) return null;
  const prefixes = clientPrefixes.filter((p) => !p.includes(':')).map((p) => {
    const x = parsedPrefix(p);
    return { bytes: x.address, length: x.length };
  });
  const hostname = app.hostname ?? `${app.name}.${vnet}.internal`;
  return {
    app,
    vnet,
    server: serviceAddress,
    kind: KIND[app.protocol],
    hostname,
    mean: app.bytesPerFlow ?? DEFAULT_BYTES_PER_FLOW[app.protocol],
    prefixes,
    bursts: { day: Number.NaN, seed: 0, windows: [] },
    spec: { id: 0, vnet, app: app.name, label: null, client: '', clientPort: 0, server: serviceAddress, serverPort: app.port, start: 0, hostname, seed: 0, targetBytes: 0 },
  };
}

const batchCounts = createFlowCounts();

/**
 * {@link generateAppFlows} into `batch` as rows of plan `planIndex` (of
 * `batch.plans`): the same flows from the same draws, as numbers. Returns
 * the number of flows added.
 */
export function generateAppBatch(batch: FlowBatch, planIndex: number, fromMs: number, toMs: number, rng: Rng, opts: GenerateOptions = {}): number {
  const plan = batch.plans[planIndex];
  if (!plan) return 0;
  const startMs = opts.startMs ?? fromMs;
  const seed = opts.seed ?? 0;
  let counter = 0;
  const nextId = opts.nextId ?? (() => ++counter);
  const prefixes = plan.prefixes;
  if (prefixes.length === 0) return 0;
  const mean = plan.mean;
  const kind = plan.kind;
  const spec = plan.spec;
  const sigma = 0.6;
  let n = 0;
  let t = fromMs;
  while (true) {
    const rate = planRate(plan, t, startMs, seed);
    if (!(rate > 0)) break;
    t += rng.exp(1000 / rate);
    if (t >= toMs) break;
    const target = Math.round(mean * Math.exp(sigma * rng.normal() - (sigma * sigma) / 2));
    const id = nextId();
    // randomAddressIn's draws, byte by byte, into a number.
    const p = prefixes[rng.int(prefixes.length)];
    const len = p.length;
    let b0 = p.bytes[0];
    let b1 = p.bytes[1];
    let b2 = p.bytes[2];
    let b3 = p.bytes[3];
    if (len < 8) b0 = randomByte(b0, len, rng);
    if (len < 16) b1 = randomByte(b1, len - 8, rng);
    if (len < 24) b2 = randomByte(b2, len - 16, rng);
    if (len < 32) b3 = randomByte(b3, len - 24, rng);
    const hostBits = 32 - len;
    if (hostBits >= 2) {
      const hostMask = hostBits >= 8 ? 0xff : (1 << hostBits) - 1;
      if ((b3 & hostMask) === 0 || (b3 & hostMask) === hostMask) b3 = ((b3 & ~hostMask) | (1 + rng.int(Math.max(1, hostMask - 1)))) & 0xff;
    }
    const clientPort = 32768 + rng.int(28232);
    const start = Math.round(t * 1000) / 1000;
    const flowSeed = rng.int(0x100000000);
    spec.id = id;
    spec.seed = flowSeed;
    spec.start = start;
    spec.clientPort = clientPort;
    spec.targetBytes = target;
    const c = flowCounts(kind, spec, batchCounts);
    const i = batch.add();
    batch.id[i] = id;
    batch.start[i] = start;
    batch.duration[i] = c.duration;
    batch.client[i] = ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
    batch.clientPort[i] = clientPort;
    batch.seed[i] = flowSeed;
    batch.packetsToServer[i] = c.packetsToServer;
    batch.packetsToClient[i] = c.packetsToClient;
    batch.bytesToServer[i] = c.bytesToServer;
    batch.bytesToClient[i] = c.bytesToClient;
    batch.protocol[i] = c.protocol;
    batch.app[i] = planIndex;
    n++;
  }
  return n;
}

/**
 * {@link appRate} for a plan's application, the same value: factors that are
 * exactly 1 for its rhythm are not computed, and the burst windows of the
 * day are kept in the plan.
 */
function planRate(plan: AppFlowPlan, timeMs: number, startMs: number, seed: number): number {
  const app = plan.app;
  const r = app.rhythm;
  // For times after 1970, ((t % day) + day) % day is t % day exactly (the sum is exact at this size).
  const daily = r.daily === 0 ? 1 : timeMs >= 0 ? 1 + r.daily * Math.cos((2 * Math.PI * ((timeMs % DAY) / HOUR - r.peakHour)) / 24) : dailyFactor(r, timeMs);
  const growth = r.growthPerWeek === 0 ? 1 : growthFactor(r, timeMs, startMs);
  return app.requestsPerSecond * daily * weeklyFactor(r, timeMs) * growth * (planInBurst(plan, timeMs, seed) ? BURST_FACTOR : 1);
}

function planInBurst(plan: AppFlowPlan, timeMs: number, seed: number): boolean {
  if (!(plan.app.rhythm.burstsPerDay > 0)) return false;
  const day = Math.floor(timeMs / DAY);
  const b = plan.bursts;
  if (b.day !== day || b.seed !== seed) {
    // This day's windows and the day before's (a burst may run past midnight), as inBurst reads them.
    const w: number[] = [];
    for (let d = day; d >= day - 1; d--) for (const x of cachedBurstWindows(plan.app, d, seed)) w.push(x[0], x[1]);
    b.day = day;
    b.seed = seed;
    b.windows = w;
  }
  const w = b.windows;
  for (let i = 0; i < w.length; i += 2) if (timeMs >= w[i] && timeMs < w[i + 1]) return true;
  return false;
}

/** One byte of randomAddressIn: the first `keep` bits (≤ 0: none) from `b`, the rest drawn. */
function randomByte(b: number, keep: number, rng: Rng): number {
  const k = keep < 0 ? 0 : keep;
  const mask = k === 0 ? 0 : (0xff << (8 - k)) & 0xff;
  return (b & mask) | (rng.int(256) & ~mask & 0xff);
}

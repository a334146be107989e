/**
 * The substrate: the provider's physical hosts and the links between them,
 * with the paths overlay traffic takes and a per-step model of link capacity.
 *
 * Capacity model. Traffic is accounted per emulation step. A link carries at
 * most `capacity × step` bits per step, both directions together; load within
 * one step is spread over the step (bursts shorter than a step queue rather
 * than drop). When the load offered to some links exceeds that, whole flows
 * are dropped until every link fits: flows are admitted in an order fixed by
 * a hash of their id (and the substrate's seed), each admitted while every
 * link on its path still has room, so the losses fall on a pseudo-random,
 * reproducible share of every application's flows rather than on whichever
 * was generated last, and every count is an exact integer. A refused flow is
 * counted as dropped on the first link of its path that had no room for it.
 */
import { grown, ShadownetError } from '../../core/index.js';
import type { ShadownetConfig, SubstrateConfig } from '../config.js';

export const SubstrateErrorCode = {
  UNKNOWN_HOST: 'SHADOWNET_ERR_SUBSTRATE_UNKNOWN_HOST',
  INVALID: 'SHADOWNET_ERR_SUBSTRATE_INVALID',
  STEP: 'SHADOWNET_ERR_SUBSTRATE_STEP',
} as const;
export type SubstrateErrorCode = (typeof SubstrateErrorCode)[keyof typeof SubstrateErrorCode];

export class SubstrateError extends ShadownetError {
  constructor(code: SubstrateErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'SubstrateError';
  }
}

/** An undirected link between two hosts. */
export interface SubstrateLink {
  /** Position in `substrate.links` of the config. */
  readonly index: number;
  readonly a: string;
  readonly b: string;
  /** Bits per second, both directions together. */
  readonly capacity: number;
  /** One-way latency, seconds. */
  readonly latency: number;
}

/** Totals of one link since the substrate was built. */
export interface LinkCounters {
  bitsCarried: number;
  packetsCarried: number;
  bitsDropped: number;
  packetsDropped: number;
}

/** One link over one step. */
export interface LinkStepReport {
  readonly link: SubstrateLink;
  /** Bits offered to the link (including flows it or another link refused). */
  readonly offeredBits: number;
  readonly carriedBits: number;
  readonly carriedPackets: number;
  /** Dropped here: flows this link was the first on their path to refuse. */
  readonly droppedBits: number;
  readonly droppedPackets: number;
  readonly droppedFlows: number;
  /** carriedBits / (capacity × step), 0..1. */
  readonly utilisation: number;
}

export interface SubstrateStepReport {
  readonly stepSeconds: number;
  readonly links: readonly LinkStepReport[];
  /** Ids of the flows dropped for lack of capacity, in the order they were charged. */
  readonly droppedFlowIds: readonly number[];
  readonly droppedBits: number;
  readonly droppedPackets: number;
}

export interface SubstrateOptions {
  /** Seeds the order in which flows are admitted on overloaded links. */
  readonly seed?: number;
}

/** A step's charges, one column per field. */
interface Charges {
  count: number;
  flowIds: Float64Array;
  bits: Float64Array;
  packets: Float64Array;
  readonly links: (readonly SubstrateLink[])[];
}

/** Latency as integer nanoseconds, so sums compare exactly. */
const nanos = (seconds: number): number => Math.round(seconds * 1e9);

function mix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Admission rank of a flow: a hash of its id (both halves of a 53-bit id) and the seed. */
function admissionRank(flowId: number, seed: number): number {
  const lo = flowId >>> 0;
  const hi = Math.floor(flowId / 0x100000000) >>> 0;
  return mix32(mix32(lo ^ mix32(seed)) ^ Math.imul(hi, 0x9e3779b1));
}

/**
 * Hosts, links and paths of the substrate, with per-step capacity accounting.
 * Build it from the whole config or from its `substrate` section.
 */
export class Substrate {
  readonly hosts: readonly string[];
  readonly links: readonly SubstrateLink[];
  readonly #adjacent = new Map<string, SubstrateLink[]>();
  readonly #paths = new Map<string, Map<string, readonly SubstrateLink[] | null>>();
  readonly #counters: LinkCounters[];
  readonly #seed: number;
  #step: { seconds: number; offered: Float64Array } | null = null;
  readonly #charges: Charges = { count: 0, flowIds: new Float64Array(0), bits: new Float64Array(0), packets: new Float64Array(0), links: [] };

  constructor(config: ShadownetConfig | SubstrateConfig, options: SubstrateOptions = {}) {
    const sub: SubstrateConfig = 'substrate' in config ? config.substrate : config;
    const hosts: string[] = [];
    for (const h of sub.hosts) {
      if (this.#adjacent.has(h.name))
        throw new SubstrateError(SubstrateErrorCode.INVALID, `duplicate substrate host "${h.name}"`);
      this.#adjacent.set(h.name, []);
      hosts.push(h.name);
    }
    this.hosts = hosts;
    this.links = sub.links.map((l, index) => {
      for (const end of [l.a, l.b])
        if (!this.#adjacent.has(end))
          throw new SubstrateError(
            SubstrateErrorCode.UNKNOWN_HOST,
            `substrate.links[${index}] names unknown host "${end}"`,
          );
      if (l.a === l.b)
        throw new SubstrateError(
          SubstrateErrorCode.INVALID,
          `substrate.links[${index}] joins host "${l.a}" to itself`,
        );
      if (!(l.capacity > 0))
        throw new SubstrateError(SubstrateErrorCode.INVALID, `substrate.links[${index}] has no capacity`);
      const link: SubstrateLink = Object.freeze({
        index,
        a: l.a,
        b: l.b,
        capacity: l.capacity,
        latency: l.latency,
      });
      this.#adjacent.get(l.a)!.push(link);
      this.#adjacent.get(l.b)!.push(link);
      return link;
    });
    this.#counters = this.links.map(() => ({
      bitsCarried: 0,
      packetsCarried: 0,
      bitsDropped: 0,
      packetsDropped: 0,
    }));
    this.#seed = options.seed ?? 0;
  }

  hasHost(name: string): boolean {
    return this.#adjacent.has(name);
  }

  /**
   * The links from host `a` to host `b` with the lowest total latency; among
   * equal latencies the fewest links, then the lowest link indexes in order.
   * `[]` when a = b, null when no chain of links joins them. Cached.
   */
  path(a: string, b: string): readonly SubstrateLink[] | null {
    let fromA = this.#paths.get(a);
    if (!fromA) {
      fromA = this.#shortestPaths(a);
      this.#paths.set(a, fromA);
    }
    if (!this.#adjacent.has(b))
      throw new SubstrateError(SubstrateErrorCode.UNKNOWN_HOST, `no substrate host "${b}"`);
    return fromA.get(b) ?? null;
  }

  /** Sum of the latencies of a path, seconds. */
  static latency(path: readonly SubstrateLink[]): number {
    return path.reduce((s, l) => s + nanos(l.latency), 0) / 1e9;
  }

  /** Groups of hosts that reach each other, each sorted as configured; one group when the substrate is connected. */
  components(): string[][] {
    const seen = new Set<string>();
    const groups: string[][] = [];
    for (const h of this.hosts) {
      if (seen.has(h)) continue;
      const group = this.hosts.filter((x) => this.path(h, x) !== null);
      for (const x of group) seen.add(x);
      groups.push(group);
    }
    return groups;
  }

  /** Every pair of hosts (a before b as configured) that no chain of links joins. */
  unreachablePairs(): [string, string][] {
    const comp = new Map<string, number>();
    this.components().forEach((g, i) => g.forEach((h) => comp.set(h, i)));
    const out: [string, string][] = [];
    for (let i = 0; i < this.hosts.length; i++)
      for (let j = i + 1; j < this.hosts.length; j++)
        if (comp.get(this.hosts[i]) !== comp.get(this.hosts[j])) out.push([this.hosts[i], this.hosts[j]]);
    return out;
  }

  // Dijkstra over (latency ns, hops, link indexes) compared lexicographically.
  // Comparing whole index sequences keeps the tie-break consistent along
  // sub-paths, so the result does not depend on iteration order.
  #shortestPaths(src: string): Map<string, readonly SubstrateLink[] | null> {
    if (!this.#adjacent.has(src))
      throw new SubstrateError(SubstrateErrorCode.UNKNOWN_HOST, `no substrate host "${src}"`);
    interface Best {
      ns: number;
      path: SubstrateLink[];
    }
    const better = (x: Best, y: Best): boolean => {
      if (x.ns !== y.ns) return x.ns < y.ns;
      if (x.path.length !== y.path.length) return x.path.length < y.path.length;
      for (let i = 0; i < x.path.length; i++)
        if (x.path[i].index !== y.path[i].index) return x.path[i].index < y.path[i].index;
      return false;
    };
    const best = new Map<string, Best>([[src, { ns: 0, path: [] }]]);
    const done = new Set<string>();
    for (;;) {
      let cur: string | undefined;
      for (const [h, b] of best)
        if (!done.has(h) && (cur === undefined || better(b, best.get(cur)!))) cur = h;
      if (cur === undefined) break;
      done.add(cur);
      const base = best.get(cur)!;
      for (const l of this.#adjacent.get(cur)!) {
        const next = l.a === cur ? l.b : l.a;
        if (done.has(next)) continue;
        const cand: Best = { ns: base.ns + nanos(l.latency), path: [...base.path, l] };
        const old = best.get(next);
        if (!old || better(cand, old)) best.set(next, cand);
      }
    }
    const out = new Map<string, readonly SubstrateLink[] | null>();
    for (const h of this.hosts) {
      const b = best.get(h);
      out.set(h, b ? Object.freeze(b.path) : null);
    }
    return out;
  }

  /** Start accounting a step of `stepSeconds`. */
  beginStep(stepSeconds: number): void {
    if (!(stepSeconds > 0) || !Number.isFinite(stepSeconds))
      throw new SubstrateError(
        SubstrateErrorCode.STEP,
        `a step must last more than 0 seconds, not ${stepSeconds}`,
      );
    const c = this.#charges;
    c.count = 0;
    c.links.length = 0;
    this.#step = { seconds: stepSeconds, offered: new Float64Array(this.links.length) };
  }

  /**
   * Offer a flow's bits and packets to the links of its path in the current
   * step. Whether it fits is decided by {@link endStep}, once the whole
   * step's load is known. An empty path (same host) carries it for free.
   */
  charge(path: readonly SubstrateLink[], bits: number, packets: number, flowId: number): void {
    const step = this.#step;
    if (!step)
      throw new SubstrateError(SubstrateErrorCode.STEP, 'charge() outside a step: call beginStep() first');
    if (path.length === 0) return;
    for (let j = 0; j < path.length; j++) step.offered[path[j].index] += bits;
    // The step's charges as columns: no object per flow.
    const c = this.#charges;
    const i = c.count;
    if (i === c.flowIds.length) {
      const n = Math.max(1024, i * 2);
      c.flowIds = grown(c.flowIds, n);
      c.bits = grown(c.bits, n);
      c.packets = grown(c.packets, n);
    }
    c.flowIds[i] = flowId;
    c.bits[i] = bits;
    c.packets[i] = packets;
    c.links[i] = path;
    c.count = i + 1;
  }

  /** Decide the step's drops, update the counters, and report each link. */
  endStep(): SubstrateStepReport {
    const step = this.#step;
    if (!step) throw new SubstrateError(SubstrateErrorCode.STEP, 'endStep() without beginStep()');
    this.#step = null;
    const n = this.links.length;
    const budget = this.links.map((l) => Math.floor(l.capacity * step.seconds));
    const overloaded = this.links.map((l) => step.offered[l.index] > budget[l.index]);
    const carriedBits = new Float64Array(n);
    const carriedPackets = new Float64Array(n);
    const droppedBits = new Float64Array(n);
    const droppedPackets = new Float64Array(n);
    const droppedFlows = new Float64Array(n);
    const ch = this.#charges;
    const count = ch.count;
    const chargeLinks = ch.links;
    const flowIds = ch.flowIds;
    const bits = ch.bits;
    const packets = ch.packets;
    const refused = new Uint8Array(count);
    const contended: number[] = [];
    if (overloaded.some((o) => o))
      for (let i = 0; i < count; i++) {
        const links = chargeLinks[i];
        for (let j = 0; j < links.length; j++)
          if (overloaded[links[j].index]) {
            contended.push(i);
            break;
          }
      }
    if (contended.length > 0) {
      const rank = new Float64Array(count);
      for (const i of contended) rank[i] = admissionRank(flowIds[i], this.#seed);
      const order = Uint32Array.from(contended).sort(
        (x, y) => rank[x] - rank[y] || flowIds[x] - flowIds[y] || x - y,
      );
      const room = budget.slice();
      for (const i of order) {
        const cBits = bits[i];
        let blocked: SubstrateLink | undefined;
        for (const l of chargeLinks[i])
          if (overloaded[l.index] && room[l.index] < cBits) {
            blocked = l;
            break;
          }
        if (blocked) {
          refused[i] = 1;
          droppedBits[blocked.index] += cBits;
          droppedPackets[blocked.index] += packets[i];
          droppedFlows[blocked.index] += 1;
        } else for (const l of chargeLinks[i]) if (overloaded[l.index]) room[l.index] -= cBits;
      }
    }
    const droppedFlowIds: number[] = [];
    let totalBits = 0;
    let totalPackets = 0;
    for (let i = 0; i < count; i++) {
      if (refused[i] === 1) {
        droppedFlowIds.push(flowIds[i]);
        totalBits += bits[i];
        totalPackets += packets[i];
        continue;
      }
      const links = chargeLinks[i];
      for (let j = 0; j < links.length; j++) {
        const x = links[j].index;
        carriedBits[x] += bits[i];
        carriedPackets[x] += packets[i];
      }
    }
    ch.count = 0;
    chargeLinks.length = 0;
    const links = this.links.map((link, i): LinkStepReport => {
      const k = this.#counters[i];
      k.bitsCarried += carriedBits[i];
      k.packetsCarried += carriedPackets[i];
      k.bitsDropped += droppedBits[i];
      k.packetsDropped += droppedPackets[i];
      return {
        link,
        offeredBits: step.offered[i],
        carriedBits: carriedBits[i],
        carriedPackets: carriedPackets[i],
        droppedBits: droppedBits[i],
        droppedPackets: droppedPackets[i],
        droppedFlows: droppedFlows[i],
        utilisation: Math.min(1, carriedBits[i] / (link.capacity * step.seconds)),
      };
    });
    return {
      stepSeconds: step.seconds,
      links,
      droppedFlowIds,
      droppedBits: totalBits,
      droppedPackets: totalPackets,
    };
  }

  /** Totals of a link since the substrate was built. */
  counters(link: SubstrateLink | number): Readonly<LinkCounters> {
    const i = typeof link === 'number' ? link : link.index;
    const k = this.#counters[i];
    if (!k) throw new SubstrateError(SubstrateErrorCode.INVALID, `no substrate link ${i}`);
    return { ...k };
  }
}

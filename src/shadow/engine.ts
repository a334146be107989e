/**
 * The traffic shadowing engine (TSE): packets in from any source, routing
 * facts in from the RII, copies out to mirror targets.
 *
 * Per packet: dissect in place → virtual network (the batch's, or by
 * address) → the flow's decision from the flow cache, or the classifier
 * (sessions in priority order, rules in order, routing facts from the live
 * table) → the session's sampler → session and target budgets → truncate →
 * the session's target. Every step counts what it drops, by reason.
 *
 * Routing changes arrive as RouteEvents and are queued; they are committed at
 * the start of the next batch, so a batch is always classified against one
 * consistent table, and a change takes effect within one batch.
 */
import {
  InvalidArgumentError,
  NotFoundError,
  bytesEqual,
  formatPrefix,
  parsePrefix,
  silentLogger,
  type Bus,
  type Clock,
  type Logger,
  FlowDirection,
  type FlowRecord,
  type PacketBatch,
  type PacketSource,
  type PathSummary,
  type Prefix,
  type RouteEvent,
  type Subscription,
} from '../core/index.js';
import { PacketView, conversationHash, dissect, dissectErrorName } from '../wire/dissect.js';
import { MirrorSessionSchema, type MirrorSessionConfig, type MirrorTargetConfig, type ShadownetConfig, type VnetConfig } from '../vnet/config.js';
import { Budgets, shedReasonName, ShedReason } from './budget.js';
import { Classifier, type VnetClassifier } from './classifier.js';
import { RouteFactTable, StaticPrefixTable } from './fact-table.js';
import { FLOW_DST_ROUTE, FLOW_META, FLOW_SESSION, FLOW_SRC_ROUTE, FlowCache, flowVnetIndex } from './flow-cache.js';
import { IpSetRegistry } from './ipset.js';
import { createSampler, type Sampler } from './sampler.js';
import { BusTarget, PcapTarget, VxlanTarget } from './targets/index.js';
import type { CopyRecord, CopyTarget } from './types.js';

/** What the engine needs from the RII: the current tables, and events on the bus. */
export interface RoutingView {
  rib(vnet: string): { entries(): Iterable<{ readonly prefix: Prefix; readonly best: PathSummary }> };
}

export interface ShadowEngineOptions {
  config: ShadownetConfig;
  bus: Bus;
  clock: Clock;
  logger?: Logger;
  /** Where the routing tables come from; without it, only events on the bus fill them. */
  routing?: RoutingView;
  /** Use these targets instead of building the config's (e.g. `shadownet shadow --out DIR`). */
  targets?: readonly CopyTarget[];
  /** Disable the flow cache (benchmarks compare both). Default: on. */
  flowCache?: boolean;
}

export interface SessionCounters {
  /** Packets the session's rules accepted. */
  matched: number;
  copied: number;
  /** Copies cut to the session's truncation length. */
  truncated: number;
  /** Bytes handed to the target (after truncation). */
  bytes: number;
  sampledOut: number;
  /** Packets accepted but not copied, by reason (session-budget, target-budget, …). */
  readonly shed: Record<string, number>;
}

export interface EngineCounters {
  packets: number;
  bytes: number;
  batches: number;
  /** Packets that could not be dissected or placed, by reason. */
  readonly dropped: Record<string, number>;
  routeChangesCommitted: number;
  flowCacheHits: number;
  flowCacheMisses: number;
  /** Cached flow decisions forgotten because a route they were made with changed (a snapshot or local-route change forgets all, not counted here). */
  flowDecisionsForgotten: number;
  /** Flows counted whole, without their packets ({@link ShadowEngine.countFlow}), and their packets (included in `packets`). */
  flowsCounted: number;
  packetsCounted: number;
}

/** Traffic of one prefix (the longest match of the source or destination) over one interval. */
export interface PrefixTraffic {
  prefix: string;
  app?: string;
  tags?: Record<string, string | boolean | number>;
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
}

/** Published on `shadow.stats.<vnet>` every statsInterval seconds of packet time. */
export interface TrafficStatsMessage {
  type: 'traffic-stats';
  vnet: string;
  /** Interval [start, end) in ms of packet time. */
  start: number;
  end: number;
  packets: number;
  bytes: number;
  /** Traffic with no covering route. */
  unrouted: { packets: number; bytes: number };
  prefixes: PrefixTraffic[];
  /** Sums per application (`app` tag of the vnet's prefixTags). */
  applications: { app: string; packetsIn: number; bytesIn: number; packetsOut: number; bytesOut: number }[];
}

export const trafficStatsTopic = (vnet: string): string => `shadow.stats.${vnet}`;

interface VnetState {
  readonly config: VnetConfig;
  readonly index: number;
  readonly facts: RouteFactTable;
  readonly tags: StaticPrefixTable;
  readonly tagList: VnetConfig['prefixTags'];
  /**
   * Routes seen this interval, each with a slot: `slotOf[route]` is the slot
   * + 1 (0: not seen), `touched[slot]` the route. Counters of slot s:
   * packets in (as destination) at `traffic[4s]`, bytes in at 4s+1, packets
   * and bytes out (as source) at 4s+2, 4s+3. Only routes that carried
   * traffic take memory and time at the end of an interval. `slotPrefix[slot]`
   * is the route's prefix when the slot was made: a route withdrawn during
   * the interval is still reported, and when its index comes to mean another
   * prefix (or a snapshot reloads the table) the slot is detached
   * (`slotOf[route]` 0) and that prefix gets a slot of its own.
   */
  slotOf: Int32Array;
  touched: Int32Array;
  slotPrefix: (Prefix | undefined)[];
  nTouched: number;
  traffic: Float64Array;
  packets: number;
  bytes: number;
  unroutedPackets: number;
  unroutedBytes: number;
  intervalStart: number;
}

const newSessionCounters = (): SessionCounters => ({ matched: 0, copied: 0, truncated: 0, bytes: 0, sampledOut: 0, shed: {} });

/** The distinct `announcedWithin` windows of the sessions' rules, ms (none: no session depends on route age). */
function ageWindowsMs(sessions: readonly MirrorSessionConfig[]): number[] {
  const ws = new Set<number>();
  for (const s of sessions)
    for (const r of s.rules)
      for (const m of [r.sourceRoute, r.destinationRoute]) if (m?.announcedWithin !== undefined) ws.add(m.announcedWithin * 1000);
  return [...ws];
}

/** Packets taken through each step together (see ShadowEngine.#prepare). */
const STAGE = 256;
/** A stage slot's network when the packet did not dissect, or no network owns its addresses. */
const SLOT_UNDISSECTED = -2;
const SLOT_NO_VNET = -1;

export function createTarget(t: MirrorTargetConfig, bus: Bus, logger: Logger): CopyTarget {
  switch (t.type) {
    case 'vxlan':
      return new VxlanTarget({ name: t.name, address: t.address, port: t.port, order: t.order, logger });
    case 'pcap':
      return new PcapTarget({ name: t.name, path: t.path, format: t.format, rotate: t.rotate, logger });
    case 'bus':
      return new BusTarget({ name: t.name, bus, topic: t.topic ?? `shadow.copies.${t.name}` });
  }
}

export class ShadowEngine {
  readonly counters: EngineCounters = {
    packets: 0,
    bytes: 0,
    batches: 0,
    dropped: {},
    routeChangesCommitted: 0,
    flowCacheHits: 0,
    flowCacheMisses: 0,
    flowsCounted: 0,
    flowDecisionsForgotten: 0,
    packetsCounted: 0,
  };
  readonly ipSets = new IpSetRegistry();
  readonly #config: ShadownetConfig;
  readonly #bus: Bus;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #routing?: RoutingView;
  readonly #vnets: VnetState[] = [];
  readonly #vnetByName = new Map<string, VnetState>();
  /** CIDRs of every vnet → vnet index + 1, for batches that do not name their vnet. */
  readonly #vnetOfAddress: StaticPrefixTable;
  readonly #targets = new Map<string, CopyTarget>();
  readonly #targetConfigs: MirrorTargetConfig[];
  readonly #cache: FlowCache | null;
  /** One view per packet of a stage (see {@link #prepare}), its network (or SLOT_*) and its flow-cache bucket (-1: none). */
  readonly #views = Array.from({ length: STAGE }, () => new PacketView());
  readonly #slotVnet = new Int32Array(STAGE);
  readonly #slotBucket = new Int32Array(STAGE);
  /** What the stage's early reads answered: written, never read, so that the compiler keeps the reads. */
  // eslint-disable-next-line no-unused-private-class-members -- see above
  #touched = 0;
  /** The five-tuple of a flow offered as counts, as a packet of it would dissect. */
  readonly #flowView = new PacketView();
  readonly #record: { -readonly [K in keyof CopyRecord]-?: CopyRecord[K] } = { session: '', vni: 0, data: new Uint8Array(0), offset: 0, length: 0, wireLength: 0, tsSec: 0, tsNsec: 0, linkType: 1, conversation: 0 };
  #sessions: MirrorSessionConfig[];
  #classifier!: Classifier;
  #perVnet: (VnetClassifier | undefined)[] = [];
  #budgets!: Budgets;
  #samplers: Sampler[] = [];
  #sessionTargets: CopyTarget[] = [];
  #vnis: number[] = [];
  #truncate: number[] = [];
  #sessionCounters = new Map<string, SessionCounters>();
  #counterList: SessionCounters[] = [];
  #timeSensitive = false;
  /** The sessions' route-age windows, ms. */
  #ageWindows: number[] = [];
  /**
   * With route-age conditions: the span of packet time [#ageLo, #ageHi]
   * in which the flow cache's decisions were made holds no instant at which
   * a condition changes its answer (a route set at t stops being "announced
   * within w" after t + w); #ageNext is the first such instant from #ageHi
   * on, #agePrev the last one before #ageLo. A packet outside the span that
   * would take one in empties the cache and starts a new span.
   */
  #ageLo = Infinity;
  #ageHi = -Infinity;
  #ageNext = -Infinity;
  #agePrev = Infinity;
  /** Packets classified since routes were last committed (see #commitRoutes). */
  #packetsSinceCommit = 0;
  #sub: Subscription | null = null;
  #statsIntervalMs: number;
  #started = false;
  readonly #sources: PacketSource[] = [];

  constructor(options: ShadowEngineOptions) {
    this.#config = options.config;
    this.#bus = options.bus;
    this.#clock = options.clock;
    this.#log = options.logger ?? silentLogger();
    this.#routing = options.routing;
    this.#cache = options.flowCache === false ? null : new FlowCache(18, (e, at, packets, bytes) => this.#foldFlow(e, at, packets, bytes));
    this.#statsIntervalMs = options.config.shadow.statsInterval * 1000;
    const byAddress: { prefix: ReturnType<typeof parsePrefix>; value: number }[] = [];
    options.config.vnets.forEach((v, index) => {
      const state: VnetState = {
        config: v,
        index,
        facts: new RouteFactTable({ vnet: v.name }),
        tags: new StaticPrefixTable(v.prefixTags.map((t, i) => ({ prefix: parsePrefix(t.prefix), value: i + 1 }))),
        tagList: v.prefixTags,
        slotOf: new Int32Array(1024),
        touched: new Int32Array(1024),
        slotPrefix: [],
        nTouched: 0,
        traffic: new Float64Array(4 * 1024),
        packets: 0,
        bytes: 0,
        unroutedPackets: 0,
        unroutedBytes: 0,
        intervalStart: -1,
      };
      // The network's own address space is routed inside it (a provider's local route).
      const local = new Map<string, ReturnType<typeof parsePrefix>>();
      for (const c of [...v.cidrs, ...v.subnets.map((s) => s.cidr)]) {
        const p = parsePrefix(c);
        local.set(formatPrefix(p), p);
      }
      state.facts.setLocal([...local.values()]);
      this.#vnets.push(state);
      this.#vnetByName.set(v.name, state);
      for (const c of v.cidrs) byAddress.push({ prefix: parsePrefix(c), value: index + 1 });
    });
    this.#vnetOfAddress = new StaticPrefixTable(byAddress);
    for (const s of options.config.shadow.ipSets) this.ipSets.replace(s.name, s.entries);
    this.#targetConfigs = options.config.shadow.targets;
    if (options.targets) for (const t of options.targets) this.#targets.set(t.name, t);
    else for (const t of this.#targetConfigs) this.#targets.set(t.name, createTarget(t, this.#bus, this.#log.child({ target: t.name })));
    this.#sessions = [...options.config.shadow.sessions];
    this.#install(this.#sessions);
  }

  /** Load the current routing tables and follow routing events from now on. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#sub = this.#bus.subscribe<RouteEvent>('routing.events.>', (e) => {
      if (e.type === 'best-path-change') this.#vnetByName.get(e.vnet)?.facts.apply(e);
    });
    if (this.#routing) {
      const now = this.#clock.now();
      for (const v of this.#vnets) {
        try {
          v.facts.replace(this.#routing.rib(v.config.name).entries(), now);
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
        }
      }
      // Loaded whole: no decision made before stands.
      for (const v of this.#vnets) v.facts.takeChanges();
      this.#cache?.invalidate();
      this.#resetAgeSpan();
    }
    this.#commitRoutes();
  }

  // ---- the packet path ----

  /** Classify and copy one batch. Synchronous: the batch's buffers may be reused when it returns. */
  process(batch: PacketBatch): void {
    this.#commitRoutes();
    const c = this.counters;
    c.batches++;
    const named = batch.vnet !== undefined ? this.#vnetByName.get(batch.vnet) : undefined;
    if (batch.vnet !== undefined && !named) {
      this.#drop('unknown-vnet', batch.count);
      c.packets += batch.count;
      return;
    }
    const rec = this.#record;
    rec.data = batch.data;
    rec.linkType = batch.linkType;
    this.#packetsSinceCommit += batch.count;
    for (let start = 0; start < batch.count; start += STAGE) {
      const end = Math.min(batch.count, start + STAGE);
      this.#prepare(batch, start, end, named);
      this.#classifyAndCopy(batch, start, end);
    }
    const cache = this.#cache;
    if (cache) {
      c.flowCacheHits = cache.hits;
      c.flowCacheMisses = cache.misses;
    }
    for (const t of this.#targets.values()) t.endBatch?.();
  }

  /**
   * The first steps for packets [start, end) of a batch, each over the
   * whole stage before the next: read the first bytes of every packet,
   * dissect each into its own view and find its network and flow-cache
   * bucket, then read every bucket. Reads the processor would otherwise
   * wait for one after another (packet headers and cache entries not in
   * the processor's cache) are thus made many at a time, in loops with
   * nothing else to do.
   */
  #prepare(batch: PacketBatch, start: number, end: number, named: VnetState | undefined): void {
    const data = batch.data;
    const offsets = batch.offsets;
    const lengths = batch.lengths;
    const linkType = batch.linkType;
    const size = data.length;
    let t = 0;
    for (let i = start; i < end; i++) {
      const off = offsets[i];
      const far = off + 64;
      if (far < size) t ^= data[off] ^ data[far];
      else if (off < size) t ^= data[off];
    }
    const cache = this.#cache;
    const views = this.#views;
    const slotVnet = this.#slotVnet;
    const slotBucket = this.#slotBucket;
    for (let i = start; i < end; i++) {
      const k = i - start;
      const view = views[k];
      slotBucket[k] = -1;
      if (!dissect(data, offsets[i], lengths[i], linkType, view)) {
        slotVnet[k] = SLOT_UNDISSECTED;
        continue;
      }
      let vi: number;
      if (named) vi = named.index;
      else {
        // StaticPrefixTable answers -1 when no prefix covers the address.
        let idx = view.ipVersion === 4 ? this.#vnetOfAddress.lookup4(view.dst4 >>> 0) : this.#vnetOfAddress.lookup6(data, view.dst6Offset);
        if (idx <= 0) idx = view.ipVersion === 4 ? this.#vnetOfAddress.lookup4(view.src4 >>> 0) : this.#vnetOfAddress.lookup6(data, view.src6Offset);
        vi = idx <= 0 ? SLOT_NO_VNET : idx - 1;
      }
      slotVnet[k] = vi;
      if (cache !== null && vi >= 0) {
        const ver = view.ipVersion;
        if (ver === 4) slotBucket[k] = cache.bucket4(view, vi);
        else if (ver === 6) slotBucket[k] = cache.bucket6(view, data, vi);
      }
    }
    if (cache !== null)
      for (let k = 0; k < end - start; k++) {
        const b = slotBucket[k];
        if (b >= 0) t ^= cache.touch(b);
      }
    this.#touched = t;
  }

  /** Count, classify and copy packets [start, end) of a batch, prepared by {@link #prepare}. */
  #classifyAndCopy(batch: PacketBatch, start: number, end: number): void {
    const c = this.counters;
    const cache = this.#cache;
    const data = batch.data;
    const rec = this.#record;
    const views = this.#views;
    for (let i = start; i < end; i++) {
      const k = i - start;
      const view = views[k];
      const off = batch.offsets[i];
      const len = batch.lengths[i];
      const wire = batch.wireLengths[i];
      c.packets++;
      c.bytes += wire;
      const vi = this.#slotVnet[k];
      if (vi === SLOT_UNDISSECTED) {
        this.#drop(dissectErrorName(view.error));
        continue;
      }
      const tsSec = batch.tsSec[i];
      const tsNsec = batch.tsNsec[i];
      const timeMs = tsSec * 1000 + tsNsec / 1e6;
      if (this.#timeSensitive && cache) {
        if (timeMs > this.#ageHi) {
          if (timeMs > this.#ageNext) this.#newAgeSpan(timeMs);
          else this.#ageHi = timeMs;
        } else if (timeMs < this.#ageLo) {
          if (timeMs <= this.#agePrev) this.#newAgeSpan(timeMs);
          else this.#ageLo = timeMs;
        }
      }
      if (vi === SLOT_NO_VNET) {
        this.#drop('no-vnet-for-address');
        continue;
      }
      const v = this.#vnets[vi];
      this.#enterInterval(v, timeMs);

      let session: number;
      let srcRoute: number;
      let dstRoute: number;
      const ver = view.ipVersion;
      const bucket = this.#slotBucket[k];
      let entry = bucket < 0 ? -1 : ver === 4 ? cache!.find4At(view, v.index, bucket) : cache!.find6At(view, data, v.index, bucket);
      if (entry >= 0) {
        const e = cache!.entries;
        session = e[entry + FLOW_SESSION];
        srcRoute = e[entry + FLOW_SRC_ROUTE];
        dstRoute = e[entry + FLOW_DST_ROUTE];
      } else {
        const vc = this.#perVnet[v.index];
        session = vc ? vc.classify(view, data, timeMs) : -1;
        if (vc && (ver === 4 || ver === 6)) {
          // The classifier keeps the routes it looked up, and looks up the others.
          srcRoute = vc.lastRoute(v.facts, true);
          dstRoute = vc.lastRoute(v.facts, false);
        } else if (ver === 4) {
          srcRoute = v.facts.lookup4(view.src4 >>> 0);
          dstRoute = v.facts.lookup4(view.dst4 >>> 0);
        } else {
          srcRoute = v.facts.lookup6(data, view.src6Offset);
          dstRoute = v.facts.lookup6(data, view.dst6Offset);
        }
        if (bucket >= 0)
          entry = ver === 4 ? cache!.store4(view, v.index, session, srcRoute, dstRoute) : cache!.store6(view, data, v.index, session, srcRoute, dstRoute);
      }
      // Per-prefix traffic, for the PRA: counted in the flow's cache entry and folded into the routes' counters later.
      v.packets++;
      v.bytes += wire;
      if (entry >= 0) cache!.count(entry, wire);
      else this.#countRoutes(v, srcRoute, dstRoute, 1, wire);
      if (session < 0) continue;

      const sc = this.#counterList[session];
      sc.matched++;
      if (!this.#samplers[session].sample(view, data)) {
        sc.sampledOut++;
        continue;
      }
      const limit = this.#truncate[session];
      const copyLen = len > limit ? limit : len;
      const shed = this.#budgets.admit(session, copyLen, tsSec, tsNsec);
      if (shed !== ShedReason.NONE) {
        const reason = shedReasonName(shed);
        sc.shed[reason] = (sc.shed[reason] ?? 0) + 1;
        continue;
      }
      if (copyLen < len) sc.truncated++;
      sc.copied++;
      sc.bytes += copyLen;
      rec.session = this.#sessions[session].name;
      rec.vni = this.#vnis[session];
      rec.offset = off;
      rec.length = copyLen;
      rec.wireLength = wire;
      rec.tsSec = tsSec;
      rec.tsNsec = tsNsec;
      rec.conversation = conversationHash(view, data);
      this.#sessionTargets[session].write(rec);
    }
  }

  // ---- flows carried as counts ----

  /** Length of the per-prefix statistics interval, ms of packet time (intervals start at multiples of it). */
  get statsIntervalMs(): number {
    return this.#statsIntervalMs;
  }

  /**
   * The directions of a flow ({@link FlowDirection} bits) whose packets the
   * engine needs as packets. A direction is left out (may be given to
   * {@link countFlow} as counts instead) only when no session accepts its
   * five-tuple — now, or with route-age conditions at any time of the
   * flow's span — and the flow's packets all fall in one statistics
   * interval: counting it then has the same effect on every counter and
   * statistic as its packets. Flows whose five-tuple varies from packet to
   * packet (scans, spoofed floods) are the producer's to send as packets.
   * Decided against the routing table as of now (routing changes received
   * so far are applied first, as a batch would).
   */
  flowPacketsNeeded(f: FlowRecord): number {
    this.#commitRoutes();
    const v = this.#vnetByName.get(f.vnet);
    if (!v || (f.ipVersion !== 4 && f.ipVersion !== 6) || !(f.endMs >= f.startMs)) return FlowDirection.BOTH;
    const interval = this.#statsIntervalMs;
    if (Math.floor(f.startMs / interval) !== Math.floor(f.endMs / interval)) return FlowDirection.BOTH;
    const vc = this.#perVnet[v.index];
    if (!vc) return FlowDirection.NONE;
    const view = this.#flowView;
    view.ipVersion = f.ipVersion;
    view.protocol = f.protocol;
    view.fragment = 0;
    view.l4Offset = f.protocol === 6 || f.protocol === 17 ? 1 : 0;
    let needed: number = FlowDirection.NONE;
    for (let toServer = 1; toServer >= 0; toServer--) {
      if ((toServer ? f.packetsToServer : f.packetsToClient) === 0) continue;
      view.src4 = toServer ? f.client4 : f.server4;
      view.dst4 = toServer ? f.server4 : f.client4;
      view.src6Offset = toServer ? 0 : 16;
      view.dst6Offset = toServer ? 16 : 0;
      view.srcPort = toServer ? f.clientPort : f.serverPort;
      view.dstPort = toServer ? f.serverPort : f.clientPort;
      if (
        vc.classify(view, f.addresses6, f.startMs) >= 0 ||
        (this.#timeSensitive && !(vc.ageSteady(vc.lastRoute(v.facts, true), f.startMs, f.endMs) && vc.ageSteady(vc.lastRoute(v.facts, false), f.startMs, f.endMs)))
      )
        needed |= toServer ? FlowDirection.TO_SERVER : FlowDirection.TO_CLIENT;
    }
    return needed;
  }

  /**
   * Count a flow's packets given as counts — the directions
   * {@link flowPacketsNeeded} left out; the record's other direction has
   * zero packets — exactly as the packets would have been counted: engine
   * and network totals, and the per-prefix traffic of the interval the flow
   * falls in. Flows and packets must be given in time order (a flow at its
   * start time), since the interval moves on with them.
   */
  countFlow(f: FlowRecord): void {
    this.#commitRoutes();
    const c = this.counters;
    const packets = f.packetsToServer + f.packetsToClient;
    const bytes = f.bytesToServer + f.bytesToClient;
    c.packets += packets;
    c.bytes += bytes;
    c.flowsCounted++;
    c.packetsCounted += packets;
    const v = this.#vnetByName.get(f.vnet);
    if (!v) {
      this.#drop('unknown-vnet', packets);
      return;
    }
    this.#enterInterval(v, f.startMs);
    v.packets += packets;
    v.bytes += bytes;
    const v6 = f.ipVersion === 6;
    const client = v6 ? v.facts.lookup6(f.addresses6, 0) : v.facts.lookup4(f.client4 >>> 0);
    const server = v6 ? v.facts.lookup6(f.addresses6, 16) : v.facts.lookup4(f.server4 >>> 0);
    if (f.packetsToServer > 0) this.#countRoutes(v, client, server, f.packetsToServer, f.bytesToServer);
    if (f.packetsToClient > 0) this.#countRoutes(v, server, client, f.packetsToClient, f.bytesToClient);
  }

  /**
   * A promise while a target holds more copies than it should let wait (a
   * source should wait for it before its next batch), else undefined.
   * {@link run} does this after each batch.
   */
  drain(): Promise<void> | undefined {
    let waits: Promise<void>[] | undefined;
    for (const t of this.#targets.values()) {
      const p = t.drain?.();
      if (p) (waits ??= []).push(p);
    }
    return waits === undefined ? undefined : Promise.all(waits).then(() => undefined);
  }

  /** Push out what targets buffered (end of a batch, or a pause). */
  async flush(): Promise<void> {
    await Promise.all([...this.#targets.values()].map((t) => t.flush()));
  }

  /** Run a source through the engine until it ends or is stopped. */
  async run(source: PacketSource): Promise<void> {
    this.start();
    this.#sources.push(source);
    await source.run(async (batch) => {
      this.process(batch);
      const wait = this.drain();
      if (wait) await wait;
    });
    await this.flush();
  }

  #drop(reason: string, n = 1): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + n;
  }

  /** A counter slot for `route`, first seen this interval. */
  /** Add `packets`/`bytes` to the per-prefix counters of a flow's routes (or to the unrouted counters). */
  #countRoutes(v: VnetState, srcRoute: number, dstRoute: number, packets: number, bytes: number): void {
    if (dstRoute > 0) {
      const s = dstRoute < v.slotOf.length ? v.slotOf[dstRoute] : 0;
      const k = (s === 0 ? this.#slot(v, dstRoute) : s - 1) << 2;
      const t = v.traffic;
      t[k] += packets;
      t[k + 1] += bytes;
    }
    if (srcRoute > 0) {
      const s = srcRoute < v.slotOf.length ? v.slotOf[srcRoute] : 0;
      const k = (s === 0 ? this.#slot(v, srcRoute) : s - 1) << 2;
      const t = v.traffic;
      t[k + 2] += packets;
      t[k + 3] += bytes;
    }
    if (dstRoute <= 0 && srcRoute <= 0) {
      v.unroutedPackets += packets;
      v.unroutedBytes += bytes;
    }
  }

  /** Traffic at `timeMs` is about to be counted: start the first interval, or publish the current one when `timeMs` lies past it. */
  #enterInterval(v: VnetState, timeMs: number): void {
    if (v.intervalStart < 0) v.intervalStart = Math.floor(timeMs / this.#statsIntervalMs) * this.#statsIntervalMs;
    else if (timeMs >= v.intervalStart + this.#statsIntervalMs) this.#flushStats(v, timeMs);
  }

  /** The flow cache hands over a flow's counts. */
  #foldFlow(e: Int32Array, at: number, packets: number, bytes: number): void {
    const v = this.#vnets[flowVnetIndex(e[at + FLOW_META])];
    if (v) this.#countRoutes(v, e[at + FLOW_SRC_ROUTE], e[at + FLOW_DST_ROUTE], packets, bytes);
  }

  #slot(v: VnetState, route: number): number {
    if (route >= v.slotOf.length) {
      let n = Math.max(v.slotOf.length, v.facts.routeGroup.length);
      while (n <= route) n *= 2;
      const b = new Int32Array(n);
      b.set(v.slotOf);
      v.slotOf = b;
    }
    const slot = v.nTouched++;
    if (slot >= v.touched.length) {
      const t = new Int32Array(v.touched.length * 2);
      t.set(v.touched);
      v.touched = t;
      const c = new Float64Array(v.traffic.length * 2);
      c.set(v.traffic);
      v.traffic = c;
    }
    v.touched[slot] = route;
    v.slotPrefix[slot] = v.facts.prefixOf(route);
    v.slotOf[route] = slot + 1;
    return slot;
  }

  /** After a commit: detach the slots of `routes` (every touched one when null) whose index now means another prefix, or none. */
  #detachSlots(v: VnetState, routes: readonly number[] | null): void {
    const check = (r: number): void => {
      const s = r < v.slotOf.length ? v.slotOf[r] : 0;
      if (s === 0) return;
      const was = v.slotPrefix[s - 1];
      const now = v.facts.route(r)?.prefix;
      if (was === undefined || now === undefined || was.length !== now.length || !bytesEqual(was.address, now.address)) v.slotOf[r] = 0;
    };
    if (routes === null) for (let j = 0; j < v.nTouched; j++) check(v.touched[j]);
    else for (const r of routes) check(r);
  }

  /**
   * A packet at `timeMs` lies across a route-age instant from the cache's
   * decisions: forget them, and find the instants around the new span.
   */
  #newAgeSpan(timeMs: number): void {
    this.#cache?.invalidate();
    this.#ageLo = this.#ageHi = timeMs;
    this.#ageInstantsAround(timeMs);
  }

  /** Set #ageNext to the first route-age instant at or after `timeMs`, and #agePrev to the last one before it. */
  #ageInstantsAround(timeMs: number): void {
    let next = Infinity;
    let prev = -Infinity;
    for (const v of this.#vnets)
      for (const w of this.#ageWindows) {
        const n = v.facts.firstAnnounceAtOrAfter(timeMs - w) + w;
        if (n < next) next = n;
        const p = v.facts.lastAnnounceBefore(timeMs - w) + w;
        if (p > prev) prev = p;
      }
    this.#ageNext = next;
    this.#agePrev = prev;
  }

  /** Forget the span: routes or sessions changed (the cache is emptied with it). */
  #resetAgeSpan(): void {
    this.#ageLo = Infinity;
    this.#ageHi = -Infinity;
    this.#ageNext = -Infinity;
    this.#agePrev = Infinity;
  }

  #commitRoutes(): void {
    let changed = 0;
    let pending = false;
    for (const v of this.#vnets) if (v.facts.pending > 0) pending = true;
    if (!pending) return;
    // The flows' counts name routes. A snapshot or new local routes give
    // every route index a new meaning: fold the counts first. Otherwise an
    // index keeps its meaning through the commit (a withdrawn route's index
    // is reused only from the next commit on), and the counts of the flows
    // whose routes changed are folded as their decisions are forgotten.
    const cache = this.#cache;
    if (cache && this.#vnets.some((v) => v.facts.pending > 0 && v.facts.pendingReset)) cache.foldAll();
    for (const v of this.#vnets) if (v.facts.pending > 0) changed += v.facts.commit();
    if (changed === 0) return;
    this.counters.routeChangesCommitted += changed;
    // Forget the cached decisions made with a route that changed; all of
    // them after a snapshot, or when commits come so close together (a burst
    // of updates) that few of the cached flows would be seen again before
    // the next one: forgetting them all is then cheaper than reading
    // through them.
    let all = false;
    const changes: (readonly number[] | undefined)[] = [];
    for (const v of this.#vnets) {
      const ch = v.facts.takeChanges();
      if (ch.all) all = true;
      changes[v.index] = ch.all ? undefined : ch.routes;
    }
    const packets = this.#packetsSinceCommit;
    this.#packetsSinceCommit = 0;
    if (cache) {
      if (all || packets * 64 < cache.decisionsFiled) all = true;
      else {
        const n = cache.forgetRoutes(changes);
        if (n >= 0) this.counters.flowDecisionsForgotten += n;
        else all = true;
      }
      if (all) cache.invalidate();
    }
    // The counts folded just now went to the slots of the routes as they were; new counts go to new slots.
    for (const v of this.#vnets) this.#detachSlots(v, changes[v.index] ?? null);
    if (all || !cache) this.#resetAgeSpan();
    else this.#recheckAgeSpan();
  }

  /**
   * After a commit that kept the flow cache: the routes set may bring
   * route-age instants. One inside the span would split its decisions:
   * empty the cache then; otherwise find the instants around it again.
   */
  #recheckAgeSpan(): void {
    if (!this.#timeSensitive || this.#ageLo > this.#ageHi) return;
    // From the span's start: no earlier instant can be inside it, so a first one before its end is a new one inside.
    this.#ageInstantsAround(this.#ageLo);
    if (this.#ageNext < this.#ageHi) {
      this.#cache?.invalidate();
      this.#resetAgeSpan();
    }
  }

  // ---- traffic statistics ----

  #flushStats(v: VnetState, nowMs: number): void {
    // Counts still held by the flow cache belong to this interval.
    this.#cache?.foldAll();
    const end = v.intervalStart + this.#statsIntervalMs;
    const prefixes: PrefixTraffic[] = [];
    const apps = new Map<string, { app: string; packetsIn: number; bytesIn: number; packetsOut: number; bytesOut: number }>();
    const t = v.traffic;
    const n = v.nTouched;
    // In route order, as a scan of every route would give them (a detached slot before its route's new one).
    const order = Array.from({ length: n }, (_, slot) => slot).sort((a, b) => v.touched[a] - v.touched[b] || a - b);
    for (let j = 0; j < n; j++) {
      const slot = order[j];
      const k = slot << 2;
      if (t[k] === 0 && t[k + 2] === 0) continue;
      const prefix = v.slotPrefix[slot];
      if (!prefix) continue;
      const tagIdx = prefix.afi === 1 ? v.tags.lookup4(readIpv4(prefix.address)) : v.tags.lookup6(prefix.address, 0);
      const tags = tagIdx > 0 ? v.tagList[tagIdx - 1].tags : undefined;
      const app = tags && typeof tags.app === 'string' ? tags.app : undefined;
      const entry: PrefixTraffic = { prefix: formatPrefix(prefix), packetsIn: t[k], bytesIn: t[k + 1], packetsOut: t[k + 2], bytesOut: t[k + 3] };
      if (app) entry.app = app;
      if (tags) entry.tags = { ...tags };
      prefixes.push(entry);
      if (app) {
        const a = apps.get(app) ?? { app, packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0 };
        a.packetsIn += entry.packetsIn;
        a.bytesIn += entry.bytesIn;
        a.packetsOut += entry.packetsOut;
        a.bytesOut += entry.bytesOut;
        apps.set(app, a);
      }
    }
    const msg: TrafficStatsMessage = {
      type: 'traffic-stats',
      vnet: v.config.name,
      start: v.intervalStart,
      end,
      packets: v.packets,
      bytes: v.bytes,
      unrouted: { packets: v.unroutedPackets, bytes: v.unroutedBytes },
      prefixes,
      applications: [...apps.values()],
    };
    for (let j = 0; j < n; j++) v.slotOf[v.touched[j]] = 0;
    v.slotPrefix.length = 0;
    v.traffic.fill(0, 0, n * 4);
    v.nTouched = 0;
    v.packets = v.bytes = v.unroutedPackets = v.unroutedBytes = 0;
    v.intervalStart = Math.floor(nowMs / this.#statsIntervalMs) * this.#statsIntervalMs;
    this.#bus.publish(trafficStatsTopic(v.config.name), msg);
  }

  /** Publish the statistics of the interval in progress now (end of a capture, shutdown). */
  flushStats(): void {
    for (const v of this.#vnets) if (v.intervalStart >= 0 && v.packets > 0) this.#flushStats(v, v.intervalStart + this.#statsIntervalMs);
  }

  // ---- sessions and IP sets at run time ----

  #install(sessions: MirrorSessionConfig[]): void {
    for (const [i, s] of sessions.entries()) {
      if (!this.#targets.has(s.target)) throw new InvalidArgumentError(`sessions[${i}].target: no target named "${s.target}"`);
      if (!this.#vnetByName.has(s.vnet)) throw new InvalidArgumentError(`sessions[${i}].vnet: no virtual network named "${s.vnet}"`);
    }
    const facts = new Map(this.#vnets.map((v) => [v.config.name, v.facts] as const));
    const classifier = Classifier.compile(sessions, { vnets: this.#config.vnets, facts, ipSets: this.ipSets });
    const budgets = new Budgets(sessions, this.#targetConfigs.length ? this.#targetConfigs : [...this.#targets.keys()].map((name) => ({ name })), this.#budgets);
    const previous = this.#classifier;
    this.#classifier = classifier;
    this.#perVnet = this.#vnets.map((v) => classifier.forVnet(v.config.name));
    this.#budgets = budgets;
    this.#samplers = sessions.map((s, i) => createSampler(s.sample, { seed: i + 1 }));
    this.#sessionTargets = sessions.map((s) => this.#targets.get(s.target)!);
    this.#vnis = sessions.map((s, i) => s.vni ?? 1000 + i);
    this.#truncate = sessions.map((s) => s.truncate ?? 0x7fffffff);
    const counters = new Map<string, SessionCounters>();
    for (const s of sessions) counters.set(s.name, this.#sessionCounters.get(s.name) ?? newSessionCounters());
    this.#sessionCounters = counters;
    this.#counterList = sessions.map((s) => counters.get(s.name)!);
    this.#ageWindows = ageWindowsMs(sessions);
    this.#timeSensitive = this.#ageWindows.length > 0;
    this.#sessions = sessions;
    this.#cache?.invalidate();
    this.#resetAgeSpan();
    previous?.release();
  }

  /** The sessions in force. */
  sessions(): readonly MirrorSessionConfig[] {
    return this.#sessions;
  }

  /** Replace every session (validated as in the config file); takes effect at the next batch. */
  setSessions(sessions: readonly unknown[]): void {
    const parsed = sessions.map((s, i) => {
      const r = MirrorSessionSchema.safeParse(s);
      if (!r.success) throw new InvalidArgumentError(`sessions[${i}]: ${r.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
      return r.data;
    });
    const names = new Set<string>();
    for (const s of parsed) {
      if (names.has(s.name)) throw new InvalidArgumentError(`duplicate session name "${s.name}"`);
      names.add(s.name);
    }
    this.#install(parsed);
  }

  /** Add or replace one session by name. */
  upsertSession(session: unknown): void {
    const r = MirrorSessionSchema.safeParse(session);
    if (!r.success) throw new InvalidArgumentError(`session: ${r.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
    const rest = this.#sessions.filter((s) => s.name !== r.data.name);
    this.#install([...rest, r.data]);
  }

  removeSession(name: string): void {
    if (!this.#sessions.some((s) => s.name === name)) throw new NotFoundError(`no session named "${name}"`);
    this.#install(this.#sessions.filter((s) => s.name !== name));
  }

  /** Replace a named IP set atomically (e.g. from a threat-intel feed). */
  setIpSet(name: string, entries: Iterable<string>): ReturnType<IpSetRegistry['replace']> {
    const result = this.ipSets.replace(name, entries);
    this.#cache?.invalidate();
    return result;
  }

  // ---- counters ----

  stats(): {
    engine: EngineCounters;
    sessions: ({ name: string; priority: number; target: string; vni: number } & SessionCounters)[];
    /** `gsoDatagrams`: VXLAN copies that left in UDP GSO messages (VXLAN targets with the native sender). */
    targets: { name: string; kind: string; packets: number; bytes: number; shed: Record<string, number>; errors: Record<string, number>; gsoDatagrams?: number }[];
    routes: Record<string, number>;
    sources: { name: string; packets: number; bytes: number; batches: number; dropped: Record<string, number> }[];
  } {
    return {
      engine: { ...this.counters, dropped: { ...this.counters.dropped } },
      sessions: this.#sessions.map((s, i) => ({ name: s.name, priority: s.priority, target: s.target, vni: this.#vnis[i], ...this.#counterList[i], shed: { ...this.#counterList[i].shed } })),
      targets: [...this.#targets.values()].map((t) => ({
        name: t.name,
        kind: t.kind,
        packets: t.stats.packets,
        bytes: t.stats.bytes,
        shed: { ...t.stats.shed, ...(this.#budgets.targetShed[t.name] ?? {}) },
        errors: { ...t.stats.errors },
        ...('gsoDatagrams' in t.stats && typeof t.stats.gsoDatagrams === 'number' ? { gsoDatagrams: t.stats.gsoDatagrams } : {}),
      })),
      routes: Object.fromEntries(this.#vnets.map((v) => [v.config.name, v.facts.size])),
      sources: this.#sources.map((src) => ({ name: src.name, ...src.stats, dropped: { ...src.stats.dropped } })),
    };
  }

  async stop(): Promise<void> {
    this.#sub?.unsubscribe();
    this.#sub = null;
    this.flushStats();
    await Promise.allSettled([...this.#targets.values()].map((t) => t.close()));
    this.#classifier.release();
  }
}

function readIpv4(a: Uint8Array): number {
  return ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;
}


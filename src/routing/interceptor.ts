/**
 * The routing information interceptor (RII): one BGP speaker per virtual
 * router of every virtual network in the config, feeding one set of RIBs per
 * virtual network, and publishing every routing fact as a RouteEvent.
 */
import {
  Afi,
  InProcessBus,
  NotFoundError,
  RealClock,
  parseAddress,
  parsePrefix,
  prefixContains,
  formatPrefix,
  routeEventTopic,
  silentLogger,
  type Bus,
  type Clock,
  type Logger,
  type Prefix,
  type RouteAttributes,
  type RouteEvent,
  type SessionState,
} from '../core/index.js';
import { toRouteAttributes, type DecodeContext, type NlriPrefix, type UpdateMessage } from '../wire/bgp/index.js';
import { acceptedRanges, type ShadownetConfig, type VnetConfig, type RouterConfig, type PeerConfig } from '../vnet/index.js';
import { AttributeStore, VnetRib, type LocRibEntry } from './rib/index.js';
import { BgpSpeaker, canonicalAddress, type BgpPeer, type PeerSettings } from './session/index.js';
import { pathToJson, type PathJson, type RouteView } from './view.js';
import type { MrtRoute } from './mrt/index.js';

export interface ReplayOptions {
  /** Router name the replayed peers appear under (default `mrt`). */
  router?: string;
  /** `fast` (default): as fast as possible; `recorded`: keep the recorded gaps, divided by `speed`. */
  pace?: 'fast' | 'recorded';
  speed?: number;
  /** Install routes outside the virtual network's CIDRs too (public Internet dumps). Default false. */
  acceptAny?: boolean;
  onProgress?: (s: ReplaySummary) => void;
  /** Call onProgress every this many routes (default 100,000). */
  progressEvery?: number;
}

export interface ReplaySummary {
  routes: number;
  announced: number;
  withdrawn: number;
  rejectedOutOfRange: number;
  stateChanges: number;
  peers: number;
}

/** Counters the RII keeps per peer on top of the session's own. */
export interface PeerRouteCounters {
  announced: number;
  withdrawn: number;
  treatAsWithdraw: number;
  attributeDiscards: number;
  rejectedOutOfRange: number;
  maxPrefixShutdowns: number;
}

export interface PeerView {
  vnet: string;
  router: string;
  address: string;
  asn: number;
  description?: string;
  state: SessionState;
  /** Prefixes currently in this peer's Adj-RIB-In. */
  prefixes: number;
  routes: PeerRouteCounters;
  session: Record<string, unknown>;
}

export interface RouteQuery {
  vnet?: string;
  /** Exact prefix, e.g. 10.1.0.0/16. */
  prefix?: string;
  /** Longest-prefix match for an address. */
  lookup?: string;
  /** More-specifics of (and including) a prefix. */
  within?: string;
  limit?: number;
}

export interface RoutingInterceptorOptions {
  config: ShadownetConfig;
  clock?: Clock;
  bus?: Bus;
  logger?: Logger;
}

interface PeerContext {
  vnet: VnetRuntime;
  router: RouterConfig;
  config: PeerConfig;
  id: string;
  ranges: Prefix[];
  counters: PeerRouteCounters;
  lastRejectLog: number;
  ribAttached: boolean;
}

interface VnetRuntime {
  config: VnetConfig;
  rib: VnetRib;
  speakers: BgpSpeaker[];
  topic: string;
}

const peerKey = (router: string, address: string): string => `${router}|${canonicalAddress(address)}`;

/** Rejections are logged at most once per peer per this many ms; every one is counted. */
const REJECT_LOG_INTERVAL_MS = 10_000;

export class RoutingInterceptor {
  readonly config: ShadownetConfig;
  readonly clock: Clock;
  readonly bus: Bus;
  readonly logger: Logger;
  readonly attributes = new AttributeStore();
  readonly refused: { address: string; port: number; reason: string; router: string; time: number }[] = [];
  refusedCount = 0;
  #vnets = new Map<string, VnetRuntime>();
  #peers = new Map<string, PeerContext>();
  #started = false;

  constructor(options: RoutingInterceptorOptions) {
    this.config = options.config;
    this.clock = options.clock ?? new RealClock();
    this.logger = options.logger ?? silentLogger();
    this.bus = options.bus ?? new InProcessBus((err, topic) => this.logger.error({ err, topic }, 'bus subscriber failed'));
    for (const v of this.config.vnets) this.#addVnet(v);
  }

  #addVnet(v: VnetConfig): void {
    const topic = routeEventTopic(v.name);
    const bus = this.bus;
    const rib = new VnetRib({
      vnet: v.name,
      clock: this.clock,
      store: this.attributes,
      ecmpMax: v.ecmpMax,
      emit: (e: RouteEvent) => bus.publish(topic, e),
    });
    const rt: VnetRuntime = { config: v, rib, speakers: [], topic };
    this.#vnets.set(v.name, rt);
    for (const r of v.routers) {
      const peers: PeerSettings[] = r.peers.map((p) => {
        const ctx: PeerContext = {
          vnet: rt,
          router: r,
          config: p,
          id: peerKey(r.name, p.address),
          ranges: acceptedRanges(v, p),
          counters: { announced: 0, withdrawn: 0, treatAsWithdraw: 0, attributeDiscards: 0, rejectedOutOfRange: 0, maxPrefixShutdowns: 0 },
          lastRejectLog: -Infinity,
          ribAttached: false,
        };
        this.#peers.set(ctx.id, ctx);
        return {
          address: p.address,
          port: p.port,
          asn: p.asn,
          passive: p.passive,
          localAddress: p.localAddress ?? r.listen.address,
          holdTime: p.holdTime,
          connectRetryTime: p.connectRetry,
          gracefulRestart: p.gracefulRestart ? { restartTime: r.restartTime } : false,
          families: p.families,
          description: p.description,
        };
      });
      const log = this.logger.child({ vnet: v.name, router: r.name });
      const speaker = new BgpSpeaker({
        name: r.name,
        localAs: r.asn,
        routerId: r.routerId,
        listen: { address: r.listen.address, port: r.listen.port },
        clock: this.clock,
        logger: log,
        peers,
        handlers: {
          onStateChange: (peer, from, to, reason, notification) => this.#onState(r, peer, from, to, reason, notification),
          onUpdate: (peer, update) => this.#onUpdate(r, peer, update),
          onEndOfRib: (peer, afi) => {
            const ctx = this.#ctx(r, peer);
            if (ctx) rt.rib.endOfRib(ctx.id, afi as Afi);
          },
          onRefused: (address, port, reason) => {
            this.refusedCount++;
            this.refused.push({ address, port, reason, router: r.name, time: this.clock.now() });
            if (this.refused.length > 100) this.refused.shift();
            log.warn({ remote: address, remotePort: port, reason }, 'refused BGP connection from an unconfigured peer');
          },
        },
      });
      rt.speakers.push(speaker);
    }
  }

  #ctx(r: RouterConfig, peer: BgpPeer): PeerContext | undefined {
    return this.#peers.get(peerKey(r.name, peer.settings.address));
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const all = [...this.#vnets.values()].flatMap((v) => v.speakers);
    try {
      await Promise.all(all.map((s) => s.start()));
    } catch (err) {
      await Promise.allSettled(all.map((s) => s.stop()));
      this.#started = false;
      throw err;
    }
    for (const v of this.#vnets.values())
      for (const r of v.config.routers)
        this.logger.info(
          { vnet: v.config.name, router: r.name, address: r.listen.address, port: r.listen.port, asn: r.asn, peers: r.peers.length },
          'virtual router listening',
        );
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await Promise.allSettled([...this.#vnets.values()].flatMap((v) => v.speakers.map((s) => s.stop())));
  }

  #onState(
    r: RouterConfig,
    peer: BgpPeer,
    from: SessionState,
    to: SessionState,
    reason: string,
    notification?: { code: number; subcode: number; data?: Uint8Array },
  ): void {
    const ctx = this.#ctx(r, peer);
    if (!ctx) return;
    const rib = ctx.vnet.rib;
    if (to === 'established') {
      rib.addPeer({
        id: ctx.id,
        router: r.name,
        address: ctx.config.address,
        asn: ctx.config.asn,
        bgpId: peer.remoteBgpId ?? '0.0.0.0',
        ibgp: ctx.config.asn === r.asn,
      });
      ctx.ribAttached = true;
    }
    const event: RouteEvent = {
      type: 'session-state',
      seq: rib.nextSeq(),
      time: this.clock.now(),
      vnet: ctx.vnet.config.name,
      router: r.name,
      peer: ctx.config.address,
      peerAs: ctx.config.asn,
      from,
      to,
      reason,
      ...(notification
        ? { notification: { code: notification.code, subcode: notification.subcode, data: Buffer.from(notification.data ?? []).toString('hex') } }
        : {}),
    };
    this.bus.publish(ctx.vnet.topic, event);
    if (from === 'established' && to !== 'established' && ctx.ribAttached) {
      // RFC 4724 §4.2: keep the routes as stale for the restart time the peer advertised,
      // unless the session ended with a NOTIFICATION (RFC 8538 aside, GR does not apply then).
      const gr = peer.negotiated?.gracefulRestart;
      const keep = gr && !notification && ctx.config.gracefulRestart ? gr.restartTime * 1000 : 0;
      if (keep > 0) rib.peerDown(ctx.id, { staleForMs: keep });
      else {
        rib.peerDown(ctx.id);
        ctx.ribAttached = false;
      }
    }
  }

  #onUpdate(r: RouterConfig, peer: BgpPeer, update: UpdateMessage): void {
    const ctx = this.#ctx(r, peer);
    if (!ctx) return;
    const rib = ctx.vnet.rib;
    const counters = ctx.counters;
    let treatAsWithdraw = false;
    for (const issue of update.issues) {
      if (issue.action === 'treat-as-withdraw') treatAsWithdraw = true;
      else counters.attributeDiscards++;
    }
    if (update.issues.length > 0) {
      this.logger.warn(
        { vnet: ctx.vnet.config.name, router: r.name, peer: ctx.config.address, issues: update.issues },
        treatAsWithdraw ? 'malformed UPDATE: its routes are treated as withdrawn (RFC 7606)' : 'malformed attribute discarded (RFC 7606)',
      );
    }
    for (const p of update.withdrawn) if (rib.withdraw(ctx.id, p, 'withdrawn', p.pathId)) counters.withdrawn++;
    let announced: readonly NlriPrefix[] = update.nlri;
    let attrsNeeded = update.nlri.length > 0;
    for (const a of update.attributes) {
      if (a.type === 'mp-unreach') {
        for (const p of a.withdrawn) if (rib.withdraw(ctx.id, p, 'withdrawn', p.pathId)) counters.withdrawn++;
      } else if (a.type === 'mp-reach' && a.nlri.length > 0) {
        announced = announced.length ? [...announced, ...a.nlri] : a.nlri;
        attrsNeeded = true;
      }
    }
    if (!attrsNeeded) return;
    if (treatAsWithdraw) {
      for (const p of announced) {
        counters.treatAsWithdraw++;
        rib.withdraw(ctx.id, p, 'treat-as-withdraw', p.pathId);
      }
      return;
    }
    const negotiated = peer.negotiated;
    const dctx: DecodeContext = { fourOctetAs: negotiated?.fourOctetAs ?? false };
    let attrs: RouteAttributes | undefined;
    const maxPrefix = ctx.config.maxPrefix;
    for (const p of announced) {
      if (!this.#inRanges(ctx, p)) {
        this.#reject(ctx, p);
        continue;
      }
      attrs ??= this.attributes.internValue(toRouteAttributes(update.attributes, dctx));
      rib.announce(ctx.id, p, attrs, p.pathId);
      counters.announced++;
    }
    if (maxPrefix && rib.adjRibInCount(ctx.id) > maxPrefix.limit) this.#maxPrefixExceeded(ctx, peer, announced[0]?.afi ?? Afi.IPV4);
  }

  #inRanges(ctx: PeerContext, p: Prefix): boolean {
    for (const range of ctx.ranges) if (prefixContains(range, p)) return true;
    return false;
  }

  #reject(ctx: PeerContext, p: Prefix): void {
    ctx.counters.rejectedOutOfRange++;
    const rib = ctx.vnet.rib;
    this.bus.publish(ctx.vnet.topic, {
      type: 'route-rejected',
      seq: rib.nextSeq(),
      time: this.clock.now(),
      vnet: ctx.vnet.config.name,
      router: ctx.router.name,
      peer: ctx.config.address,
      peerAs: ctx.config.asn,
      prefix: formatPrefix(p),
      reason: 'outside-accepted-ranges',
    } satisfies RouteEvent);
    const now = this.clock.now();
    if (now - ctx.lastRejectLog >= REJECT_LOG_INTERVAL_MS) {
      ctx.lastRejectLog = now;
      this.logger.warn(
        {
          vnet: ctx.vnet.config.name,
          router: ctx.router.name,
          peer: ctx.config.address,
          prefix: formatPrefix(p),
          rejectedSoFar: ctx.counters.rejectedOutOfRange,
          accepted: ctx.ranges.map(formatPrefix),
        },
        'route outside the accepted prefix ranges not installed',
      );
    }
  }

  #maxPrefixExceeded(ctx: PeerContext, peer: BgpPeer, afi: number): void {
    const limit = ctx.config.maxPrefix!.limit;
    ctx.counters.maxPrefixShutdowns++;
    // RFC 4486 §4: data = AFI (2), SAFI (1), upper bound (4).
    const data = new Uint8Array(7);
    const dv = new DataView(data.buffer);
    dv.setUint16(0, afi);
    data[2] = 1;
    dv.setUint32(3, limit);
    const restartAfter = ctx.config.maxPrefix!.restartAfter;
    this.logger.warn(
      { vnet: ctx.vnet.config.name, router: ctx.router.name, peer: ctx.config.address, limit, restartAfter },
      'max-prefix limit exceeded: closing the session with Cease/1',
    );
    peer.shutdown({ code: 6, subcode: 1, data }, restartAfter ? { restartAfterMs: restartAfter * 1000 } : undefined);
  }

  // ---- queries (the programmatic API) ----

  vnetNames(): string[] {
    return [...this.#vnets.keys()];
  }

  #vnet(name: string): VnetRuntime {
    const v = this.#vnets.get(name);
    if (!v) throw new NotFoundError(`no virtual network named "${name}" (known: ${this.vnetNames().join(', ')})`);
    return v;
  }

  /** The RIB set of a virtual network. */
  rib(vnet: string): VnetRib {
    return this.#vnet(vnet).rib;
  }

  /** Routes of the Loc-RIB, filtered. `lookup` does a longest-prefix match. */
  routes(q: RouteQuery = {}): RouteView[] {
    const vnets = q.vnet ? [this.#vnet(q.vnet)] : [...this.#vnets.values()];
    const limit = q.limit ?? Infinity;
    const out: RouteView[] = [];
    for (const v of vnets) {
      const name = v.config.name;
      if (q.lookup !== undefined) {
        const e = v.rib.lookup(parseAddress(q.lookup));
        if (e) out.push(entryView(name, e));
      } else if (q.prefix !== undefined) {
        const e = v.rib.get(parsePrefix(q.prefix, false));
        if (e) out.push(entryView(name, e));
      } else {
        const within = q.within !== undefined ? parsePrefix(q.within, false) : undefined;
        for (const e of v.rib.entries(within ? { within } : undefined)) {
          if (out.length >= limit) break;
          out.push(entryView(name, e));
        }
      }
    }
    return out;
  }

  peers(q: { vnet?: string } = {}): PeerView[] {
    const out: PeerView[] = [];
    for (const v of q.vnet ? [this.#vnet(q.vnet)] : this.#vnets.values()) {
      v.config.routers.forEach((r, i) => {
        const speaker = v.speakers[i];
        for (const peer of speaker.peers()) {
          const ctx = this.#ctx(r, peer);
          if (!ctx) continue;
          out.push({
            vnet: v.config.name,
            router: r.name,
            address: ctx.config.address,
            asn: ctx.config.asn,
            ...(ctx.config.description ? { description: ctx.config.description } : {}),
            state: peer.state,
            prefixes: ctx.ribAttached ? v.rib.adjRibInCount(ctx.id) : 0,
            routes: { ...ctx.counters },
            session: describeSession(peer),
          });
        }
      });
    }
    return out;
  }

  /** Totals for summaries and metrics. */
  stats(): { vnets: number; peers: number; established: number; prefixes: number; paths: number; attributeSets: number; refused: number } {
    let prefixes = 0;
    let paths = 0;
    let peers = 0;
    let established = 0;
    for (const v of this.#vnets.values()) {
      const s = v.rib.stats();
      prefixes += s.prefixes;
      paths += s.paths;
      for (const sp of v.speakers)
        for (const p of sp.peers()) {
          peers++;
          if (p.state === 'established') established++;
        }
    }
    return { vnets: this.#vnets.size, peers, established, prefixes, paths, attributeSets: this.attributes.size, refused: this.refusedCount };
  }

  /**
   * Feed routes (from an MRT file) into a virtual network's RIBs as if its
   * peers had sent them: each recorded peer becomes a peer of router
   * `opts.router`; recorded session drops withdraw that peer's routes.
   */
  async replay(vnet: string, routes: AsyncIterable<MrtRoute>, opts: ReplayOptions = {}): Promise<ReplaySummary> {
    const v = this.#vnet(vnet);
    const router = opts.router ?? 'mrt';
    const ranges = v.config.cidrs.map((c) => parsePrefix(c));
    const summary: ReplaySummary = { routes: 0, announced: 0, withdrawn: 0, rejectedOutOfRange: 0, stateChanges: 0, peers: 0 };
    const peers = new Map<string, string>();
    const interned = new WeakMap<RouteAttributes, RouteAttributes>();
    const every = opts.progressEvery ?? 100_000;
    const speed = opts.speed ?? 1;
    let lastTime: number | undefined;
    const peerId = (address: string, asn: number, bgpId?: string): string => {
      const key = `${address}|${asn}`;
      let id = peers.get(key);
      if (!id) {
        id = `${router}|${canonicalAddress(address)}|${asn}`;
        v.rib.addPeer({ id, router, address, asn, bgpId: bgpId ?? '0.0.0.0', ibgp: false });
        peers.set(key, id);
        summary.peers++;
      }
      return id;
    };
    for await (const r of routes) {
      if (opts.pace === 'recorded') {
        if (lastTime !== undefined && r.time > lastTime) {
          const wait = (r.time - lastTime) / speed;
          await new Promise<void>((resolve) => this.clock.setTimer(wait, resolve));
        }
        lastTime = r.time;
      }
      const id = peerId(r.peer.address, r.peer.asn, r.peer.bgpId);
      if (r.type === 'state') {
        summary.stateChanges++;
        if (r.from === 'established' && r.to !== 'established') {
          v.rib.peerDown(id);
          v.rib.addPeer({ id, router, address: r.peer.address, asn: r.peer.asn, bgpId: r.peer.bgpId ?? '0.0.0.0', ibgp: false });
        }
        continue;
      }
      summary.routes++;
      if (r.action === 'withdraw') {
        if (v.rib.withdraw(id, r.prefix, 'withdrawn', r.pathId)) summary.withdrawn++;
      } else if (r.attributes) {
        if (!opts.acceptAny && !ranges.some((range) => prefixContains(range, r.prefix))) {
          summary.rejectedOutOfRange++;
        } else {
          let attrs = interned.get(r.attributes);
          if (!attrs) {
            attrs = this.attributes.internValue(r.attributes);
            interned.set(r.attributes, attrs);
          }
          v.rib.announce(id, r.prefix, attrs, r.pathId);
          summary.announced++;
        }
      }
      if (opts.onProgress && summary.routes % every === 0) opts.onProgress({ ...summary });
    }
    return summary;
  }
}

/** The session facts of a peer as JSON (for `shadownet peers` and the API). */
function describeSession(peer: BgpPeer): Record<string, unknown> {
  const n = peer.negotiated;
  return {
    remoteBgpId: peer.remoteBgpId,
    uptimeSeconds: Math.floor(peer.uptime / 1000),
    ...(n
      ? {
          negotiated: {
            holdTime: n.holdTime,
            keepalive: n.keepalive,
            fourOctetAs: n.fourOctetAs,
            routeRefresh: n.routeRefresh,
            families: n.families.map((f) => `${f.afi}/${f.safi}`),
            gracefulRestart: n.gracefulRestart,
          },
        }
      : {}),
    ...peer.counters,
  };
}

function entryView(vnet: string, e: LocRibEntry): RouteView {
  const paths: PathJson[] = e.paths.map(pathToJson);
  return { vnet, prefix: formatPrefix(e.prefix), best: pathToJson(e.best), ecmp: e.ecmp.length, paths };
}

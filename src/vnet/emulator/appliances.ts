/**
 * Routing appliances of the emulated network: every node with an `appliance`
 * section runs a real BGP session (the project's own {@link BgpSpeaker}, as a
 * client) over loopback TCP to its virtual router in the RII, and announces
 * and withdraws prefixes on command. Each node keeps its Adj-RIB-Out, so a
 * session that comes back up is sent the node's current routes, then
 * End-of-RIB. Every UPDATE sent can be recorded as MRT (BGP4MP_MESSAGE_AS4)
 * so that bgpdump shows the routing of a run.
 */
import net from 'node:net';
import {
  Afi,
  Origin,
  SessionState,
  ShadownetError,
  SimulatedClock,
  formatPrefix,
  parseAddress,
  parsePrefix,
  silentLogger,
  type Clock,
  type Logger,
  type Prefix,
  type RouteAttributes,
} from '../../core/index.js';
import { BgpSpeaker, type BgpPeer } from '../../routing/session/index.js';
import type { MrtWriter, MrtWriterPeer } from '../../routing/mrt/writer.js';
import { Safi, encodeMessage, fromRouteAttributes, type DecodeContext, type UpdateMessage } from '../../wire/bgp/index.js';
import type { ApplianceConfig, NodeConfig, RouterConfig, ShadownetConfig } from '../config.js';

/** Error codes of the appliance fleet. */
export const ApplianceErrorCode = {
  /** No node of that name in that virtual network runs an appliance. */
  UNKNOWN_APPLIANCE: 'SHADOWNET_ERR_APPLIANCE_UNKNOWN',
  /** The appliance section cannot be run as configured (missing router, wildcard community, ...). */
  CONFIG: 'SHADOWNET_ERR_APPLIANCE_CONFIG',
  /** The fleet was stopped. */
  STOPPED: 'SHADOWNET_ERR_APPLIANCE_STOPPED',
} as const;
export type ApplianceErrorCode = (typeof ApplianceErrorCode)[keyof typeof ApplianceErrorCode];

export class ApplianceError extends ShadownetError {
  constructor(code: ApplianceErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ApplianceError';
  }
}

/** What an announcement may override; the rest comes from the node's appliance section. */
export interface AnnounceOptions {
  /** AS path behind the appliance's own ASN; default `appliance.asPath`. */
  readonly asPath?: readonly number[];
  /** Communities as "65001:100"; default `appliance.communities`. */
  readonly communities?: readonly string[];
  /** Next hop; default the node's address. */
  readonly nextHop?: string;
}

/** What the fleet did, in order. `time` is from the emulation clock. */
export type ApplianceEvent =
  | { readonly type: 'session'; readonly time: number; readonly vnet: string; readonly node: string; readonly from: SessionState; readonly to: SessionState; readonly reason: string }
  | {
      readonly type: 'announce';
      readonly time: number;
      readonly vnet: string;
      readonly node: string;
      readonly prefix: string;
      readonly asPath: readonly number[];
      readonly communities: readonly string[];
      readonly nextHop: string;
      /** False when the session was down: the route goes out once it is up. */
      readonly sent: boolean;
    }
  | { readonly type: 'withdraw'; readonly time: number; readonly vnet: string; readonly node: string; readonly prefix: string; readonly sent: boolean };

export interface ApplianceFleetOptions {
  readonly config: ShadownetConfig;
  /** Drives the BGP sessions' timers (keepalive, hold, connect retry): normally the wall clock. */
  readonly clock: Clock;
  readonly logger?: Logger;
  /** Every UPDATE sent (and every session state change) is appended here. */
  readonly mrt?: MrtWriter;
  /** The emulation's time, for MRT timestamps and events; default `clock`. */
  readonly emulationClock?: Clock;
  /**
   * Hold time offered to the routers, seconds. 0 turns keepalives and the
   * hold timer off. Default 90, or 0 when `clock` is a SimulatedClock: a
   * simulated clock racing ahead would expire the hold timer of a session
   * whose router sends keepalives in real time.
   */
  readonly holdTime?: number;
  readonly onEvent?: (e: ApplianceEvent) => void;
}

/** One announced route of a node's Adj-RIB-Out. */
export interface ApplianceRoute {
  readonly prefix: string;
  readonly asPath: readonly number[];
  readonly communities: readonly string[];
  readonly nextHop: string;
}

interface OutRoute extends ApplianceRoute {
  readonly parsed: Prefix;
  readonly attributes: RouteAttributes;
}

interface Appliance {
  readonly vnet: string;
  readonly node: NodeConfig;
  readonly appliance: ApplianceConfig;
  readonly router: RouterConfig;
  readonly speaker: BgpSpeaker;
  readonly mrtPeer: MrtWriterPeer;
  readonly mrtLocal: MrtWriterPeer;
  /** Adj-RIB-Out by canonical prefix text, in announcement order. */
  readonly out: Map<string, OutRoute>;
  /** Resolves waiters of {@link ApplianceFleet.waitEstablished}. */
  waiters: (() => void)[];
}

const keyOf = (vnet: string, node: string): string => `${vnet}\u0000${node}`;

/** "65001:100" → RFC 1997 community as an unsigned 32-bit number. */
export function parseCommunity(text: string): number {
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m || Number(m[1]) > 0xffff || Number(m[2]) > 0xffff)
    throw new ApplianceError(ApplianceErrorCode.CONFIG, `community ${JSON.stringify(text)} is not "asn:value" with both halves 0..65535`);
  return ((Number(m[1]) << 16) | Number(m[2])) >>> 0;
}

function routerIdFor(a: ApplianceConfig, node: NodeConfig, index: number): string {
  if (net.isIPv4(a.bgpAddress)) return a.bgpAddress;
  if (net.isIPv4(node.address)) return node.address;
  // An IPv6-only appliance still needs a dotted-quad identifier (RFC 6286: unique within the AS).
  return `10.${(index >> 8) & 0xff}.${index & 0xff}.1`;
}

/**
 * The routing appliances of every virtual network in the config, each with
 * its BGP session to the virtual router named in its `appliance.router`.
 */
export class ApplianceFleet {
  readonly #opts: ApplianceFleetOptions;
  readonly #logger: Logger;
  readonly #time: Clock;
  readonly #appliances = new Map<string, Appliance>();
  #mrtChain: Promise<void> = Promise.resolve();
  #mrtErrors = 0;
  readonly #holdTime: number | undefined;
  #started = false;
  #stopped = false;

  constructor(opts: ApplianceFleetOptions) {
    this.#opts = opts;
    this.#logger = opts.logger ?? silentLogger();
    this.#time = opts.emulationClock ?? opts.clock;
    this.#holdTime = opts.holdTime ?? (opts.clock instanceof SimulatedClock ? 0 : undefined);
    let index = 0;
    opts.config.vnets.forEach((v, vi) => {
      v.nodes.forEach((node, ni) => {
        const a = node.appliance;
        if (!a) return;
        const path = `vnets[${vi}].nodes[${ni}].appliance`;
        const router = v.routers.find((r) => r.name === a.router);
        if (!router)
          throw new ApplianceError(
            ApplianceErrorCode.CONFIG,
            `${path}.router: no router named "${a.router}" in virtual network "${v.name}"`,
          );
        a.communities.forEach((c, ci) => {
          try {
            parseCommunity(c);
          } catch (err) {
            throw new ApplianceError(ApplianceErrorCode.CONFIG, `${path}.communities[${ci}]: ${(err as Error).message}`);
          }
        });
        const entry = this.#create(v.name, node, a, router, index++);
        this.#appliances.set(keyOf(v.name, node.name), entry);
        for (const p of a.announce) this.#store(entry, p, {});
      });
    });
  }

  #create(vnet: string, node: NodeConfig, a: ApplianceConfig, router: RouterConfig, index: number): Appliance {
    const routerId = routerIdFor(a, node, index);
    // The handlers close over the entry, which needs the speaker: bind it after both exist.
    const bound: { entry?: Appliance } = {};
    const speaker = new BgpSpeaker({
      name: `${vnet}/${node.name}`,
      localAs: a.asn,
      routerId,
      listen: null,
      clock: this.#opts.clock,
      logger: this.#logger,
      peers: [
        {
          address: router.listen.address,
          port: router.listen.port,
          asn: router.asn,
          passive: false,
          localAddress: a.bgpAddress,
          connectRetryTime: 1,
          idleHoldTime: 1,
          ...(this.#holdTime !== undefined ? { holdTime: this.#holdTime } : {}),
          description: `appliance ${node.name}`,
        },
      ],
      handlers: {
        onStateChange: (peer, from, to, reason) => {
          if (bound.entry) this.#onStateChange(bound.entry, peer, from, to, reason);
        },
      },
    });
    const entry: Appliance = {
      vnet,
      node,
      appliance: a,
      router,
      speaker,
      mrtPeer: { address: a.bgpAddress, asn: a.asn, bgpId: routerId },
      mrtLocal: { address: router.listen.address, asn: router.asn, bgpId: router.routerId },
      out: new Map(),
      waiters: [],
    };
    bound.entry = entry;
    return entry;
  }

  /** Open every appliance's session (connects and retries in the background). */
  async start(): Promise<void> {
    if (this.#stopped) throw new ApplianceError(ApplianceErrorCode.STOPPED, 'the appliance fleet was stopped');
    if (this.#started) return;
    this.#started = true;
    for (const a of this.#appliances.values()) await a.speaker.start();
  }

  /** Close every session (Cease) and wait for the MRT records queued so far. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#appliances.values()].map((a) => a.speaker.stop()));
    await this.flush();
  }

  /** Wait until every MRT record queued so far is handed to the writer, and flush it. */
  async flush(): Promise<void> {
    await this.#mrtChain;
    if (this.#opts.mrt) await this.#opts.mrt.flush();
  }

  /** MRT records that could not be written (logged). */
  get mrtErrors(): number {
    return this.#mrtErrors;
  }

  /** Appliance nodes as `{ vnet, node }`, in config order. */
  nodes(): { vnet: string; node: string; asn: number; address: string }[] {
    return [...this.#appliances.values()].map((a) => ({ vnet: a.vnet, node: a.node.name, asn: a.appliance.asn, address: a.node.address }));
  }

  /** Prefixes the appliances announce from the start (`appliance.announce`), counted per node. */
  initialAnnouncements(): number {
    let n = 0;
    for (const a of this.#appliances.values()) n += new Set(a.appliance.announce.map((p) => formatPrefix(parsePrefix(p)))).size;
    return n;
  }

  /** The node's session to its router. */
  peer(vnet: string, node: string): BgpPeer {
    return this.#get(vnet, node).speaker.peers()[0];
  }

  /** True when the node's session is Established. With one argument, the node is looked up in every virtual network. */
  established(vnet: string, node?: string): boolean {
    const a = node === undefined ? this.#byNode(vnet) : this.#get(vnet, node);
    return a.speaker.peers()[0].state === SessionState.ESTABLISHED;
  }

  /** Resolves once every appliance (or the one named) is Established and has sent its routes and End-of-RIB. */
  async waitEstablished(vnet?: string, node?: string): Promise<void> {
    const targets = vnet !== undefined && node !== undefined ? [this.#get(vnet, node)] : [...this.#appliances.values()];
    await Promise.all(
      targets.map((a) =>
        a.speaker.peers()[0].state === SessionState.ESTABLISHED ? undefined : new Promise<void>((r) => a.waiters.push(r)),
      ),
    );
  }

  /** The node's Adj-RIB-Out: what it currently announces (or will once its session is up). */
  routes(vnet: string, node: string): ApplianceRoute[] {
    return [...this.#get(vnet, node).out.values()].map(({ prefix, asPath, communities, nextHop }) => ({ prefix, asPath, communities, nextHop }));
  }

  /**
   * Announce `prefix` from the node: AS path = [appliance ASN, ...(opts.asPath ?? appliance.asPath)],
   * next hop = the node's address. Replaces an earlier announcement of the same prefix.
   * Sent at once when the session is up, otherwise when it comes up.
   */
  announce(vnet: string, node: string, prefix: string, opts: AnnounceOptions = {}): ApplianceRoute {
    const a = this.#get(vnet, node);
    const r = this.#store(a, prefix, opts);
    const peer = a.speaker.peers()[0];
    const sent = peer.state === SessionState.ESTABLISHED && this.#sendAnnounce(a, peer, r);
    this.#emit({ type: 'announce', time: this.#time.now(), vnet, node, prefix: r.prefix, asPath: r.asPath, communities: r.communities, nextHop: r.nextHop, sent });
    return { prefix: r.prefix, asPath: r.asPath, communities: r.communities, nextHop: r.nextHop };
  }

  /** Withdraw `prefix` from the node. Returns false when the node was not announcing it. */
  withdraw(vnet: string, node: string, prefix: string): boolean {
    const a = this.#get(vnet, node);
    const parsed = parsePrefix(prefix);
    const key = formatPrefix(parsed);
    if (!a.out.delete(key)) return false;
    const peer = a.speaker.peers()[0];
    let sent = false;
    if (peer.state === SessionState.ESTABLISHED) {
      const update: UpdateMessage =
        parsed.afi === Afi.IPV4
          ? { type: 'update', withdrawn: [parsed], attributes: [], nlri: [], issues: [] }
          : {
              type: 'update',
              withdrawn: [],
              attributes: [{ type: 'mp-unreach', flags: 0x80, afi: Afi.IPV6, safi: Safi.UNICAST, withdrawn: [parsed] }],
              nlri: [],
              issues: [],
            };
      sent = this.#send(a, peer, update);
    }
    this.#emit({ type: 'withdraw', time: this.#time.now(), vnet, node, prefix: key, sent });
    return true;
  }

  // ------------------------------------------------------------------ internals

  #get(vnet: string, node: string): Appliance {
    const a = this.#appliances.get(keyOf(vnet, node));
    if (!a) {
      const known = this.nodes()
        .filter((n) => n.vnet === vnet)
        .map((n) => n.node);
      throw new ApplianceError(
        ApplianceErrorCode.UNKNOWN_APPLIANCE,
        `no appliance node "${node}" in virtual network "${vnet}" (appliances there: ${known.join(', ') || 'none'})`,
      );
    }
    return a;
  }

  #byNode(node: string): Appliance {
    for (const a of this.#appliances.values()) if (a.node.name === node) return a;
    throw new ApplianceError(ApplianceErrorCode.UNKNOWN_APPLIANCE, `no appliance node "${node}"`);
  }

  #store(a: Appliance, prefix: string, opts: AnnounceOptions): OutRoute {
    const parsed = parsePrefix(prefix);
    const key = formatPrefix(parsed);
    const asPath = [a.appliance.asn, ...(opts.asPath ?? a.appliance.asPath)];
    const communities = [...(opts.communities ?? a.appliance.communities)];
    const nextHop = opts.nextHop ?? a.node.address;
    parseAddress(nextHop);
    const attributes: RouteAttributes = {
      origin: Origin.IGP,
      asPath: [{ type: 2, asns: asPath }],
      nextHop,
      nextHopLinkLocal: null,
      med: null,
      localPref: null,
      atomicAggregate: false,
      aggregator: null,
      communities: communities.map(parseCommunity).sort((x, y) => x - y),
      extendedCommunities: [],
      largeCommunities: [],
      originatorId: null,
      clusterList: [],
      unknown: [],
    };
    const r: OutRoute = { prefix: key, asPath, communities, nextHop, parsed, attributes };
    // Re-announcing moves the prefix to the end, so a resend follows announcement order.
    a.out.delete(key);
    a.out.set(key, r);
    return r;
  }

  #updateFor(r: OutRoute, fourOctetAs: boolean): UpdateMessage {
    const afi = r.parsed.afi;
    const attributes = fromRouteAttributes(r.attributes, { fourOctetAs, afi, nlri: afi === Afi.IPV6 ? [r.parsed] : [] });
    return { type: 'update', withdrawn: [], attributes, nlri: afi === Afi.IPV4 ? [r.parsed] : [], issues: [] };
  }

  #sendAnnounce(a: Appliance, peer: BgpPeer, r: OutRoute): boolean {
    const fourOctetAs = peer.negotiated?.fourOctetAs ?? false;
    const wire = this.#updateFor(r, fourOctetAs);
    // BGP4MP_MESSAGE_AS4 carries the message as if 4-octet ASNs were negotiated (RFC 6396 §4.4.3).
    const recorded = fourOctetAs ? wire : this.#updateFor(r, true);
    return this.#send(a, peer, wire, recorded);
  }

  #send(a: Appliance, peer: BgpPeer, update: UpdateMessage, recorded: UpdateMessage = update): boolean {
    try {
      peer.sendUpdate(update);
    } catch (err) {
      this.#logger.warn({ vnet: a.vnet, node: a.node.name, err: (err as Error).message }, 'appliance could not send an UPDATE');
      return false;
    }
    this.#record(a, () => encodeMessage(recorded, undefined, 0, { fourOctetAs: true } satisfies DecodeContext));
    return true;
  }

  #record(a: Appliance, message: () => Uint8Array): void {
    const mrt = this.#opts.mrt;
    if (!mrt) return;
    const timestamp = Math.floor(this.#time.now() / 1000);
    let bytes: Uint8Array;
    try {
      bytes = message();
    } catch (err) {
      this.#mrtFailed(a, err);
      return;
    }
    this.#mrtChain = this.#mrtChain
      .then(() => mrt.writeMessage(bytes, { timestamp, peer: a.mrtPeer, local: a.mrtLocal }))
      .catch((err: unknown) => this.#mrtFailed(a, err));
  }

  #mrtFailed(a: Appliance, err: unknown): void {
    this.#mrtErrors++;
    this.#logger.error({ vnet: a.vnet, node: a.node.name, err: err instanceof Error ? err.message : String(err) }, 'appliance MRT record failed');
  }

  #onStateChange(a: Appliance, peer: BgpPeer, from: SessionState, to: SessionState, reason: string): void {
    const mrt = this.#opts.mrt;
    if (mrt && (from === SessionState.ESTABLISHED || to === SessionState.ESTABLISHED)) {
      const timestamp = Math.floor(this.#time.now() / 1000);
      this.#mrtChain = this.#mrtChain
        .then(() => mrt.writeStateChange({ timestamp, peer: a.mrtPeer, local: a.mrtLocal, from, to }))
        .catch((err: unknown) => this.#mrtFailed(a, err));
    }
    this.#emit({ type: 'session', time: this.#time.now(), vnet: a.vnet, node: a.node.name, from, to, reason });
    if (to !== SessionState.ESTABLISHED) return;
    // RFC 4724 §2: the whole Adj-RIB-Out, then End-of-RIB for every negotiated family.
    for (const r of a.out.values()) this.#sendAnnounce(a, peer, r);
    for (const f of peer.negotiated?.families ?? [{ afi: 1, safi: 1 }]) {
      if (f.safi !== Safi.UNICAST || (f.afi !== Afi.IPV4 && f.afi !== Afi.IPV6)) continue;
      try {
        peer.sendEndOfRib(f.afi, f.safi);
      } catch {
        return;
      }
    }
    const waiters = a.waiters;
    a.waiters = [];
    for (const w of waiters) w();
  }

  #emit(e: ApplianceEvent): void {
    try {
      this.#opts.onEvent?.(e);
    } catch (err) {
      this.#logger.error({ err: err instanceof Error ? err.message : String(err) }, 'appliance event handler threw');
    }
  }
}

/**
 * Overlay forwarding as a provider's hosts do it. A flow's destination is
 * looked up in its virtual network: an address owned by a node is a connected
 * route (its subnet's CIDR, or the address alone for a node without a subnet);
 * anything else goes by the routing table the RII builds (longest prefix,
 * equal-cost next hops). The next hop is resolved to the node that owns it
 * (its address or its appliance's BGP address), and so to a substrate host;
 * the flow is encapsulated with the network's VNI from the source host (the
 * client node's, or the host of the network's first router for clients that
 * are not nodes) and charged to the links between the two hosts.
 *
 * Among equal-cost next hops a flow is pinned by rendezvous hashing of its
 * five-tuple: each next hop gets a score from the tuple and its own address,
 * the highest wins. Flows spread evenly, a flow keeps its next hop while that
 * next hop stays, and when one next hop goes only the flows it carried move.
 * Next hops owned by no node cannot be resolved and are left out of the
 * choice, as a router leaves out routes whose next hop it cannot resolve
 * (RFC 4271 §9.1.2).
 */
import {
  addressInPrefix,
  formatAddress,
  InvalidArgumentError,
  ipv4ToNumber,
  parsePrefix,
  prefixContains,
  tryParseAddress,
  type Prefix,
} from '../../core/index.js';
import type { ShadownetConfig } from '../config.js';
import type { Substrate, SubstrateLink, SubstrateStepReport } from './topology.js';
import type { Flow } from './types.js';

/** Why a flow was dropped. `capacity` is decided when the step ends (see {@link Substrate.endStep}). */
export const DropReason = {
  NO_ROUTE: 'no-route',
  NEXT_HOP_UNKNOWN: 'next-hop-unknown',
  CAPACITY: 'capacity',
  HOST_UNREACHABLE: 'host-unreachable',
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

/** What the routing table says for an address: the equal-cost next hops, and the matched prefix length when known. */
export interface RouteLookupResult {
  readonly nextHops: readonly string[];
  /** Length of the matched prefix; when given, a table route longer than a connected subnet wins over it. */
  readonly prefixLength?: number;
}

/** The virtual network's routing table (the RII's VnetRib): null when no route covers the address. */
export type RouteLookup = (vnet: string, address: string) => RouteLookupResult | null;

export interface OverlayForwarderOptions {
  readonly config: ShadownetConfig;
  readonly substrate: Substrate;
  readonly lookup: RouteLookup;
  /** Seeds the ECMP hash (a router's hash seed); 0 by default. */
  readonly hashSeed?: number;
}

export type ForwardResult =
  | {
      readonly ok: true;
      readonly srcHost: string;
      readonly dstHost: string;
      /** The substrate links crossed, from srcHost to dstHost ([] on one host). */
      readonly links: readonly SubstrateLink[];
      readonly vni: number;
      /** The next hop used: the table's, or the destination itself on a connected route. */
      readonly nextHop: string;
      /** The node that receives the flow. */
      readonly node: string;
      /** connected: the destination's own node; table: the routing table's next hop; internet: out through the Internet gateway. */
      readonly route: 'connected' | 'table' | 'internet';
    }
  | { readonly ok: false; readonly reason: DropReason };

/** A routing decision for one destination (see {@link OverlayForwarder.routeTo}). */
export interface RouteTo {
  readonly server: string;
}

interface RouteToState extends RouteTo {
  readonly vnet: VnetState | undefined;
  readonly destination: Destination | null;
}

export interface TrafficCount {
  flows: number;
  packets: number;
  bytes: number;
}

export interface ForwarderStats {
  readonly forwarded: TrafficCount;
  readonly dropped: Readonly<Record<DropReason, TrafficCount>>;
}

interface NodeInfo {
  readonly name: string;
  readonly host: string;
  /** Index of the host in the substrate's hosts, -1 when it has none of that name. */
  readonly hostId: number;
  /** Length of the connected route that reaches it. */
  readonly connectedLength: number;
}

interface VnetState {
  readonly name: string;
  readonly vni: number;
  /** Canonical address → node, by the node's own address. */
  readonly byAddress: Map<string, NodeInfo>;
  /** Canonical address → node, by node address or appliance BGP address (next-hop resolution). */
  readonly byNextHop: Map<string, NodeInfo>;
  /** IPv4 address (as a number) → node, by the node's own address. */
  readonly byAddress4: Map<number, NodeInfo>;
  /** Where traffic from clients that are not nodes enters. */
  readonly gatewayHost: string | null;
  readonly gatewayHostId: number;
  /** An Internet gateway: unrouted destinations outside `cidrs` leave through the gateway host. */
  readonly internet: boolean;
  readonly cidrs: readonly Prefix[];
  /** Routing decisions by destination address (see OverlayForwarder.#destination). */
  readonly destinations: Map<string, Destination>;
}

/** A next hop of the table resolved to the node that owns it. */
interface ResolvedHop {
  readonly nextHop: string;
  readonly key: string;
  readonly node: NodeInfo;
  readonly hash: number;
}

interface Destination {
  readonly table: RouteLookupResult | null;
  readonly owner: NodeInfo | undefined;
  readonly tableWins: boolean;
  /** The table's resolvable next hops, when the table wins. */
  readonly hops: readonly ResolvedHop[];
}

/** The `node` of a flow that leaves through the Internet gateway. */
export const INTERNET = '(internet)';

/** IPv4 text that parses is already canonical; IPv6 text may not be. */
function canonical(address: string): string | null {
  if (!address.includes(':')) return address;
  const b = tryParseAddress(address);
  return b ? formatAddress(b) : null;
}

function fnv1a(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function mix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

const emptyCount = (): TrafficCount => ({ flows: 0, packets: 0, bytes: 0 });

/** Forwards flows across the virtual networks of a config, over its substrate. */
export class OverlayForwarder {
  readonly #substrate: Substrate;
  readonly #lookup: RouteLookup;
  readonly #seed: number;
  readonly #vnets = new Map<string, VnetState>();
  readonly #nextHopHash = new Map<string, number>();
  readonly #hostCount: number;
  /** Substrate paths by (source host id × hosts + destination host id). */
  readonly #pathMemo: (readonly SubstrateLink[] | null | undefined)[] = [];
  /** The path {@link forwardV4}'s last routed flow takes. */
  #lastLinks: readonly SubstrateLink[] | null = null;
  readonly #forwarded = emptyCount();
  readonly #dropped: Record<DropReason, TrafficCount> = {
    'no-route': emptyCount(),
    'next-hop-unknown': emptyCount(),
    capacity: emptyCount(),
    'host-unreachable': emptyCount(),
  };

  constructor(options: OverlayForwarderOptions) {
    this.#substrate = options.substrate;
    this.#hostCount = options.substrate.hosts.length;
    this.#lookup = options.lookup;
    this.#seed = options.hashSeed ?? 0;
    for (const v of options.config.vnets) {
      if (this.#vnets.has(v.name)) continue;
      if (v.vni === undefined && v.nodes.length > 0)
        throw new InvalidArgumentError(`virtual network "${v.name}" has nodes but no vni`);
      const subnets = v.subnets.map((s) => parsePrefix(s.cidr));
      const byAddress = new Map<string, NodeInfo>();
      const byNextHop = new Map<string, NodeInfo>();
      const byAddress4 = new Map<number, NodeInfo>();
      for (const n of v.nodes) {
        const bytes = tryParseAddress(n.address);
        if (!bytes) throw new InvalidArgumentError(`node "${n.name}" of "${v.name}" has no valid address`);
        const host = parsePrefix(n.address);
        let connectedLength = host.length;
        for (const s of subnets)
          if (prefixContains(s, host) && s.length < connectedLength) connectedLength = s.length;
        const info: NodeInfo = { name: n.name, host: n.host, hostId: this.#hostId(n.host), connectedLength };
        const key = formatAddress(bytes);
        if (!byAddress.has(key)) {
          byAddress.set(key, info);
          if (bytes.length === 4) byAddress4.set(ipv4ToNumber(bytes), info);
        }
        if (!byNextHop.has(key)) byNextHop.set(key, info);
        if (n.appliance) {
          const bgp = canonical(n.appliance.bgpAddress);
          if (bgp !== null && !byNextHop.has(bgp)) byNextHop.set(bgp, info);
        }
      }
      const gateway = v.routers.find((r) => r.host !== undefined && this.#substrate.hasHost(r.host));
      this.#vnets.set(v.name, {
        name: v.name,
        vni: v.vni ?? 0,
        byAddress,
        byNextHop,
        byAddress4,
        gatewayHost: gateway?.host ?? null,
        gatewayHostId: gateway?.host === undefined ? -1 : this.#hostId(gateway.host),
        internet: v.internetGateway && gateway?.host !== undefined,
        cidrs: v.cidrs.map((c) => parsePrefix(c)),
        destinations: new Map(),
      });
    }
  }

  /** Route a flow, charge it to the substrate's current step (see {@link Substrate.beginStep}), and count it. */
  forward(flow: Flow): ForwardResult {
    const r = this.route(flow);
    const packets = flow.packetsToServer + flow.packetsToClient;
    const bytes = flow.bytesToServer + flow.bytesToClient;
    const count = r.ok ? this.#forwarded : this.#dropped[r.reason];
    count.flows++;
    count.packets += packets;
    count.bytes += bytes;
    if (r.ok) this.#substrate.charge(r.links, bytes * 8, packets, flow.id);
    return r;
  }

  /**
   * End the substrate's step and count the flows it dropped for capacity
   * (`packets` and `bytes` of those flows come from the step's report).
   */
  endStep(): SubstrateStepReport {
    const report = this.#substrate.endStep();
    const c = this.#dropped.capacity;
    c.flows += report.droppedFlowIds.length;
    c.packets += report.droppedPackets;
    c.bytes += report.droppedBits / 8;
    // Capacity drops were first counted as forwarded.
    this.#forwarded.flows -= report.droppedFlowIds.length;
    this.#forwarded.packets -= report.droppedPackets;
    this.#forwarded.bytes -= report.droppedBits / 8;
    return report;
  }

  /** Flows, packets and bytes forwarded, and dropped by reason, since the forwarder was built. */
  stats(): ForwarderStats {
    const copy = (c: TrafficCount): TrafficCount => ({ ...c });
    return {
      forwarded: copy(this.#forwarded),
      dropped: {
        'no-route': copy(this.#dropped['no-route']),
        'next-hop-unknown': copy(this.#dropped['next-hop-unknown']),
        capacity: copy(this.#dropped.capacity),
        'host-unreachable': copy(this.#dropped['host-unreachable']),
      },
    };
  }

  /** The five-tuple hash a flow is pinned to its next hop with. */
  flowHash(flow: Pick<Flow, 'client' | 'server' | 'clientPort' | 'serverPort' | 'protocol'>): number {
    let h = fnv1a(flow.client, mix32(this.#seed) ^ 0x811c9dc5);
    h = fnv1a('>', h);
    h = fnv1a(flow.server, h);
    h = mix32(h ^ Math.imul(flow.protocol + 1, 0x9e3779b1));
    return mix32(h ^ ((flow.clientPort << 16) | flow.serverPort));
  }

  /**
   * What a destination's lookup decides, kept while the lookup gives back the
   * same result object (a caching lookup does until its table changes).
   */
  #destination(v: VnetState, server: string): Destination | null {
    const table = this.#lookup(v.name, server);
    let d = v.destinations.get(server);
    if (d !== undefined && d.table === table) return d;
    const serverKey = canonical(server);
    if (serverKey === null) return null;
    const owner = v.byAddress.get(serverKey);
    const tableWins =
      table !== null &&
      table.nextHops.length > 0 &&
      (!owner || (table.prefixLength !== undefined && table.prefixLength > owner.connectedLength));
    const hops: ResolvedHop[] = [];
    if (tableWins)
      for (const nh of table.nextHops) {
        const key = canonical(nh);
        const node = key === null ? undefined : v.byNextHop.get(key);
        if (node && key !== null) hops.push({ nextHop: nh, key, node, hash: this.#hopHash(key) });
      }
    d = { table, owner, tableWins, hops };
    if (v.destinations.size >= 65536) v.destinations.clear();
    v.destinations.set(server, d);
    return d;
  }

  #hopHash(key: string): number {
    let h = this.#nextHopHash.get(key);
    if (h === undefined) {
      h = fnv1a(key);
      this.#nextHopHash.set(key, h);
    }
    return h;
  }

  /** Where a flow would go now, without charging or counting it. */
  route(flow: Flow): ForwardResult {
    const v = this.#vnets.get(flow.vnet);
    if (!v) return { ok: false, reason: 'no-route' };
    const dest = this.#destination(v, flow.server);
    if (dest === null) return { ok: false, reason: 'no-route' };
    const owner = dest.owner;

    let node: NodeInfo;
    let nextHop: string;
    let route: 'connected' | 'table';
    if (dest.tableWins) {
      const chosen = this.#chooseNextHop(dest.hops, flow);
      if (!chosen) return { ok: false, reason: 'next-hop-unknown' };
      nextHop = chosen.nextHop;
      node = chosen.node;
      route = 'table';
    } else if (owner) {
      node = owner;
      nextHop = flow.server;
      route = 'connected';
    } else if (this.#toInternet(v, flow.server)) {
      // Out through the Internet gateway: from the client's host to the gateway host.
      const clientKey = canonical(flow.client);
      const srcHost = (clientKey !== null ? v.byAddress.get(clientKey)?.host : undefined) ?? v.gatewayHost!;
      if (!this.#substrate.hasHost(srcHost)) return { ok: false, reason: 'host-unreachable' };
      const links = this.#substrate.path(srcHost, v.gatewayHost!);
      if (links === null) return { ok: false, reason: 'host-unreachable' };
      return { ok: true, srcHost, dstHost: v.gatewayHost!, links, vni: v.vni, nextHop: flow.server, node: INTERNET, route: 'internet' };
    } else return { ok: false, reason: 'no-route' };

    const clientKey = canonical(flow.client);
    const srcHost = (clientKey !== null ? v.byAddress.get(clientKey)?.host : undefined) ?? v.gatewayHost;
    if (srcHost === null) return { ok: false, reason: 'no-route' };
    if (!this.#substrate.hasHost(srcHost) || !this.#substrate.hasHost(node.host))
      return { ok: false, reason: 'host-unreachable' };
    const links = this.#substrate.path(srcHost, node.host);
    if (links === null) return { ok: false, reason: 'host-unreachable' };
    return { ok: true, srcHost, dstHost: node.host, links, vni: v.vni, nextHop, node: node.name, route };
  }

  /** Whether `server` leaves through the network's Internet gateway: it has one, and the address lies outside the network's CIDRs. */
  #toInternet(v: VnetState, server: string): boolean {
    if (!v.internet) return false;
    const a = tryParseAddress(server);
    return a != null && !v.cidrs.some((c) => addressInPrefix(c, a));
  }

  #hostId(name: string): number {
    return this.#substrate.hasHost(name) ? this.#substrate.hosts.indexOf(name) : -1;
  }

  /**
   * The routing decision for flows of `vnet` towards `server`, for
   * {@link forwardV4}. It holds while the routing table does not change:
   * take it anew for every batch of flows.
   */
  routeTo(vnet: string, server: string): RouteTo {
    const v = this.#vnets.get(vnet);
    const state: RouteToState = { vnet: v, server, destination: v ? this.#destination(v, server) : null };
    return state;
  }

  /**
   * What {@link forward} does for an IPv4 flow given by its numbers (the
   * client address as a 32-bit number) towards the server of `to`: route
   * it, charge it to the substrate's step with `flowId`, count it. Returns
   * null when it is forwarded, or why it was dropped.
   */
  forwardV4(to: RouteTo, client: number, clientPort: number, serverPort: number, protocol: number, packets: number, bytes: number, flowId: number): DropReason | null {
    const reason = this.#routeV4(to, client, clientPort, serverPort, protocol);
    const count = reason === null ? this.#forwarded : this.#dropped[reason];
    count.flows++;
    count.packets += packets;
    count.bytes += bytes;
    if (reason === null) this.#substrate.charge(this.#lastLinks!, bytes * 8, packets, flowId);
    return reason;
  }

  #routeV4(to: RouteTo, client: number, clientPort: number, serverPort: number, protocol: number): DropReason | null {
    const v = (to as RouteToState).vnet;
    const dest = (to as RouteToState).destination;
    if (!v || dest === null) return 'no-route';
    let node: NodeInfo;
    if (dest.tableWins) {
      const hops = dest.hops;
      if (hops.length === 0) return 'next-hop-unknown';
      if (hops.length === 1) node = hops[0].node;
      else node = this.#rendezvous(hops, this.#flowHashV4(client, to.server, clientPort, serverPort, protocol))!.node;
    } else if (dest.owner) node = dest.owner;
    else return 'no-route';
    const src = v.byAddress4.get(client);
    const srcId = src ? src.hostId : v.gatewayHostId;
    if (!src && v.gatewayHost === null) return 'no-route';
    if (srcId < 0 || node.hostId < 0) return 'host-unreachable';
    const k = srcId * this.#hostCount + node.hostId;
    let links = this.#pathMemo[k];
    if (links === undefined) {
      links = this.#substrate.path(this.#substrate.hosts[srcId], node.host);
      this.#pathMemo[k] = links;
    }
    if (links === null) return 'host-unreachable';
    this.#lastLinks = links;
    return null;
  }

  /** {@link flowHash} of an IPv4 client given as a number: the FNV-1a of its dotted text, digit by digit. */
  #flowHashV4(client: number, server: string, clientPort: number, serverPort: number, protocol: number): number {
    let h = mix32(this.#seed) ^ 0x811c9dc5;
    for (let shift = 24; shift >= 0; shift -= 8) {
      const octet = (client >>> shift) & 0xff;
      if (shift !== 24) h = Math.imul(h ^ 0x2e, 0x01000193);
      if (octet >= 100) h = Math.imul(h ^ (0x30 + Math.floor(octet / 100)), 0x01000193);
      if (octet >= 10) h = Math.imul(h ^ (0x30 + (Math.floor(octet / 10) % 10)), 0x01000193);
      h = Math.imul(h ^ (0x30 + (octet % 10)), 0x01000193);
    }
    h = fnv1a('>', h >>> 0);
    h = fnv1a(server, h);
    h = mix32(h ^ Math.imul(protocol + 1, 0x9e3779b1));
    return mix32(h ^ ((clientPort << 16) | serverPort));
  }

  /** Rendezvous (highest-score) choice among the resolvable next hops. */
  #chooseNextHop(hops: readonly ResolvedHop[], flow: Flow): ResolvedHop | null {
    if (hops.length === 1) return hops[0];
    return this.#rendezvous(hops, hops.length > 1 ? this.flowHash(flow) : 0);
  }

  #rendezvous(hops: readonly ResolvedHop[], tuple: number): ResolvedHop | null {
    let best: ResolvedHop | null = null;
    let bestScore = -1;
    for (const hop of hops) {
      const score = mix32(tuple ^ Math.imul(hop.hash, 0x85ebca6b));
      if (score > bestScore || (score === bestScore && best !== null && hop.key < best.key)) {
        best = hop;
        bestScore = score;
      }
    }
    return best;
  }
}

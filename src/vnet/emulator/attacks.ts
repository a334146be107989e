/**
 * Attacks on a schedule, each with its ground truth. Traffic attacks (port
 * scan, SYN flood, DNS tunnelling, command-and-control beaconing, data
 * exfiltration) become flows with exact packet and byte counts, step by
 * step; routing attacks (prefix hijack, route leak) are carried out by the
 * appliances' BGP sessions through the {@link ScriptRunner}. Every flow an
 * attack produces carries its label id.
 *
 * An attack's events (probes, SYNs, queries, beacons, uploads) sit on a
 * fixed timeline, event i at start + i / rate, and each flow carries a fixed
 * run of them; so which flows a step gets and how many events there are in
 * all does not depend on the step length. Only per-flow random fields
 * (spoofed sources, source ports, flow seeds) come from the caller's
 * generator. Flows are built by traffic/flows.ts `flowFor`, so they turn
 * into exactly the packets they count.
 */
import {
  InvalidArgumentError,
  ShadownetError,
  addressInPrefix,
  formatAddress,
  formatPrefix,
  parseAddress,
  parsePrefix,
  tryParseAddress,
  type Prefix,
} from '../../core/index.js';
import type { AttackConfig, ShadownetConfig, VnetConfig } from '../config.js';
import { MAX_EMULATION_OFFSET_SECONDS, parseEmulationOffset } from '../emulation-validate.js';
import { createRng, mixSeed, type Rng } from './traffic/rng.js';
import { flowFor, linkOverhead, mss, type FlowSpec } from './traffic/flows.js';
import { FlowKind, type AttackLabel, type Flow } from './types.js';

export const AttackErrorCode = {
  /** An attack that cannot be carried out as configured; the message names the field. */
  CONFIG: 'SHADOWNET_ERR_ATTACK_CONFIG',
} as const;
export type AttackErrorCode = (typeof AttackErrorCode)[keyof typeof AttackErrorCode];

export class AttackError extends ShadownetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(AttackErrorCode.CONFIG, message, options);
    this.name = 'AttackError';
  }
}

/** A routing attack, as the script runner carries it out. */
export interface RoutingAttack {
  readonly label: AttackLabel;
  readonly kind: 'prefix-hijack' | 'route-leak';
  readonly vnet: string;
  readonly node: string;
  readonly prefix: string;
  /** AS path behind the appliance's own ASN: empty for a hijack (the rogue node originates it), the leaked path for a leak. */
  readonly asPath: readonly number[];
}

/** Probes per scanned host. */
export const SCAN_PORTS = 1024;
/** Addresses of a range a port scan goes through at most (its nodes always among them). */
const MAX_SWEEP = 254;

/** Default events per second, by kind. */
export const DEFAULT_RATES = {
  'port-scan': 100,
  'syn-flood': 1000,
  'dns-tunnel': 5,
  'c2-beacon': 1 / 60,
  /** Upload connections per second. */
  exfiltration: 1 / 60,
} as const;

type TrafficKind = keyof typeof DEFAULT_RATES;

/** A traffic attack resolved against the network: who, what and its timeline. */
interface TrafficAttack {
  readonly label: AttackLabel;
  readonly kind: TrafficKind;
  /** Per-attack seed: beacon jitter, the scanner's source port. */
  readonly seed: number;
  readonly start: number;
  /** Number of events (probes, SYNs, queries, beacons, uploads) over the whole attack. */
  readonly events: number;
  /** ms between events. */
  readonly interval: number;
  /** The single attacking address, or null for spoofed random sources. */
  readonly source: string | null;
  /** Victims, in the order they are hit. */
  readonly targets: readonly string[];
  readonly port: number;
  readonly ipv6: boolean;
  /** Events per flow. */
  readonly perFlow: number;
  /** port-scan: targets that are nodes of the network (they answer). */
  readonly live: ReadonlySet<string>;
  readonly sourcePort: number;
  readonly domain: string;
  /** exfiltration: payload bytes over the whole attack. */
  readonly bytes: number;
}

/** A uniform number in [0, 1) fixed by (seed, i): the same event gets the same jitter whatever the step. */
const unitHash = (seed: number, i: number): number => mixSeed(seed, i) / 0x100000000;

// ------------------------------------------------------------ helpers

/** Host addresses of a prefix, skipping the network address: at most `max`. */
function hostsOf(p: Prefix, max: number): string[] {
  const out: string[] = [];
  const bits = p.address.length * 8 - p.length;
  const size = bits >= 31 ? Infinity : 2 ** bits;
  const first = size <= 2 ? 0 : 1;
  const last = p.address.length === 4 && size > 2 ? size - 2 : size - 1;
  for (let i = first; i <= last && out.length < max; i++) {
    const a = p.address.slice();
    let carry = i;
    for (let k = a.length - 1; k >= 0 && carry > 0; k--) {
      const v = a[k] + (carry % 256);
      a[k] = v & 0xff;
      carry = Math.floor(carry / 256) + (v >> 8);
    }
    out.push(formatAddress(a));
  }
  return out;
}

const canonical = (address: string): string => formatAddress(parseAddress(address));

export interface AttackPlanOptions {
  readonly config: ShadownetConfig;
  /** The emulation's start (ms since the epoch); `at` counts from here. Default `emulation.start`. */
  readonly startMs?: number;
  /** Flow ids, unique within the run; default a counter of this plan's own. */
  readonly nextFlowId?: () => number;
}

/**
 * A time offset (a script step's or an attack's `at`) as milliseconds: a
 * number or numeric string (seconds), or units such as "1d2h30m", "90m",
 * "1.5h", "45s", "250ms", "1w 2d": the syntax the config validation accepts.
 * Throws InvalidArgumentError.
 */
export function parseOffset(at: number | string): number {
  const seconds = parseEmulationOffset(at);
  if (seconds === undefined)
    throw new InvalidArgumentError(
      `expected a time offset such as "1d2h30m", "90m", "45s" or a number of seconds (at most ${MAX_EMULATION_OFFSET_SECONDS / 86400} days), got ${JSON.stringify(at)}`,
    );
  return Math.round(seconds * 1000);
}

/**
 * The attacks of `emulation.attacks`, resolved against the network: their
 * ground-truth labels, the routing attacks for the script runner, and the
 * traffic attacks' flows for any span of time.
 */
export class AttackPlan {
  /** One label per attack, in config order. Ids are `attack-<index>-<kind>`. */
  readonly labels: readonly AttackLabel[];
  readonly routing: readonly RoutingAttack[];
  readonly #traffic: TrafficAttack[] = [];
  readonly #nextFlowId: () => number;

  constructor(opts: AttackPlanOptions) {
    const em = opts.config.emulation;
    const startMs = opts.startMs ?? Date.parse(em?.start ?? '2026-01-05T00:00:00Z');
    const seed = em?.seed ?? 1;
    const threatList = (em?.threatList ?? []).map((t) => parsePrefix(t, false));
    let nextId = 1;
    this.#nextFlowId = opts.nextFlowId ?? (() => nextId++);
    const labels: AttackLabel[] = [];
    const routing: RoutingAttack[] = [];
    (em?.attacks ?? []).forEach((a, i) => {
      const path = `emulation.attacks[${i}]`;
      const fail = (field: string, what: string): never => {
        throw new AttackError(`${path}${field ? `.${field}` : ''}: ${what}`);
      };
      const vnet = opts.config.vnets.find((v) => v.name === a.vnet);
      if (!vnet) return fail('vnet', `no virtual network named "${a.vnet}"`);
      let offset: number;
      try {
        offset = parseOffset(a.at);
      } catch (err) {
        return fail('at', (err as Error).message);
      }
      const start = startMs + offset;
      const end = start + Math.round(a.duration * 1000);
      if (end <= start) fail('duration', 'expected a duration above zero');
      const id = `attack-${i}-${a.kind}`;
      if (a.kind === 'prefix-hijack' || a.kind === 'route-leak') {
        const r = resolveRouting(a, vnet, id, start, end, fail);
        routing.push(r);
        labels.push(r.label);
        return;
      }
      const t = resolveTraffic(a, a.kind, vnet, id, start, end, mixSeed(seed, 'attack', i), i, threatList, fail);
      this.#traffic.push(t);
      labels.push(t.label);
    });
    this.labels = labels;
    this.routing = routing;
  }

  /** The label with this id, or undefined. */
  label(id: string): AttackLabel | undefined {
    return this.labels.find((l) => l.id === id);
  }

  /** Events (probes, SYNs, queries, beacons, uploads) a traffic attack makes over its whole span; 0 for routing attacks and unknown ids. */
  totalEvents(labelId: string): number {
    return this.#traffic.find((t) => t.label.id === labelId)?.events ?? 0;
  }

  /** Flows a traffic attack produces over its whole span. */
  totalFlows(labelId: string): number {
    const t = this.#traffic.find((x) => x.label.id === labelId);
    return t ? Math.ceil(t.events / t.perFlow) : 0;
  }

  /**
   * The flows of every traffic attack that start in [fromMs, toMs), ordered
   * by start time (ties in config order). A flow carries a run of
   * consecutive events (a host's scan, a second of flood, ten seconds of
   * tunnel queries; one beacon or upload each) and starts at its first
   * event, so every event is in exactly one flow whatever the step.
   * Deterministic for the same spans and the same `rng` sequence.
   */
  attackFlows(fromMs: number, toMs: number, rng: Rng): Flow[] {
    const out: Flow[] = [];
    if (toMs <= fromMs) return out;
    for (const t of this.#traffic) {
      if (t.label.end <= fromMs || t.label.start >= toMs) continue;
      const lo = firstEventAtOrAfter(t, fromMs);
      const hi = firstEventAtOrAfter(t, toMs);
      for (let j = Math.ceil(lo / t.perFlow); j * t.perFlow < hi; j++) out.push(this.#flow(t, j, rng));
    }
    // Stable: attacks at the same instant keep config order.
    return out.sort((a, b) => a.start - b.start);
  }

  /** Flow `j` of attack `t`: its events j·perFlow … (j+1)·perFlow − 1. */
  #flow(t: TrafficAttack, j: number, rng: Rng): Flow {
    const first = j * t.perFlow;
    const n = Math.min(t.perFlow, t.events - first);
    const start = eventTime(t, first);
    const span = eventTime(t, first + n - 1) - start;
    const common = { id: this.#nextFlowId(), vnet: t.label.vnet, label: t.label.id, start, seed: rng.int(0x100000000) };
    switch (t.kind) {
      case 'port-scan': {
        const server = t.targets[j % t.targets.length];
        // Live nodes answer every probe (SYN-ACK or RST); swept addresses with no node behind them stay silent.
        return flowFor(FlowKind.PORT_SCAN, {
          ...common,
          client: t.source!,
          clientPort: t.sourcePort,
          server,
          serverPort: t.port,
          packets: n,
          replies: t.live.has(server) ? n : 0,
          duration: span,
        });
      }
      case 'syn-flood':
        return flowFor(FlowKind.SYN_FLOOD, {
          ...common,
          client: t.source ?? spoofedAddress(t.ipv6, rng),
          clientPort: 1024 + rng.int(64512),
          server: t.targets[0],
          serverPort: t.port,
          packets: n,
          replies: n,
          duration: span,
        });
      case 'dns-tunnel':
        return flowFor(FlowKind.DNS_TUNNEL, {
          ...common,
          client: t.source!,
          clientPort: 1024 + rng.int(64512),
          server: t.targets[0],
          serverPort: 53,
          hostname: t.domain,
          packets: n,
          replies: n,
          duration: span,
        });
      case 'c2-beacon':
        return flowFor(FlowKind.C2_BEACON, {
          ...common,
          client: t.source!,
          clientPort: 1024 + rng.int(64512),
          server: t.targets[0],
          serverPort: t.port,
        });
      case 'exfiltration': {
        const payload = Math.floor(t.bytes / t.events) + (first < t.bytes % t.events ? 1 : 0);
        const spec = {
          ...common,
          client: t.source!,
          clientPort: 1024 + rng.int(64512),
          server: t.targets[0],
          serverPort: t.port,
          // Each upload ends well before the next one starts.
          duration: Math.max(1, Math.floor(t.interval * 0.8)),
        };
        return exactUpload(spec, payload);
      }
    }
  }
}

/**
 * TCP payload bytes a flow carries towards the server, from its counts: the
 * client's SYN (with MSS) is 4 bytes longer than a bare segment, and every
 * segment but the data ones is bare (see traffic/flows.ts).
 */
export function uploadedPayload(f: Flow): number {
  const bare = linkOverhead(f.server.includes(':')) + 20;
  return f.bytesToServer - f.packetsToServer * bare - 4;
}

/** An exfiltration flow whose client payload is exactly `payload` bytes. */
function exactUpload(spec: Omit<FlowSpec, 'targetBytes'>, payload: number): Flow {
  const v6 = spec.server.includes(':');
  // flowFor reads targetBytes as wire bytes: start from the payload plus a full-segment header share.
  let target = Math.ceil((payload * (mss(v6) + linkOverhead(v6) + 20)) / mss(v6));
  let f = flowFor(FlowKind.EXFILTRATION, { ...spec, targetBytes: target });
  for (let k = 0; k < 8 && uploadedPayload(f) !== payload; k++) {
    target += payload - uploadedPayload(f);
    f = flowFor(FlowKind.EXFILTRATION, { ...spec, targetBytes: target });
  }
  if (uploadedPayload(f) !== payload)
    throw new AttackError(`cannot shape an upload of exactly ${payload} bytes (got ${uploadedPayload(f)})`);
  return f;
}

function eventTime(t: TrafficAttack, i: number): number {
  const base = t.start + Math.floor(i * t.interval);
  // Beacons are periodic with a little jitter, as C2 implants add to evade exact-period detection.
  return t.kind === 'c2-beacon' ? base + Math.floor(unitHash(t.seed, i) * t.interval * 0.1) : base;
}

/** Index of the first event at or after `time` (events when there is none). Event times never decrease. */
function firstEventAtOrAfter(t: TrafficAttack, time: number): number {
  let i = Math.min(t.events, Math.max(0, Math.floor((time - t.start) / t.interval) - 1));
  while (i > 0 && eventTime(t, i - 1) >= time) i--;
  while (i < t.events && eventTime(t, i) < time) i++;
  return i;
}

function spoofedAddress(v6: boolean, rng: Rng): string {
  if (v6) {
    const a = rng.bytes(new Uint8Array(16));
    a[0] = 0x20 | (a[0] & 0x1f); // 2000::/3, global unicast
    return formatAddress(a);
  }
  let first = 0;
  while (first === 0 || first === 10 || first === 127) first = 1 + rng.int(223);
  return `${first}.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`;
}

type Fail = (field: string, what: string) => never;

function nodeByName(vnet: VnetConfig, name: string | undefined, field: string, fail: Fail) {
  if (name === undefined) return fail(field, 'expected the name of a node');
  const node = vnet.nodes.find((n) => n.name === name);
  if (!node) return fail(field, `no node named "${name}" in virtual network "${vnet.name}"`);
  return node;
}

function resolveRouting(a: AttackConfig, vnet: VnetConfig, id: string, start: number, end: number, fail: Fail): RoutingAttack {
  const node = nodeByName(vnet, a.node, 'node', fail);
  if (!node.appliance) fail('node', `node "${node.name}" runs no appliance, so it has no BGP session to announce from`);
  const prefixText = a.prefix ?? a.target;
  if (prefixText === undefined) return fail('prefix', `expected the prefix the ${a.kind} announces`);
  let prefix: Prefix;
  try {
    prefix = parsePrefix(prefixText);
  } catch (err) {
    return fail(a.prefix !== undefined ? 'prefix' : 'target', (err as Error).message);
  }
  const kind = a.kind as RoutingAttack['kind'];
  if (kind === 'route-leak' && (a.asPath === undefined || a.asPath.length === 0))
    fail('asPath', 'expected the leaked AS path (the ASNs behind the leaking appliance)');
  const asPath = a.asPath ?? [];
  const text = formatPrefix(prefix);
  const description =
    kind === 'prefix-hijack'
      ? `node ${node.name} (AS${node.appliance!.asn}) announces ${text}, which is not its own`
      : `node ${node.name} (AS${node.appliance!.asn}) leaks ${text} with AS path ${[node.appliance!.asn, ...asPath].join(' ')}`;
  return {
    kind,
    vnet: vnet.name,
    node: node.name,
    prefix: text,
    asPath,
    label: { id, kind, vnet: vnet.name, start, end, hosts: [canonical(node.address)], prefixes: [text], description },
  };
}

function resolveTraffic(
  a: AttackConfig,
  kind: TrafficKind,
  vnet: VnetConfig,
  id: string,
  start: number,
  end: number,
  seed: number,
  index: number,
  threatList: Prefix[],
  fail: Fail,
): TrafficAttack {
  const rate = a.rate ?? DEFAULT_RATES[kind];
  const interval = 1000 / rate;
  // The epsilon keeps 600 s at 1/60 per second at 10 events, not 9.999… → 9.
  const events = Math.floor(((end - start) * rate) / 1000 + 1e-9);
  if (events < 1) fail('rate', `at ${rate}/s nothing happens within ${(end - start) / 1000} s: raise the rate or the duration`);
  const address = (text: string | undefined, field: string): string | undefined => {
    if (text === undefined) return undefined;
    const b = tryParseAddress(text);
    if (!b) return fail(field, `expected an IPv4 or IPv6 address, got ${JSON.stringify(text)}`);
    return formatAddress(b);
  };
  /** The attacker: `source`, or the address of the attacking `node`. */
  const attacker = (): string | undefined => {
    const given = address(a.source, 'source');
    if (given) return given;
    if (a.node !== undefined) return canonical(nodeByName(vnet, a.node, 'node', fail).address);
    return undefined;
  };
  /** The compromised host of an outbound attack: the attacker, or else the network's first node. */
  const insideHost = (): string => {
    const given = attacker();
    if (given) return given;
    const first = vnet.nodes[0];
    if (!first) return fail('source', `expected the compromised host's address (virtual network "${vnet.name}" has no nodes)`);
    return canonical(first.address);
  };
  /** The port of the application at `host`: one whose service prefix holds it, or one its node serves. */
  const appPort = (host: string, fallback: number): number => {
    const bytes = parseAddress(host);
    const byPrefix = vnet.applications.find((x) => x.prefix !== undefined && addressInPrefix(parsePrefix(x.prefix, false), bytes));
    const node = vnet.nodes.find((n) => canonical(n.address) === host);
    const app = byPrefix ?? (node && vnet.applications.find((x) => node.apps.includes(x.name)));
    return app?.port ?? fallback;
  };
  const rand = createRng(seed);
  let source: string | null = null;
  let targets: string[] = [];
  let port = 0;
  let perFlow = 1;
  let live = new Set<string>();
  let domain = '';
  let bytes = 0;
  let description = '';
  let prefixes: string[] | undefined;
  let scanned = 0;
  switch (kind) {
    case 'port-scan': {
      source = attacker() ?? `198.51.100.${(index % 254) + 1}`;
      const scope = a.target ?? vnet.subnets[0]?.cidr ?? vnet.cidrs[0];
      let p: Prefix;
      try {
        p = parsePrefix(scope, false);
      } catch (err) {
        return fail('target', (err as Error).message);
      }
      const nodes = vnet.nodes.filter((n) => addressInPrefix(p, parseAddress(n.address))).map((n) => canonical(n.address));
      live = new Set(nodes);
      // The hosts that answer first (as after a ping sweep), then the rest of the range, address by address.
      targets = [...nodes, ...hostsOf(p, MAX_SWEEP + nodes.length).filter((h) => !live.has(h))].slice(0, Math.max(MAX_SWEEP, nodes.length));
      // One flow per host: SCAN_PORTS probes, the commonly open ports first (traffic/flows.ts scanPorts).
      perFlow = SCAN_PORTS;
      port = 80;
      prefixes = [formatPrefix(p)];
      // The label names the hosts the scan reaches in its time.
      targets = targets.length > 0 ? targets : [formatAddress(p.address)];
      scanned = Math.min(targets.length, Math.ceil(events / SCAN_PORTS));
      description = `port scan of ${formatPrefix(p)} from ${source} at ${rate} probes/s: ${SCAN_PORTS} ports on each of ${scanned} host${scanned === 1 ? '' : 's'}, ${nodes.length} of them live`;
      break;
    }
    case 'syn-flood': {
      source = attacker() ?? null;
      const victim = address(a.target, 'target') ?? (vnet.nodes[0] ? canonical(vnet.nodes[0].address) : undefined);
      if (!victim) return fail('target', 'expected the address under attack');
      targets = [victim];
      port = appPort(victim, 80);
      // A flow per second of flood.
      perFlow = Math.max(1, Math.round(rate));
      description = `SYN flood on ${victim} port ${port} at ${rate} SYN/s from ${source ?? 'spoofed random sources'}`;
      break;
    }
    case 'dns-tunnel': {
      source = insideHost();
      const dnsNode = vnet.nodes.find((n) => vnet.applications.some((x) => x.kind === 'dns' && n.apps.includes(x.name)));
      const resolver = address(a.target, 'target') ?? (dnsNode ? canonical(dnsNode.address) : undefined);
      if (!resolver) return fail('target', 'expected the resolver the tunnel queries (no node serves a dns application)');
      if (a.domain === undefined || !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(a.domain))
        return fail('domain', 'expected the domain the tunnel carries its data under, e.g. t.example.net');
      targets = [resolver];
      domain = a.domain.toLowerCase();
      // A flow per ten seconds of queries.
      perFlow = Math.max(1, Math.round(rate * 10));
      description = `DNS tunnel from ${source} through ${resolver}: ${rate} queries/s carrying data under ${domain}`;
      break;
    }
    case 'c2-beacon': {
      source = insideHost();
      let server = address(a.target, 'target');
      if (server === undefined) {
        if (threatList.length === 0) return fail('target', 'expected the C2 server address (emulation.threatList is empty)');
        server = hostsOf(threatList[0], 1)[0];
      } else if (!threatList.some((t) => addressInPrefix(t, parseAddress(server!)))) {
        return fail('target', `${server} is not on emulation.threatList: a C2 server is one the threat feed lists`);
      }
      targets = [server];
      port = 443;
      description = `C2 beaconing from ${source} to ${server}:443 every ${Math.round(interval / 1000)} s`;
      break;
    }
    case 'exfiltration': {
      source = insideHost();
      const dest = address(a.target, 'target');
      if (!dest) return fail('target', 'expected the address the data is sent to');
      if (a.bytes === undefined) return fail('bytes', 'expected the number of bytes sent');
      targets = [dest];
      port = 443;
      bytes = Math.round(a.bytes);
      if (bytes < events) fail('bytes', `${bytes} bytes cannot be spread over ${events} uploads`);
      description = `exfiltration of ${bytes} bytes from ${source} to ${dest}:443 in ${events} uploads`;
      break;
    }
  }
  const v6 = (source ?? targets[0]).includes(':');
  for (const h of [source, ...targets]) {
    if (h !== null && h.includes(':') !== v6) fail('target', `source ${source} and target ${h} are not of the same address family`);
  }
  if (kind === 'exfiltration') {
    try {
      exactUpload({ id: 0, vnet: vnet.name, client: source!, clientPort: 1024, server: targets[0], serverPort: port, start, seed: 0 }, Math.floor(bytes / events));
    } catch {
      fail('bytes', `${bytes} bytes in ${events} uploads is too little per upload for a TLS connection: lower the rate or raise the bytes`);
    }
  }
  const victims = kind === 'port-scan' ? targets.slice(0, scanned) : targets;
  const hosts = [...(source !== null ? [source] : []), ...victims.filter((h) => h !== source)];
  return {
    label: { id, kind, vnet: vnet.name, start, end, hosts, ...(prefixes ? { prefixes } : {}), description },
    kind,
    seed,
    start,
    events,
    interval,
    source,
    targets,
    port,
    ipv6: v6,
    perFlow,
    live,
    sourcePort: 32768 + rand.int(28232),
    domain,
    bytes,
  };
}

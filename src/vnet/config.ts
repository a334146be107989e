/**
 * The shadownet configuration file (YAML), validated with zod. Every error
 * names the path in the file and what was expected, e.g.
 * `vnets[0].routers[1].asn: expected an integer 1..4294967295`.
 */
import { readFileSync } from 'node:fs';
import { parseDocument, isMap, isSeq, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { emulationIssues } from './emulation-validate.js';
import {
  ConfigError,
  CoreErrorCode,
  ShadownetError,
  parsePrefix,
  prefixContains,
  tryParseAddress,
  type ConfigIssue,
  type Prefix,
} from '../core/index.js';

const asn = z
  .number({ error: 'expected an integer 1..4294967295' })
  .int({ error: 'expected an integer 1..4294967295' })
  .min(1, { error: 'expected an integer 1..4294967295' })
  .max(4294967295, { error: 'expected an integer 1..4294967295' });

const port = z
  .number({ error: 'expected a TCP port 1..65535' })
  .int({ error: 'expected a TCP port 1..65535' })
  .min(1, { error: 'expected a TCP port 1..65535' })
  .max(65535, { error: 'expected a TCP port 1..65535' });

const ipAddress = z.string({ error: 'expected an IPv4 or IPv6 address' }).refine((s) => tryParseAddress(s) !== undefined, {
  error: 'expected an IPv4 or IPv6 address',
});

const ipv4Address = z.string({ error: 'expected a dotted-quad IPv4 address' }).refine(
  (s) => tryParseAddress(s)?.length === 4,
  { error: 'expected a dotted-quad IPv4 address' },
);

const prefixText = z.string({ error: 'expected a prefix such as 10.0.0.0/16 or 2001:db8::/32' }).superRefine((s, ctx) => {
  try {
    parsePrefix(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
  }
});

const seconds = (what: string, min: number, max: number) =>
  z
    .number({ error: `expected ${what} in seconds, ${min}..${max}` })
    .int({ error: `expected ${what} in seconds, ${min}..${max}` })
    .min(min, { error: `expected ${what} in seconds, ${min}..${max}` })
    .max(max, { error: `expected ${what} in seconds, ${min}..${max}` });

// RFC 4271 §4.2: hold time is 0 or at least 3 seconds.
const holdTime = seconds('a hold time', 0, 65535).refine((v) => v === 0 || v >= 3, {
  error: 'expected a hold time of 0 or 3..65535 seconds (RFC 4271 §4.2)',
});

const name = z
  .string({ error: 'expected a name' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, { error: 'expected a name of letters, digits, "-" and "_" (max 63)' });

export const PeerSchema = z.strictObject({
  address: ipAddress,
  asn,
  description: z.string().optional(),
  /** The peer's port, used when we connect to it. */
  port: port.default(179),
  /** Wait for the peer to connect (true) or connect to it as well (false). */
  passive: z.boolean({ error: 'expected true or false' }).default(true),
  /** Our source address for this session; defaults to the router's listen address. */
  localAddress: ipAddress.optional(),
  holdTime: holdTime.default(90),
  connectRetry: seconds('a connect-retry time', 1, 3600).default(30),
  maxPrefix: z
    .strictObject({
      limit: z.number({ error: 'expected a positive integer' }).int().min(1, { error: 'expected a positive integer' }),
      /** Seconds after which a session ended for max-prefix is restarted; absent = stays down. */
      restartAfter: seconds('a restart delay', 1, 86400).optional(),
    })
    .optional(),
  /** Routes outside these are not installed (counted and logged). Default: the virtual network's CIDRs. */
  acceptedPrefixes: z.array(prefixText).optional(),
  gracefulRestart: z.boolean({ error: 'expected true or false' }).default(true),
  families: z.array(z.enum(['ipv4', 'ipv6'], { error: 'expected "ipv4" or "ipv6"' })).min(1).default(['ipv4', 'ipv6']),
});

/** Seconds as a number, or a duration text: "90s", "10m", "2h". */
const duration = z
  .union([z.number(), z.string()], { error: 'expected a duration: seconds, or "30s", "10m", "2h"' })
  .transform((v, ctx) => {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(String(v).trim());
    if (!m) {
      ctx.addIssue({ code: 'custom', message: 'expected a duration: seconds, or "30s", "10m", "2h"' });
      return z.NEVER;
    }
    const mult = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] ?? 's']!;
    return Number(m[1]) * mult;
  });

const communityText = z.string().regex(/^(\d+|\*):(\d+|\*)$/, { error: 'expected a community "65001:100" ("*" matches any half)' });
const largeCommunityText = z
  .string()
  .regex(/^(\d+|\*):(\d+|\*):(\d+|\*)$/, { error: 'expected a large community "65001:1:2" ("*" matches any part)' });

export const RouterSchema = z.strictObject({
  name,
  asn,
  routerId: ipv4Address,
  listen: z.strictObject({ address: ipAddress, port: port.default(179) }),
  holdTime: holdTime.default(90),
  /** Graceful restart time we advertise (RFC 4724), seconds. */
  restartTime: seconds('a restart time', 1, 4095).default(120),
  peers: z.array(PeerSchema).default([]),
  /** Substrate host the virtual router runs on (required by the emulator). */
  host: name.optional(),
});

// ---- the emulated network (the emulator plays the cloud provider) ----

/** Bits per second: a number, or text such as "10Gbps", "500Mbps", "1.5 Gbit/s". */
const bitRate = z
  .union([z.number().positive(), z.string()], { error: 'expected a rate in bits/s, e.g. 10000000000 or "10Gbps"' })
  .transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const m = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:bps|bit\/s|b\/s)?$/.exec(v.trim());
    if (!m) {
      ctx.addIssue({ code: 'custom', message: 'expected a rate in bits/s, e.g. 10000000000 or "10Gbps"' });
      return z.NEVER;
    }
    return Number(m[1]) * ({ '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 } as Record<string, number>)[m[2].toLowerCase()];
  });

export const SubstrateSchema = z.strictObject({
  hosts: z.array(z.strictObject({ name, description: z.string().optional() })).default([]),
  links: z
    .array(
      z.strictObject({
        a: name,
        b: name,
        capacity: bitRate,
        latency: duration.default(0.0002),
      }),
    )
    .default([]),
});

export const SubnetSchema = z.strictObject({ name, cidr: prefixText });

export const ApplianceSchema = z.strictObject({
  /** The virtual router of this network it peers with. */
  router: name,
  asn,
  /** Loopback address its BGP session binds (must be a configured peer of the router). */
  bgpAddress: ipAddress,
  /** Prefixes it announces from the start. */
  announce: z.array(prefixText).default([]),
  /** AS path it prepends behind its own ASN (e.g. the path of what it fronts). */
  asPath: z.array(asn).default([]),
  communities: z.array(communityText).default([]),
});

export const NodeSchema = z.strictObject({
  name,
  host: name,
  address: ipAddress,
  subnet: name.optional(),
  /** Applications served by this node. */
  apps: z.array(name).default([]),
  /** A routing appliance: runs a real BGP session to a virtual router. */
  appliance: ApplianceSchema.optional(),
});

export const ApplicationSchema = z.strictObject({
  name,
  kind: z.enum(['web', 'api', 'database', 'dns', 'batch', 'backup'], { error: 'expected web, api, database, dns, batch or backup' }),
  /** What its clients speak. */
  protocol: z.enum(['http', 'tls', 'dns', 'ssh', 'bulk'], { error: 'expected http, tls, dns, ssh or bulk' }),
  port: port,
  /** Host name in HTTP Host / TLS SNI / DNS queries. */
  hostname: z.string().optional(),
  /** The application's service prefix (announced by an appliance, or routed by the network). */
  prefix: prefixText.optional(),
  /** Where its clients are. */
  clients: z.array(prefixText).min(1),
  /** Mean requests (flows) per second at the baseline. */
  requestsPerSecond: z.number().positive(),
  /** Mean bytes per flow (both directions); a default per protocol when absent. */
  bytesPerFlow: z.number().positive().optional(),
  rhythm: z
    .strictObject({
      /** Amplitude of the daily cycle (0..1), peak at `peakHour` UTC. */
      daily: z.number().min(0).max(1).default(0.5),
      peakHour: z.number().min(0).max(24).default(14),
      /** Weekend dip (0..1). */
      weekly: z.number().min(0).max(1).default(0.3),
      /** Growth per week (0.05 = +5 %/week). */
      growthPerWeek: z.number().min(-0.9).max(10).default(0),
      /** Mean bursts per day (short surges ×3). */
      burstsPerDay: z.number().min(0).max(100).default(0),
    })
    .default({ daily: 0.5, peakHour: 14, weekly: 0.3, growthPerWeek: 0, burstsPerDay: 0 }),
  resources: z
    .strictObject({
      /** CPU core-seconds per request. */
      cpuPerRequest: z.number().min(0).default(0.002),
      cpuBaseCores: z.number().min(0).default(0.1),
      memoryBaseMiB: z.number().min(0).default(256),
      memoryPerRpsMiB: z.number().min(0).default(1),
      /** Capacity allocated at start. */
      cores: z.number().positive().default(2),
      memoryMiB: z.number().positive().default(2048),
    })
    .default({ cpuPerRequest: 0.002, cpuBaseCores: 0.1, memoryBaseMiB: 256, memoryPerRpsMiB: 1, cores: 2, memoryMiB: 2048 }),
});

export const ScriptStepSchema = z.strictObject({
  /** When, from the start of the emulation: "1d2h", "90m", seconds. */
  at: z.union([z.number(), z.string()]),
  action: z.enum(['announce', 'withdraw', 'failover'], { error: 'expected announce, withdraw or failover' }),
  vnet: name,
  node: name,
  prefix: prefixText,
  /** failover: the node that takes the prefix over. */
  to: name.optional(),
});

export const AttackSchema = z.strictObject({
  kind: z.enum(['port-scan', 'syn-flood', 'dns-tunnel', 'c2-beacon', 'exfiltration', 'prefix-hijack', 'route-leak'], {
    error: 'expected port-scan, syn-flood, dns-tunnel, c2-beacon, exfiltration, prefix-hijack or route-leak',
  }),
  vnet: name,
  at: z.union([z.number(), z.string()]),
  duration: duration.default(600),
  /** Attacking address (traffic attacks) or node (routing attacks: node). */
  source: ipAddress.optional(),
  node: name.optional(),
  /** Target address or prefix. */
  target: z.string().optional(),
  /** Packets (or queries, beacons) per second. */
  rate: z.number().positive().optional(),
  /** Routing attacks: the prefix announced, and the leaked AS path. */
  prefix: prefixText.optional(),
  asPath: z.array(asn).optional(),
  /** DNS tunnelling: the domain its queries carry data under. */
  domain: z.string().optional(),
  /** Exfiltration: bytes sent. */
  bytes: z.number().positive().optional(),
});

export const EmulationSchema = z.strictObject({
  seed: z.number().int().default(1),
  /** Simulated start time (ISO 8601). */
  start: z.string().refine((s) => !Number.isNaN(Date.parse(s)), { error: 'expected an ISO 8601 time, e.g. 2026-01-05T00:00:00Z' }).default('2026-01-05T00:00:00Z'),
  /** Length of one emulation step (traffic is generated per step). */
  step: duration.default(10),
  script: z.array(ScriptStepSchema).default([]),
  attacks: z.array(AttackSchema).default([]),
  /** Addresses the threat-intel feed lists (C2 beacons go to one of them). */
  threatList: z.array(prefixText).default([]),
});

export type SubstrateConfig = z.infer<typeof SubstrateSchema>;
export type NodeConfig = z.infer<typeof NodeSchema>;
export type ApplicationConfig = z.infer<typeof ApplicationSchema>;
export type ApplianceConfig = z.infer<typeof ApplianceSchema>;
export type EmulationConfig = z.infer<typeof EmulationSchema>;
export type AttackConfig = z.infer<typeof AttackSchema>;
export type ScriptStepConfig = z.infer<typeof ScriptStepSchema>;

export const VnetSchema = z.strictObject({
  name,
  /** Virtual network identifier (VXLAN VNI): 24 bits. */
  vni: z.number().int().min(0).max(0xffffff, { error: 'expected a VNI 0..16777215' }).optional(),
  cidrs: z.array(prefixText).min(1, { error: 'expected at least one CIDR' }),
  routers: z.array(RouterSchema).default([]),
  /** Application prefixes and their tags (e.g. critical: true), used by later components. */
  prefixTags: z.array(z.strictObject({ prefix: prefixText, tags: z.record(z.string(), z.union([z.string(), z.boolean(), z.number()])) })).default([]),
  ecmpMax: z.number().int().min(1).max(64).default(8),
  /**
   * Emulated network: an Internet gateway. Traffic to addresses outside the
   * network's CIDRs that no route covers leaves through the substrate host
   * of the network's virtual routers (as a provider's 0.0.0.0/0 → Internet
   * gateway route); without it, such traffic is dropped as no-route.
   */
  internetGateway: z.boolean().default(false),
  /** Emulated network: subnets, computing nodes and their applications. */
  subnets: z.array(SubnetSchema).default([]),
  nodes: z.array(NodeSchema).default([]),
  applications: z.array(ApplicationSchema).default([]),
});

// ---- traffic shadowing (TSE) ----

/** A port or an inclusive range: 443, "443", "1024-65535". */
const portRange = z
  .union([z.number(), z.string()], { error: 'expected a port (443) or a range ("1024-65535")' })
  .transform((v, ctx) => {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(String(v).trim());
    const from = m ? Number(m[1]) : NaN;
    const to = m ? Number(m[2] ?? m[1]) : NaN;
    if (!m || from > 65535 || to > 65535 || from > to) {
      ctx.addIssue({ code: 'custom', message: 'expected a port 0..65535 or a range "from-to" with from ≤ to' });
      return z.NEVER;
    }
    return { from, to };
  });

/**
 * Facts about the route that covers an address, from the live routing table,
 * and membership of named IP sets. All given conditions must hold.
 */
export const RouteMatchSchema = z.strictObject({
  /** Origin AS (last AS of the AS path) is one of these. */
  originAs: z.array(asn).min(1).optional(),
  /** Regular expression on the AS path text ("65001 65010 {65020,65021}"); "_" matches a boundary, as on routers. */
  asPath: z
    .string()
    .refine(
      (r) => {
        try {
          new RegExp(r.replace(/_/g, '(?:^|$|[ {},])'));
          return true;
        } catch {
          return false;
        }
      },
      { error: 'expected a valid regular expression' },
    )
    .optional(),
  /** Carries any of these communities. */
  community: z.array(communityText).min(1).optional(),
  largeCommunity: z.array(largeCommunityText).min(1).optional(),
  /** Lies within a prefix of the virtual network's prefixTags having all these tags. */
  tags: z.record(z.string(), z.union([z.string(), z.boolean(), z.number()])).optional(),
  /** Announced by one of these peers (addresses). */
  peer: z.array(ipAddress).min(1).optional(),
  nextHop: z.array(ipAddress).min(1).optional(),
  /** The covering route was (re)announced within this long. */
  announcedWithin: duration.optional(),
  /** true: there is no route for the address; false: there is one. */
  noRoute: z.boolean().optional(),
  /** Member of this named IP set (replaceable at run time, e.g. by threat intel). */
  ipSet: z.string().optional(),
});

export const MirrorRuleSchema = z.strictObject({
  action: z.enum(['accept', 'reject'], { error: 'expected "accept" or "reject"' }),
  /** ingress: towards the session's scope; egress: from it. */
  direction: z.enum(['ingress', 'egress', 'any'], { error: 'expected "ingress", "egress" or "any"' }).default('any'),
  protocol: z
    .union([z.enum(['tcp', 'udp', 'icmp', 'icmpv6', 'any']), z.number().int().min(0).max(255)], {
      error: 'expected tcp, udp, icmp, icmpv6, any, or an IP protocol number 0..255',
    })
    .default('any'),
  source: z.array(prefixText).min(1).optional(),
  destination: z.array(prefixText).min(1).optional(),
  sourcePorts: portRange.optional(),
  destinationPorts: portRange.optional(),
  sourceRoute: RouteMatchSchema.optional(),
  destinationRoute: RouteMatchSchema.optional(),
});

const budget = z.strictObject({
  bitsPerSecond: z.number().positive().optional(),
  packetsPerSecond: z.number().positive().optional(),
  /** Bucket depth as seconds of the rate (default 1 s... 0.1..60). */
  burstSeconds: z.number().min(0.01).max(60).default(1),
});

export const MirrorSessionSchema = z.strictObject({
  name,
  vnet: name,
  /** The traffic source: addresses whose traffic the session sees (default: the network's CIDRs). */
  scope: z.array(prefixText).min(1).optional(),
  /** 1..32766, lower first (as cloud traffic mirroring). A packet is copied by the first session that accepts it. */
  priority: z.number().int().min(1).max(32766, { error: 'expected a priority 1..32766' }),
  target: name,
  /** VXLAN network identifier put on the copies (default: 1000 + position). */
  vni: z.number().int().min(0).max(0xffffff, { error: 'expected a VNI 0..16777215' }).optional(),
  /** Copy at most this many bytes of each packet. */
  truncate: z.number().int().min(14).max(65535).optional(),
  sample: z
    .strictObject({
      /** Copy 1 in N packets (or flows, with perFlow). */
      oneIn: z.number().int().min(1),
      /** Choose whole flows by a hash of the five-tuple, so a sampled flow is copied whole. */
      perFlow: z.boolean().default(false),
    })
    .optional(),
  budget: budget.optional(),
  enabled: z.boolean().default(true),
  rules: z.array(MirrorRuleSchema).min(1, { error: 'expected at least one rule (no rule matches nothing)' }),
});

const targetBase = { name, budget: budget.optional() };
export const MirrorTargetSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      ...targetBase,
      type: z.literal('vxlan'),
      address: ipAddress,
      port: port.default(4789),
      /**
       * `conversation` (default): copies of different conversations (address
       * pair and protocol) may change places within a send so that equal
       * lengths leave together as UDP GSO messages; each conversation's
       * copies keep their order. `arrival`: copies leave in the order made.
       */
      order: z.enum(['conversation', 'arrival']).default('conversation'),
    }),
    z.strictObject({
      ...targetBase,
      type: z.literal('pcap'),
      /** File path; a rotated file gets a sequence number before the extension. */
      path: z.string().min(1),
      format: z.enum(['pcap', 'pcapng']).default('pcap'),
      rotate: z.strictObject({ maxBytes: z.number().int().min(1024).optional(), maxSeconds: z.number().min(1).optional() }).optional(),
    }),
    z.strictObject({ ...targetBase, type: z.literal('bus'), topic: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional() }),
  ],
  { error: 'expected a target with type vxlan, pcap or bus' },
);

export const ShadowSchema = z.strictObject({
  targets: z.array(MirrorTargetSchema).default([]),
  sessions: z.array(MirrorSessionSchema).default([]),
  ipSets: z.array(z.strictObject({ name, entries: z.array(prefixText).default([]) })).default([]),
  /** Seconds between per-prefix traffic statistics. */
  statsInterval: z.number().min(1).max(3600).default(10),
  /** UDP port the VXLAN mirror receiver listens on (0 = off). */
  receiver: z.strictObject({ address: ipAddress.default('127.0.0.1'), port: port }).optional(),
});

export type MirrorSessionConfig = z.infer<typeof MirrorSessionSchema>;
export type MirrorRuleConfig = z.infer<typeof MirrorRuleSchema>;
export type RouteMatchConfig = z.infer<typeof RouteMatchSchema>;
export type MirrorTargetConfig = z.infer<typeof MirrorTargetSchema>;
export type ShadowConfig = z.infer<typeof ShadowSchema>;

export const ApiSchema = z.strictObject({
  listen: z.strictObject({ address: ipAddress.default('127.0.0.1'), port: port.default(8179) }).default({ address: '127.0.0.1', port: 8179 }),
});

export const ConfigSchema = z.strictObject({
  vnets: z.array(VnetSchema).min(1, { error: 'expected at least one virtual network' }),
  api: ApiSchema.default({ listen: { address: '127.0.0.1', port: 8179 } }),
  log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') }).default({ level: 'info' }),
  shadow: ShadowSchema.default({ targets: [], sessions: [], ipSets: [], statsInterval: 10 }),
  substrate: SubstrateSchema.default({ hosts: [], links: [] }),
  emulation: EmulationSchema.optional(),
});

export type ShadownetConfig = z.infer<typeof ConfigSchema>;
export type VnetConfig = z.infer<typeof VnetSchema>;
export type RouterConfig = z.infer<typeof RouterSchema>;
export type PeerConfig = z.infer<typeof PeerSchema>;

/** `vnets[0].routers[1].asn` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function describeReceived(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  return issue.message;
}

/** Cross-field checks zod's per-field schemas cannot express. */
function semanticIssues(cfg: ShadownetConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const vnetNames = new Map<string, number>();
  const listeners = new Map<string, string>();
  const vnis = new Map<number, number>();
  cfg.vnets.forEach((v, vi) => {
    if (vnetNames.has(v.name)) issues.push({ path: `vnets[${vi}].name`, message: `duplicate virtual network name "${v.name}" (also vnets[${vnetNames.get(v.name)}])` });
    vnetNames.set(v.name, vi);
    if (v.vni !== undefined) {
      if (vnis.has(v.vni)) issues.push({ path: `vnets[${vi}].vni`, message: `VNI ${v.vni} is already used by vnets[${vnis.get(v.vni)}]` });
      vnis.set(v.vni, vi);
    }
    const cidrs = v.cidrs.map((c) => parsePrefix(c));
    cidrs.forEach((c, ci) => {
      for (let cj = 0; cj < ci; cj++) {
        if (prefixContains(cidrs[cj], c) || prefixContains(c, cidrs[cj]))
          issues.push({ path: `vnets[${vi}].cidrs[${ci}]`, message: `overlaps cidrs[${cj}] (${v.cidrs[cj]})` });
      }
    });
    const routerNames = new Map<string, number>();
    v.routers.forEach((r, ri) => {
      const rp = `vnets[${vi}].routers[${ri}]`;
      if (routerNames.has(r.name)) issues.push({ path: `${rp}.name`, message: `duplicate router name "${r.name}" (also routers[${routerNames.get(r.name)}])` });
      routerNames.set(r.name, ri);
      const key = `${r.listen.address}|${r.listen.port}`;
      const other = listeners.get(key);
      if (other) issues.push({ path: `${rp}.listen`, message: `${r.listen.address} port ${r.listen.port} is already used by ${other}` });
      listeners.set(key, rp);
      const peerAddrs = new Map<string, number>();
      r.peers.forEach((p, pi) => {
        const pp = `${rp}.peers[${pi}]`;
        const canon = tryParseAddress(p.address)!.join('.');
        if (peerAddrs.has(canon)) issues.push({ path: `${pp}.address`, message: `duplicate peer ${p.address} (also peers[${peerAddrs.get(canon)}])` });
        peerAddrs.set(canon, pi);
        const local = p.localAddress ?? r.listen.address;
        if (tryParseAddress(local)!.length !== tryParseAddress(p.address)!.length)
          issues.push({ path: `${pp}.localAddress`, message: `source address ${local} is not of the same family as the peer ${p.address}` });
        if (p.holdTime !== 0 && p.holdTime < 3) issues.push({ path: `${pp}.holdTime`, message: 'expected 0 or 3..65535' });
      });
    });
    v.prefixTags.forEach((t, ti) => {
      const p = parsePrefix(t.prefix);
      if (!cidrs.some((c) => prefixContains(c, p)))
        issues.push({ path: `vnets[${vi}].prefixTags[${ti}].prefix`, message: `${t.prefix} is outside the virtual network's CIDRs` });
    });
  });
  issues.push(...shadowIssues(cfg, vnetNames));
  issues.push(...emulationIssues(cfg));
  return issues;
}

function shadowIssues(cfg: ShadownetConfig, vnetNames: Map<string, number>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const sh = cfg.shadow;
  const targets = new Map<string, number>();
  sh.targets.forEach((t, i) => {
    if (targets.has(t.name)) issues.push({ path: `shadow.targets[${i}].name`, message: `duplicate target name "${t.name}" (also targets[${targets.get(t.name)}])` });
    targets.set(t.name, i);
  });
  const sets = new Map<string, number>();
  sh.ipSets.forEach((s, i) => {
    if (sets.has(s.name)) issues.push({ path: `shadow.ipSets[${i}].name`, message: `duplicate IP set name "${s.name}"` });
    sets.set(s.name, i);
  });
  const names = new Map<string, number>();
  const vnis = new Map<number, number>();
  sh.sessions.forEach((s, i) => {
    const sp = `shadow.sessions[${i}]`;
    if (names.has(s.name)) issues.push({ path: `${sp}.name`, message: `duplicate session name "${s.name}" (also sessions[${names.get(s.name)}])` });
    names.set(s.name, i);
    const vi = vnetNames.get(s.vnet);
    if (vi === undefined) issues.push({ path: `${sp}.vnet`, message: `no virtual network named "${s.vnet}" (known: ${[...vnetNames.keys()].join(', ')})` });
    if (!targets.has(s.target))
      issues.push({ path: `${sp}.target`, message: `no target named "${s.target}" (known: ${[...targets.keys()].join(', ') || 'none'})` });
    if (s.vni !== undefined) {
      if (vnis.has(s.vni)) issues.push({ path: `${sp}.vni`, message: `VNI ${s.vni} is already used by sessions[${vnis.get(s.vni)}]` });
      vnis.set(s.vni, i);
    }
    if (vi !== undefined && s.scope) {
      const cidrs = cfg.vnets[vi].cidrs.map((c) => parsePrefix(c));
      s.scope.forEach((sc, si) => {
        if (!cidrs.some((c) => prefixContains(c, parsePrefix(sc))))
          issues.push({ path: `${sp}.scope[${si}]`, message: `${sc} is outside virtual network "${s.vnet}"'s CIDRs` });
      });
    }
    s.rules.forEach((r, ri) => {
      for (const side of ['sourceRoute', 'destinationRoute'] as const) {
        const set = r[side]?.ipSet;
        if (set !== undefined && !sets.has(set))
          issues.push({ path: `${sp}.rules[${ri}].${side}.ipSet`, message: `no IP set named "${set}" (declare it under shadow.ipSets)` });
      }
      if ((r.sourcePorts || r.destinationPorts) && r.protocol !== 'tcp' && r.protocol !== 'udp' && r.protocol !== 6 && r.protocol !== 17)
        issues.push({ path: `${sp}.rules[${ri}].protocol`, message: 'port ranges need protocol tcp or udp' });
    });
  });
  return issues;
}

/** Parse and validate config text. Throws {@link ConfigError} listing every problem found. */
export function parseConfig(text: string, file = '<inline>'): ShadownetConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: `line ${e.linePos?.[0].line ?? '?'}`, message: `YAML syntax: ${e.message.split('\n')[0]}` })),
    );
  }
  const raw: unknown = doc.toJS();
  const result = ConfigSchema.safeParse(raw ?? {});
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: withLine(doc.contents, i.path, formatPath(i.path), text), message: describeReceived(i) }));
    throw new ConfigError(file, issues);
  }
  const semantic = semanticIssues(result.data);
  if (semantic.length > 0) throw new ConfigError(file, semantic);
  return result.data;
}

/** Append the line number of a path when the YAML node can be found, to help editors jump there. */
function withLine(root: YamlNode | null, path: readonly PropertyKey[], text: string, source: string): string {
  let node: unknown = root;
  for (const p of path) {
    if (isMap(node)) node = node.get(p as string, true);
    else if (isSeq(node)) node = node.get(p as number, true);
    else break;
  }
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  if (!range) return text;
  const line = source.slice(0, range[0]).split('\n').length;
  return `${text} (line ${line})`;
}

/** Read and validate a config file. */
export function loadConfig(file: string): ShadownetConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ShadownetError(CoreErrorCode.CONFIG_NOT_FOUND, `cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(text, file);
}

/** The accepted-prefix ranges of a peer: its own list, or the virtual network's CIDRs. */
export function acceptedRanges(vnet: VnetConfig, peer: PeerConfig): Prefix[] {
  return (peer.acceptedPrefixes ?? vnet.cidrs).map((p) => parsePrefix(p));
}

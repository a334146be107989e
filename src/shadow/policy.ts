/**
 * Compiling mirror sessions (the `shadow.sessions` of the config, or sessions
 * added at run time) into flat programs that {@link Classifier} evaluates per
 * packet without allocating.
 *
 * What compilation does:
 * - sessions are grouped by virtual network and ordered by ascending
 *   priority (equal priorities keep their list order); disabled sessions keep
 *   their index but are never evaluated;
 * - every rule becomes one bit of a per-network bit vector; protocol, source
 *   port and destination port each map to a precomputed vector of the rules
 *   they allow, so a packet only visits rules whose protocol and ports fit;
 * - conditions on the attributes of the covering route (origin AS, AS path,
 *   communities, large communities, peer, next hop) become one bit per
 *   distinct combination in the network's {@link RouteFactTable}, evaluated
 *   when a route is installed, so a packet pays one LPM and one AND;
 * - `tags` become bits of the network's prefix-tag table; route age and IP
 *   set membership are evaluated at packet time.
 */
import { Afi, ShadownetError, parsePrefix, type PathSummary, type Prefix } from '../core/index.js';
import { formatAsPath } from '../wire/bgp/index.js';
import type { MirrorRuleConfig, MirrorSessionConfig, RouteMatchConfig } from '../vnet/config.js';
import { StaticPrefixTable, canonicalAddress, mask4, readWord, type RouteFactTable } from './fact-table.js';
import type { IpSetRegistry } from './ipset.js';

/** Error catalog of policy compilation. */
export const PolicyErrorCode = {
  INVALID_SESSION: 'SHADOWNET_ERR_SHADOW_INVALID_SESSION',
} as const;
export type PolicyErrorCode = (typeof PolicyErrorCode)[keyof typeof PolicyErrorCode];

/** A session that cannot be compiled; `path` names the field, e.g. `sessions[2].rules[0].sourceRoute.ipSet`. */
export class PolicyError extends ShadownetError {
  constructor(
    readonly path: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(PolicyErrorCode.INVALID_SESSION, `${path}: ${reason}`, options);
    this.name = 'PolicyError';
  }
}

/** What compilation needs to know about a virtual network (a `vnets[]` entry of the config fits). */
export interface PolicyVnet {
  readonly name: string;
  /** Default scope of its sessions. */
  readonly cidrs: readonly string[];
  readonly prefixTags?: readonly { readonly prefix: string; readonly tags: Readonly<Record<string, string | boolean | number>> }[];
}

export interface PolicyContext {
  readonly vnets: readonly PolicyVnet[];
  /** The routing fact table of each virtual network that has sessions with route conditions. */
  readonly facts: ReadonlyMap<string, RouteFactTable>;
  readonly ipSets: IpSetRegistry;
}

/** Direction of a rule. */
export const RuleDirection = { ANY: 0, INGRESS: 1, EGRESS: 2 } as const;
export type RuleDirection = (typeof RuleDirection)[keyof typeof RuleDirection];

/** Address lists in word form: IPv4 as (net, mask) pairs, IPv6 as (4 net words, 4 mask words). */
export class AddressList {
  readonly v4: Int32Array;
  readonly v6: Int32Array;
  constructor(prefixes: readonly Prefix[]) {
    const p4 = prefixes.filter((p) => p.afi === Afi.IPV4);
    const p6 = prefixes.filter((p) => p.afi === Afi.IPV6);
    this.v4 = new Int32Array(p4.length * 2);
    p4.forEach((p, i) => {
      const m = mask4(p.length);
      this.v4[i * 2] = readWord(p.address, 0) & m;
      this.v4[i * 2 + 1] = m;
    });
    this.v6 = new Int32Array(p6.length * 8);
    p6.forEach((p, i) => {
      for (let w = 0; w < 4; w++) {
        const bits = Math.min(32, Math.max(0, p.length - w * 32));
        const m = bits === 0 ? 0 : (-1 << (32 - bits)) | 0;
        this.v6[i * 8 + w] = readWord(p.address, w * 4) & m;
        this.v6[i * 8 + 4 + w] = m;
      }
    });
  }

  has4(a: number): boolean {
    const l = this.v4;
    for (let i = 0; i < l.length; i += 2) if ((a & l[i + 1]) === l[i]) return true;
    return false;
  }

  has6(a: number, b: number, c: number, d: number): boolean {
    const l = this.v6;
    for (let i = 0; i < l.length; i += 8) {
      if ((a & l[i + 4]) === l[i] && (b & l[i + 5]) === l[i + 1] && (c & l[i + 6]) === l[i + 2] && (d & l[i + 7]) === l[i + 3]) return true;
    }
    return false;
  }
}

/** The routing-fact part of a rule for one side (source or destination). */
export class RouteMatchProgram {
  /** 1: must have no route; 0: must have a route; -1: either. */
  noRoute = -1;
  /** Condition bit in the fact table (-1: none). */
  factBit = -1;
  factWord = 0;
  factMask = 0;
  /** Route announced within this many ms (-1: no condition). */
  withinMs = -1;
  /** Bit in the network's tag facts (-1: none). */
  tagBit = -1;
  tagWord = 0;
  tagMask = 0;
  /** IP set id (-1: none). */
  ipSet = -1;
}

export class CompiledRule {
  constructor(
    /** Local session slot within its network (priority order). */
    readonly slot: number,
    readonly accept: boolean,
    readonly direction: RuleDirection,
    /** null: any source. */
    readonly source: AddressList | null,
    readonly destination: AddressList | null,
    readonly sourceRoute: RouteMatchProgram | null,
    readonly destinationRoute: RouteMatchProgram | null,
  ) {}
}

/** A session as compiled; `index` is its position in the list given to the compiler. */
export interface CompiledSession {
  readonly index: number;
  readonly name: string;
  readonly vnet: string;
  readonly priority: number;
  readonly target: string;
  readonly vni: number;
  /** Bytes to keep of each copy (0: whole packet). */
  readonly truncate: number;
  readonly sample: { readonly oneIn: number; readonly perFlow: boolean } | undefined;
  readonly budget: { readonly bitsPerSecond?: number; readonly packetsPerSecond?: number; readonly burstSeconds: number } | undefined;
  readonly enabled: boolean;
  readonly config: MirrorSessionConfig;
}

/** Everything a network's sessions compile to. */
export interface CompiledVnet {
  readonly name: string;
  /** Enabled sessions in evaluation order (ascending priority). */
  readonly sessions: readonly CompiledSession[];
  /** Rules in evaluation order; rule r belongs to `sessions[rules[r].slot]`. */
  readonly rules: readonly CompiledRule[];
  /** Index past the last rule of each slot. */
  readonly slotEnd: Int32Array;
  /** Scope of each slot (index into `scopes`). */
  readonly slotScope: Int32Array;
  readonly scopes: readonly AddressList[];
  /** 32-bit words per rule vector. */
  readonly words: number;
  /** Rules allowing IP protocol p: `protoMasks[p * words + w]`. */
  readonly protoMasks: Uint32Array;
  /** Port → class; class vectors of the rules the port satisfies. */
  readonly srcPortClass: Uint16Array;
  readonly srcPortMasks: Uint32Array;
  readonly dstPortClass: Uint16Array;
  readonly dstPortMasks: Uint32Array;
  /** Rules with no port range, for packets without ports (later fragments, other protocols). */
  readonly noPortMask: Uint32Array;
  readonly facts: RouteFactTable | null;
  readonly tagTable: StaticPrefixTable | null;
  /** Tag condition bits of each prefix-tag entry: `tagFacts[entry * tagWords + w]`. */
  readonly tagFacts: Uint32Array;
  readonly tagWords: number;
}

/** The result of {@link compilePolicy}. */
export interface CompiledPolicy {
  /** Every session, in the order given. */
  readonly sessions: readonly CompiledSession[];
  readonly vnets: ReadonlyMap<string, CompiledVnet>;
  readonly ipSets: IpSetRegistry;
  /** Return the condition bits this policy holds in the fact tables (call once it is no longer used). */
  release(): void;
}

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 };

/**
 * Compile sessions. Throws {@link PolicyError} naming the field when a
 * session names an unknown virtual network or IP set, a port range without
 * tcp/udp, a prefix that does not parse, or an AS-path expression that is
 * not a regular expression. The fact tables get the condition bits at once;
 * call `release()` on the policy this one replaces.
 */
export function compilePolicy(sessions: readonly MirrorSessionConfig[], ctx: PolicyContext): CompiledPolicy {
  const acquired: { table: RouteFactTable; bit: number }[] = [];
  const compiled: CompiledSession[] = sessions.map((s, i) => ({
    index: i,
    name: s.name,
    vnet: s.vnet,
    priority: s.priority,
    target: s.target,
    vni: s.vni ?? 1000 + i,
    truncate: s.truncate ?? 0,
    sample: s.sample,
    budget: s.budget,
    enabled: s.enabled !== false,
    config: s,
  }));
  const vnets = new Map<string, CompiledVnet>();
  try {
    const byVnet = new Map<string, CompiledSession[]>();
    compiled.forEach((s) => {
      const vn = ctx.vnets.find((v) => v.name === s.vnet);
      if (!vn) throw new PolicyError(`sessions[${s.index}].vnet`, `no virtual network named "${s.vnet}"`);
      if (!s.enabled) return;
      let list = byVnet.get(s.vnet);
      if (!list) byVnet.set(s.vnet, (list = []));
      list.push(s);
    });
    for (const [name, list] of byVnet) {
      const vn = ctx.vnets.find((v) => v.name === name)!;
      list.sort((a, b) => a.priority - b.priority || a.index - b.index);
      vnets.set(name, compileVnet(vn, list, ctx, acquired));
    }
  } catch (err) {
    for (const a of acquired) a.table.releaseCondition(a.bit);
    throw err;
  }
  let released = false;
  return {
    sessions: compiled,
    vnets,
    ipSets: ctx.ipSets,
    release() {
      if (released) return;
      released = true;
      for (const a of acquired) a.table.releaseCondition(a.bit);
    },
  };
}

function parseList(list: readonly string[], path: string): Prefix[] {
  return list.map((t, i) => {
    try {
      return parsePrefix(t);
    } catch (err) {
      throw new PolicyError(`${path}[${i}]`, err instanceof Error ? err.message : String(err), { cause: err });
    }
  });
}

function compileVnet(vn: PolicyVnet, sessions: CompiledSession[], ctx: PolicyContext, acquired: { table: RouteFactTable; bit: number }[]): CompiledVnet {
  const facts = ctx.facts.get(vn.name) ?? null;
  // Scopes, shared by identical lists.
  const scopeKeys = new Map<string, number>();
  const scopes: AddressList[] = [];
  const slotScope = new Int32Array(sessions.length);
  // Tag conditions of this network.
  const tagConds: Record<string, string | boolean | number>[] = [];
  const tagKeys = new Map<string, number>();

  const rules: CompiledRule[] = [];
  const ruleConfigs: MirrorRuleConfig[] = [];
  const slotEnd = new Int32Array(sessions.length);
  sessions.forEach((s, slot) => {
    const sp = `sessions[${s.index}]`;
    const scopeText = s.config.scope ?? vn.cidrs;
    const key = [...scopeText].sort().join(',');
    let sid = scopeKeys.get(key);
    if (sid === undefined) {
      sid = scopes.length;
      scopes.push(new AddressList(parseList(scopeText, s.config.scope ? `${sp}.scope` : `vnets.${vn.name}.cidrs`)));
      scopeKeys.set(key, sid);
    }
    slotScope[slot] = sid;
    s.config.rules.forEach((r, ri) => {
      const rp = `${sp}.rules[${ri}]`;
      const proto = protocolNumber(r.protocol);
      if ((r.sourcePorts || r.destinationPorts) && proto !== 6 && proto !== 17) {
        throw new PolicyError(`${rp}.protocol`, 'port ranges need protocol tcp or udp');
      }
      const side = (m: RouteMatchConfig | undefined, which: string): RouteMatchProgram | null => {
        if (!m) return null;
        return compileRouteMatch(m, `${rp}.${which}`, facts, ctx.ipSets, acquired, (tags) => {
          const k = tagKey(tags);
          let bit = tagKeys.get(k);
          if (bit === undefined) {
            bit = tagConds.length;
            tagConds.push(tags);
            tagKeys.set(k, bit);
          }
          return bit;
        });
      };
      rules.push(
        new CompiledRule(
          slot,
          r.action === 'accept',
          r.direction === 'ingress' ? RuleDirection.INGRESS : r.direction === 'egress' ? RuleDirection.EGRESS : RuleDirection.ANY,
          r.source ? new AddressList(parseList(r.source, `${rp}.source`)) : null,
          r.destination ? new AddressList(parseList(r.destination, `${rp}.destination`)) : null,
          side(r.sourceRoute, 'sourceRoute'),
          side(r.destinationRoute, 'destinationRoute'),
        ),
      );
      ruleConfigs.push(r);
    });
    slotEnd[slot] = rules.length;
  });

  const words = Math.max(1, Math.ceil(rules.length / 32));
  const setBit = (v: Uint32Array, base: number, r: number): void => {
    v[base + (r >>> 5)] |= 1 << (r & 31);
  };
  const protoMasks = new Uint32Array(256 * words);
  const noPortMask = new Uint32Array(words);
  ruleConfigs.forEach((r, i) => {
    const proto = protocolNumber(r.protocol);
    for (let p = 0; p < 256; p++) if (proto < 0 || proto === p) setBit(protoMasks, p * words, i);
    if (!r.sourcePorts && !r.destinationPorts) setBit(noPortMask, 0, i);
  });
  const [srcPortClass, srcPortMasks] = portClasses(ruleConfigs.map((r) => r.sourcePorts), words);
  const [dstPortClass, dstPortMasks] = portClasses(ruleConfigs.map((r) => r.destinationPorts), words);

  // Prefix tags: an entry meets a tag condition when it, or a tagged prefix covering it, has all the tags.
  let tagTable: StaticPrefixTable | null = null;
  const tagWords = Math.max(1, Math.ceil(tagConds.length / 32));
  let tagFacts = new Uint32Array(0);
  if (tagConds.length > 0 && vn.prefixTags && vn.prefixTags.length > 0) {
    const entries = vn.prefixTags.map((t, i) => ({ prefix: parsePrefix(t.prefix, false), tags: t.tags, value: i }));
    tagTable = new StaticPrefixTable(entries);
    tagFacts = new Uint32Array(entries.length * tagWords);
    entries.forEach((e, i) => {
      const covering = entries.filter((o) => o.prefix.afi === e.prefix.afi && o.prefix.length <= e.prefix.length && prefixCovers(o.prefix, e.prefix));
      tagConds.forEach((cond, bit) => {
        if (covering.some((o) => hasTags(o.tags, cond))) tagFacts[i * tagWords + (bit >>> 5)] |= 1 << (bit & 31);
      });
    });
  }

  return {
    name: vn.name,
    sessions,
    rules,
    slotEnd,
    slotScope,
    scopes,
    words,
    protoMasks,
    srcPortClass,
    srcPortMasks,
    dstPortClass,
    dstPortMasks,
    noPortMask,
    facts,
    tagTable,
    tagFacts,
    tagWords,
  };
}

function prefixCovers(outer: Prefix, inner: Prefix): boolean {
  const full = outer.length >> 3;
  for (let i = 0; i < full; i++) if (outer.address[i] !== inner.address[i]) return false;
  const rem = outer.length & 7;
  if (rem === 0) return true;
  const m = (0xff << (8 - rem)) & 0xff;
  return (inner.address[full] & m) === outer.address[full];
}

function tagKey(tags: Record<string, string | boolean | number>): string {
  return JSON.stringify(Object.keys(tags).sort().map((k) => [k, String(tags[k])]));
}

/** Tag values compare as text: `critical: true` matches `critical: "true"`. */
function hasTags(have: Readonly<Record<string, string | boolean | number>>, want: Record<string, string | boolean | number>): boolean {
  for (const k of Object.keys(want)) if (!(k in have) || String(have[k]) !== String(want[k])) return false;
  return true;
}

function protocolNumber(p: MirrorRuleConfig['protocol'] | undefined): number {
  if (p === undefined || p === 'any') return -1;
  if (typeof p === 'number') return p;
  return PROTOCOLS[p] ?? -1;
}

/** Ports → class ids, and per class the vector of rules whose range (or absence of one) allows the port. */
function portClasses(ranges: readonly ({ from: number; to: number } | undefined)[], words: number): [Uint16Array, Uint32Array] {
  const cuts = new Set<number>([0]);
  for (const r of ranges) {
    if (!r) continue;
    cuts.add(r.from);
    if (r.to + 1 <= 65535) cuts.add(r.to + 1);
  }
  const starts = [...cuts].sort((a, b) => a - b);
  const cls = new Uint16Array(65536);
  const vectors: Uint32Array[] = [];
  const byKey = new Map<string, number>();
  starts.forEach((start, si) => {
    const end = si + 1 < starts.length ? starts[si + 1] : 65536;
    const v = new Uint32Array(words);
    ranges.forEach((r, i) => {
      if (!r || (start >= r.from && start <= r.to)) v[i >>> 5] |= 1 << (i & 31);
    });
    const key = v.join(',');
    let c = byKey.get(key);
    if (c === undefined) {
      c = vectors.length;
      vectors.push(v);
      byKey.set(key, c);
    }
    cls.fill(c, start, end);
  });
  const masks = new Uint32Array(vectors.length * words);
  vectors.forEach((v, c) => masks.set(v, c * words));
  return [cls, masks];
}

function compileRouteMatch(
  m: RouteMatchConfig,
  path: string,
  facts: RouteFactTable | null,
  ipSets: IpSetRegistry,
  acquired: { table: RouteFactTable; bit: number }[],
  tagBit: (tags: Record<string, string | boolean | number>) => number,
): RouteMatchProgram {
  const p = new RouteMatchProgram();
  if (m.noRoute !== undefined) p.noRoute = m.noRoute ? 1 : 0;
  const needsTable = m.noRoute !== undefined || m.announcedWithin !== undefined || pathConditionKey(m) !== null;
  if (needsTable && !facts) throw new PolicyError(path, 'the virtual network has no routing fact table to match routes against');
  const key = pathConditionKey(m);
  if (key !== null) {
    const test = pathPredicate(m, path);
    const bit = facts!.acquireCondition(key, test);
    acquired.push({ table: facts!, bit });
    p.factBit = bit;
    p.factWord = bit >>> 5;
    p.factMask = 1 << (bit & 31);
  }
  if (m.announcedWithin !== undefined) p.withinMs = m.announcedWithin * 1000;
  if (m.tags !== undefined && Object.keys(m.tags).length > 0) {
    const bit = tagBit(m.tags);
    p.tagBit = bit;
    p.tagWord = bit >>> 5;
    p.tagMask = 1 << (bit & 31);
  }
  if (m.ipSet !== undefined) {
    const id = ipSets.id(m.ipSet);
    if (id < 0) throw new PolicyError(`${path}.ipSet`, `no IP set named "${m.ipSet}" (known: ${ipSets.names.join(', ') || 'none'})`);
    p.ipSet = id;
  }
  return p;
}

/** Canonical key of the attribute conditions of a route match, or null when it has none. */
export function pathConditionKey(m: RouteMatchConfig): string | null {
  const parts: [string, unknown][] = [];
  if (m.originAs) parts.push(['originAs', [...m.originAs].sort((a, b) => a - b)]);
  if (m.asPath !== undefined) parts.push(['asPath', m.asPath]);
  if (m.community) parts.push(['community', [...m.community].sort()]);
  if (m.largeCommunity) parts.push(['largeCommunity', [...m.largeCommunity].sort()]);
  if (m.peer) parts.push(['peer', m.peer.map(canonicalAddress).sort()]);
  if (m.nextHop) parts.push(['nextHop', m.nextHop.map(canonicalAddress).sort()]);
  return parts.length === 0 ? null : JSON.stringify(parts);
}

/**
 * The origin AS of a path: the last ASN of a final AS_SEQUENCE (or of a
 * one-member AS_SET); for an empty AS path (a route from our own AS) the
 * peer's AS. Undefined when the path ends with a larger AS_SET.
 */
export function originAsOf(p: PathSummary): number | undefined {
  const segs = p.attributes.asPath;
  for (let i = segs.length - 1; i >= 0; i--) {
    const s = segs[i];
    if (s.asns.length === 0) continue;
    // Confederation segments are local to the confederation and do not name an origin (RFC 5065 §5.3).
    if (s.type === 3 || s.type === 4) continue;
    if (s.type === 1) return s.asns.length === 1 ? s.asns[0] : undefined;
    return s.asns[s.asns.length - 1];
  }
  return p.peerAs;
}

/**
 * The test of the attribute conditions of a route match; all given
 * conditions must hold. Communities and large communities match when the
 * path carries any of those listed ("*" matches any part). `asPath` is
 * matched against the AS path text ("65001 65010 {65020,65021}") with "_"
 * standing for a boundary (start, end, space, brace or comma), as on routers.
 */
export function pathPredicate(m: RouteMatchConfig, path = 'route'): (p: PathSummary) => boolean {
  const origins = m.originAs ? new Set(m.originAs) : null;
  let re: RegExp | null = null;
  if (m.asPath !== undefined) {
    try {
      re = new RegExp(m.asPath.replace(/_/g, '(?:^|$|[ {},()\\[\\]])'));
    } catch (err) {
      throw new PolicyError(`${path}.asPath`, 'expected a valid regular expression', { cause: err });
    }
  }
  const comms = m.community?.map((c) => c.split(':').map((x) => (x === '*' ? -1 : Number(x))));
  const larges = m.largeCommunity?.map((c) => c.split(':').map((x) => (x === '*' ? -1 : Number(x))));
  const peers = m.peer ? new Set(m.peer.map(canonicalAddress)) : null;
  const nextHops = m.nextHop ? new Set(m.nextHop.map(canonicalAddress)) : null;
  return (p) => {
    const a = p.attributes;
    if (origins) {
      const o = originAsOf(p);
      if (o === undefined || !origins.has(o)) return false;
    }
    if (re && !re.test(formatAsPath(a.asPath))) return false;
    if (comms) {
      const ok = a.communities.some((c) => {
        const hi = c >>> 16;
        const lo = c & 0xffff;
        return comms.some(([h, l]) => (h < 0 || h === hi) && (l < 0 || l === lo));
      });
      if (!ok) return false;
    }
    if (larges) {
      const ok = a.largeCommunities.some(([g, l1, l2]) =>
        larges.some(([x, y, z]) => (x < 0 || x === g) && (y < 0 || y === l1) && (z < 0 || z === l2)),
      );
      if (!ok) return false;
    }
    if (peers && !peers.has(canonicalAddress(p.peer))) return false;
    if (nextHops && (a.nextHop === null || !nextHops.has(canonicalAddress(a.nextHop)))) return false;
    return true;
  };
}

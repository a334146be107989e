/**
 * Per-packet evaluation of compiled mirror sessions.
 *
 * Semantics, for a packet of virtual network V at batch time T:
 * - only V's enabled sessions are evaluated, in ascending priority (equal
 *   priorities in the order the sessions were given);
 * - a session sees the packet when its source or its destination lies in the
 *   session's scope (default: V's CIDRs). Relative to the scope the packet is
 *   *egress* when its source is in scope and *ingress* when its destination
 *   is; traffic between two in-scope addresses is both. A rule with
 *   `direction: ingress` needs the destination in scope, `egress` the source,
 *   `any` either;
 * - the session's rules are evaluated in order and the first rule whose every
 *   condition holds decides: `accept` copies the packet, `reject` ends the
 *   session's evaluation without copying. No matching rule: the session does
 *   not copy it. Then the next session is tried;
 * - the first session that accepts copies the packet; a packet is copied at
 *   most once. {@link VnetClassifier.classify} returns that session's index
 *   (position in the list compiled) or -1;
 * - conditions of a rule: protocol (`any` or a number; icmp = 1, icmpv6 = 58,
 *   the IPv6 upper-layer protocol after extension headers); source and
 *   destination CIDR lists (any listed prefix; a rule listing only IPv4
 *   prefixes does not match IPv6 packets); port ranges. Packets without ports
 *   — later IP fragments, truncated transport headers, protocols other than
 *   TCP/UDP — never match a rule that has a port range; the first fragment
 *   does;
 * - `sourceRoute` / `destinationRoute` look the address up in V's routing
 *   fact table (the best path of the longest matching prefix): `originAs`,
 *   `asPath`, `community`, `largeCommunity`, `peer`, `nextHop` need a route
 *   that carries them; `noRoute: true` needs no route, `false` a route
 *   (V's own CIDRs and subnets are local routes: routed, without facts);
 *   `announcedWithin` needs a route whose best path was installed at most
 *   that long before T (a route installed after T counts as age 0);
 *   `tags` need the address inside a prefix of V's `prefixTags` carrying all
 *   those tags (values compare as text); `ipSet` needs the address in the
 *   named IP set as it is at that moment. All given conditions must hold.
 *
 * Routing changes reach the classifier through the fact tables: commit them
 * between batches. A new session list is compiled into a new Classifier and
 * swapped in between batches; `release()` the old one afterwards.
 */
import type { PacketView } from '../wire/dissect.js';
import type { MirrorSessionConfig } from '../vnet/config.js';
import { readWord, type RouteFactTable } from './fact-table.js';
import type { IpSetRegistry } from './ipset.js';
import { compilePolicy, RuleDirection, type AddressList, type CompiledPolicy, type CompiledSession, type CompiledVnet, type PolicyContext, type RouteMatchProgram } from './policy.js';

const LATER_FRAGMENT = 2;
const UNKNOWN = -2;

/**
 * Rule vectors of the conditions on one side (source or destination) of a
 * packet, so that a condition is evaluated once per packet and every rule it
 * fails is struck off the candidates at once (a rule passes only when all its
 * conditions hold, so striking the rules of a failed condition never changes
 * which rule decides).
 */
class SideConditions {
  /** Rules with a condition needing the route table (route presence or absence, facts, age). */
  readonly route: Int32Array;
  /** Rules failing when the address has no route (`noRoute: false`, facts, age). */
  readonly needRoute: Int32Array;
  /** Rules failing when the address has a route (`noRoute: true`). */
  readonly needNoRoute: Int32Array;
  readonly factWord: Int32Array;
  readonly factMask: Int32Array;
  /** Rules of each distinct fact condition: `factRules[i * words + w]`. */
  readonly factRules: Int32Array;
  readonly withinMs: Float64Array;
  readonly withinRules: Int32Array;
  /** Rules with a tag condition. */
  readonly tag: Int32Array;
  readonly tagWord: Int32Array;
  readonly tagMask: Int32Array;
  readonly tagRules: Int32Array;
  /** Rules with an IP set condition. */
  readonly ipSet: Int32Array;
  readonly ipSetId: Int32Array;
  readonly ipSetRules: Int32Array;

  constructor(programs: readonly (RouteMatchProgram | null)[], words: number, useFacts: boolean) {
    const W = words;
    const vec = (): Int32Array => new Int32Array(W);
    const set = (v: Int32Array, base: number, r: number): void => {
      v[base + (r >>> 5)] |= 1 << (r & 31);
    };
    this.route = vec();
    this.needRoute = vec();
    this.needNoRoute = vec();
    this.tag = vec();
    this.ipSet = vec();
    const facts = new Map<string, number[]>();
    const within = new Map<number, number[]>();
    const tags = new Map<string, number[]>();
    const sets = new Map<number, number[]>();
    const add = <K>(m: Map<K, number[]>, k: K, r: number): void => {
      const l = m.get(k);
      if (l) l.push(r);
      else m.set(k, [r]);
    };
    programs.forEach((m, r) => {
      if (m === null) return;
      if (useFacts && (m.noRoute >= 0 || m.factMask !== 0 || m.withinMs >= 0)) {
        set(this.route, 0, r);
        if (m.noRoute === 1) set(this.needNoRoute, 0, r);
        if (m.noRoute === 0 || m.factMask !== 0 || m.withinMs >= 0) set(this.needRoute, 0, r);
        if (m.factMask !== 0) add(facts, `${m.factWord}:${m.factMask}`, r);
        if (m.withinMs >= 0) add(within, m.withinMs, r);
      }
      if (m.tagMask !== 0) {
        set(this.tag, 0, r);
        add(tags, `${m.tagWord}:${m.tagMask}`, r);
      }
      if (m.ipSet >= 0) {
        set(this.ipSet, 0, r);
        add(sets, m.ipSet, r);
      }
    });
    const rulesOf = (lists: number[][]): Int32Array => {
      const v = new Int32Array(lists.length * W);
      lists.forEach((l, i) => l.forEach((r) => set(v, i * W, r)));
      return v;
    };
    const fk = [...facts.keys()];
    this.factWord = Int32Array.from(fk, (k) => Number(k.split(':')[0]));
    this.factMask = Int32Array.from(fk, (k) => Number(k.split(':')[1]));
    this.factRules = rulesOf([...facts.values()]);
    this.withinMs = Float64Array.from(within.keys());
    this.withinRules = rulesOf([...within.values()]);
    const tk = [...tags.keys()];
    this.tagWord = Int32Array.from(tk, (k) => Number(k.split(':')[0]));
    this.tagMask = Int32Array.from(tk, (k) => Number(k.split(':')[1]));
    this.tagRules = rulesOf([...tags.values()]);
    this.ipSetId = Int32Array.from(sets.keys());
    this.ipSetRules = rulesOf([...sets.values()]);
  }
}

/** Classifies the packets of one virtual network. Keeps per-packet scratch state: one per thread of evaluation. */
export class VnetClassifier {
  readonly vnet: string;
  readonly #c: CompiledVnet;
  readonly #ipSets: IpSetRegistry;
  readonly #words: number;
  // Rules as flat arrays.
  readonly #ruleSlot: Int32Array;
  readonly #ruleAccept: Uint8Array;
  readonly #ruleSource: (AddressList | null)[];
  readonly #ruleDestination: (AddressList | null)[];
  readonly #slotIndex: Int32Array;
  readonly #slotEnd: Int32Array;
  // Scopes: rules of each scope, and those of them needing the source (egress) or destination (ingress) in it.
  readonly #scopes: readonly AddressList[];
  readonly #scopeRules: Int32Array;
  readonly #scopeIngress: Int32Array;
  readonly #scopeEgress: Int32Array;
  readonly #srcConds: SideConditions;
  readonly #dstConds: SideConditions;
  readonly #cand: Int32Array;
  /** Port → class, in bytes when the classes fit (a smaller table stays in cache); null when every port has class 0. */
  readonly #srcPortClass: Uint8Array | Uint16Array | null;
  readonly #dstPortClass: Uint8Array | Uint16Array | null;
  // Per-packet state.
  #v6 = false;
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  #d0 = 0;
  #d1 = 0;
  #d2 = 0;
  #d3 = 0;
  #srcRoute = UNKNOWN;
  #dstRoute = UNKNOWN;

  constructor(compiled: CompiledVnet, ipSets: IpSetRegistry) {
    this.vnet = compiled.name;
    this.#c = compiled;
    this.#ipSets = ipSets;
    const W = (this.#words = compiled.words);
    const rules = compiled.rules;
    this.#ruleSlot = Int32Array.from(rules, (r) => r.slot);
    this.#ruleAccept = Uint8Array.from(rules, (r) => (r.accept ? 1 : 0));
    this.#ruleSource = rules.map((r) => r.source);
    this.#ruleDestination = rules.map((r) => r.destination);
    this.#slotIndex = Int32Array.from(compiled.sessions, (s) => s.index);
    this.#slotEnd = compiled.slotEnd;
    this.#scopes = compiled.scopes;
    const n = compiled.scopes.length;
    this.#scopeRules = new Int32Array(n * W);
    this.#scopeIngress = new Int32Array(n * W);
    this.#scopeEgress = new Int32Array(n * W);
    rules.forEach((r, i) => {
      const base = compiled.slotScope[r.slot] * W + (i >>> 5);
      const bit = 1 << (i & 31);
      this.#scopeRules[base] |= bit;
      if (r.direction === RuleDirection.INGRESS) this.#scopeIngress[base] |= bit;
      if (r.direction === RuleDirection.EGRESS) this.#scopeEgress[base] |= bit;
    });
    const useFacts = compiled.facts !== null;
    this.#srcConds = new SideConditions(rules.map((r) => r.sourceRoute), W, useFacts);
    this.#dstConds = new SideConditions(rules.map((r) => r.destinationRoute), W, useFacts);
    this.#cand = new Int32Array(W);
    this.#srcPortClass = compactClasses(compiled.srcPortClass);
    this.#dstPortClass = compactClasses(compiled.dstPortClass);
  }

  /**
   * Index of the session that copies the packet dissected into `view` (the
   * bytes in `data`, needed for IPv6 addresses), or -1. `timeMs` is the batch
   * time (ms since the epoch) against which route ages are judged. Packets
   * that are not IPv4/IPv6 are never copied. Allocates nothing.
   */
  classify(view: PacketView, data: Uint8Array, timeMs: number): number {
    const c = this.#c;
    const ver = view.ipVersion;
    this.#srcRoute = UNKNOWN;
    this.#dstRoute = UNKNOWN;
    if (ver === 4) {
      this.#v6 = false;
      this.#s0 = view.src4 | 0;
      this.#d0 = view.dst4 | 0;
    } else if (ver === 6) {
      this.#v6 = true;
      const so = view.src6Offset;
      const dof = view.dst6Offset;
      this.#s0 = readWord(data, so);
      this.#s1 = readWord(data, so + 4);
      this.#s2 = readWord(data, so + 8);
      this.#s3 = readWord(data, so + 12);
      this.#d0 = readWord(data, dof);
      this.#d1 = readWord(data, dof + 4);
      this.#d2 = readWord(data, dof + 8);
      this.#d3 = readWord(data, dof + 12);
    } else return -1;

    // Candidate rules: those whose protocol and port conditions the packet meets.
    const W = this.#words;
    const cand = this.#cand;
    const proto = view.protocol & 0xff;
    const pm = c.protoMasks;
    const hasPorts = (proto === 6 || proto === 17) && view.l4Offset !== 0 && view.fragment !== LATER_FRAGMENT;
    let any = 0;
    if (hasPorts) {
      const spc = this.#srcPortClass;
      const dpc = this.#dstPortClass;
      const sb = spc === null ? 0 : spc[view.srcPort & 0xffff] * W;
      const db = dpc === null ? 0 : dpc[view.dstPort & 0xffff] * W;
      const sm = c.srcPortMasks;
      const dm = c.dstPortMasks;
      for (let w = 0; w < W; w++) any |= cand[w] = pm[proto * W + w] & sm[sb + w] & dm[db + w];
    } else {
      const nm = c.noPortMask;
      for (let w = 0; w < W; w++) any |= cand[w] = pm[proto * W + w] & nm[w];
    }
    if (any === 0) return -1;

    // Scopes and directions.
    const scopes = this.#scopes;
    const sr = this.#scopeRules;
    for (let sid = 0; sid < scopes.length; sid++) {
      const base = sid * W;
      if (!intersects(cand, sr, base, W)) continue;
      const s = scopes[sid];
      const srcIn = this.#v6 ? s.has6(this.#s0, this.#s1, this.#s2, this.#s3) : s.has4(this.#s0);
      const dstIn = this.#v6 ? s.has6(this.#d0, this.#d1, this.#d2, this.#d3) : s.has4(this.#d0);
      if (!srcIn && !dstIn) clear(cand, sr, base, W);
      else if (!dstIn) clear(cand, this.#scopeIngress, base, W);
      else if (!srcIn) clear(cand, this.#scopeEgress, base, W);
    }

    // Routing facts, tags and IP sets, once per side.
    if (!this.#side(this.#srcConds, true, timeMs)) return -1;
    if (!this.#side(this.#dstConds, false, timeMs)) return -1;

    // What is left: address lists, then the first deciding rule.
    const ruleSlot = this.#ruleSlot;
    const sources = this.#ruleSource;
    const destinations = this.#ruleDestination;
    let skipUntil = 0;
    for (let w = 0; w < W; w++) {
      let bits = cand[w];
      while (bits !== 0) {
        const low = bits & -bits;
        const r = (w << 5) + 31 - Math.clz32(low);
        bits ^= low;
        if (r < skipUntil) continue;
        const src = sources[r];
        if (src !== null && !(this.#v6 ? src.has6(this.#s0, this.#s1, this.#s2, this.#s3) : src.has4(this.#s0))) continue;
        const dst = destinations[r];
        if (dst !== null && !(this.#v6 ? dst.has6(this.#d0, this.#d1, this.#d2, this.#d3) : dst.has4(this.#d0))) continue;
        const slot = ruleSlot[r];
        if (this.#ruleAccept[r] === 1) return this.#slotIndex[slot];
        skipUntil = this.#slotEnd[slot];
      }
    }
    return -1;
  }

  /**
   * Route index (0: none) of the source (`src`) or destination of the packet
   * last classified, in table `t`: the one looked up during classification
   * when it was needed and `t` is this network's fact table, else looked up
   * now. Only after `classify` of an IPv4/IPv6 packet.
   */
  lastRoute(t: RouteFactTable, src: boolean): number {
    if (t === this.#c.facts) {
      const r = src ? this.#srcRoute : this.#dstRoute;
      if (r !== UNKNOWN) return r;
    }
    return this.#lookupRoute(t, src);
  }

  /**
   * Whether the route-age conditions (`announcedWithin`) judge route `route`
   * of this network's table the same at every time in [fromMs, toMs]: no
   * age limit is crossed in between. With the route table unchanged,
   * classification of a five-tuple then gives one answer over the span.
   */
  ageSteady(route: number, fromMs: number, toMs: number): boolean {
    const t = this.#c.facts;
    if (t === null || route <= 0) return true;
    const at = t.routeMeta[route * 2 + 1];
    for (const wm of [this.#srcConds.withinMs, this.#dstConds.withinMs])
      for (let i = 0; i < wm.length; i++) if (fromMs - at > wm[i] !== toMs - at > wm[i]) return false;
    return true;
  }

  #lookupRoute(t: RouteFactTable, src: boolean): number {
    if (this.#v6) return src ? t.lookup6Words(this.#s0, this.#s1, this.#s2, this.#s3) : t.lookup6Words(this.#d0, this.#d1, this.#d2, this.#d3);
    return t.lookup4((src ? this.#s0 : this.#d0) >>> 0);
  }

  /** Strike off the candidates failing a condition on one side; false when none is left. */
  #side(k: SideConditions, src: boolean, timeMs: number): boolean {
    const W = this.#words;
    const cand = this.#cand;
    const t = this.#c.facts;
    if (t !== null && intersects(cand, k.route, 0, W)) {
      const r = this.#lookupRoute(t, src);
      if (src) this.#srcRoute = r;
      else this.#dstRoute = r;
      if (r === 0) clear(cand, k.needRoute, 0, W);
      else {
        clear(cand, k.needNoRoute, 0, W);
        const meta = t.routeMeta;
        const fw = k.factWord;
        if (fw.length > 0) {
          const facts = t.facts;
          const base = meta[r * 2] * t.factWords;
          const fm = k.factMask;
          for (let i = 0; i < fw.length; i++) if ((facts[base + fw[i]] & fm[i]) === 0) clear(cand, k.factRules, i * W, W);
        }
        const wm = k.withinMs;
        if (wm.length > 0) {
          const age = timeMs - meta[r * 2 + 1];
          for (let i = 0; i < wm.length; i++) if (age > wm[i]) clear(cand, k.withinRules, i * W, W);
        }
      }
    }
    if (intersects(cand, k.tag, 0, W)) {
      const tt = this.#c.tagTable;
      let e = -1;
      if (tt !== null) {
        if (this.#v6) e = src ? tt.lookup6Words(this.#s0, this.#s1, this.#s2, this.#s3) : tt.lookup6Words(this.#d0, this.#d1, this.#d2, this.#d3);
        else e = tt.lookup4(src ? this.#s0 : this.#d0);
      }
      if (e < 0) clear(cand, k.tag, 0, W);
      else {
        const tf = this.#c.tagFacts;
        const base = e * this.#c.tagWords;
        const tw = k.tagWord;
        const tm = k.tagMask;
        for (let i = 0; i < tw.length; i++) if ((tf[base + tw[i]] & tm[i]) === 0) clear(cand, k.tagRules, i * W, W);
      }
    }
    if (intersects(cand, k.ipSet, 0, W)) {
      const sets = this.#ipSets;
      const ids = k.ipSetId;
      for (let i = 0; i < ids.length; i++) {
        if (!intersects(cand, k.ipSetRules, i * W, W)) continue;
        const inSet = this.#v6
          ? src
            ? sets.contains6Words(ids[i], this.#s0, this.#s1, this.#s2, this.#s3)
            : sets.contains6Words(ids[i], this.#d0, this.#d1, this.#d2, this.#d3)
          : sets.contains4(ids[i], (src ? this.#s0 : this.#d0) >>> 0);
        if (!inSet) clear(cand, k.ipSetRules, i * W, W);
      }
    }
    let any = 0;
    for (let w = 0; w < W; w++) any |= cand[w];
    return any !== 0;
  }
}

function compactClasses(cls: Uint16Array): Uint8Array | Uint16Array | null {
  let max = 0;
  for (let i = 0; i < cls.length; i++) if (cls[i] > max) max = cls[i];
  if (max === 0) return null;
  return max < 256 ? Uint8Array.from(cls) : cls;
}

function intersects(cand: Int32Array, v: Int32Array, base: number, W: number): boolean {
  for (let w = 0; w < W; w++) if ((cand[w] & v[base + w]) !== 0) return true;
  return false;
}

function clear(cand: Int32Array, v: Int32Array, base: number, W: number): void {
  for (let w = 0; w < W; w++) cand[w] &= ~v[base + w];
}

/**
 * Compiled mirror sessions of every virtual network; see the module
 * documentation for the semantics. Build with {@link Classifier.compile};
 * rebuild from a new session list when sessions change and swap between
 * batches, then {@link release} the old one.
 */
export class Classifier {
  readonly #policy: CompiledPolicy;
  readonly #byVnet = new Map<string, VnetClassifier>();

  constructor(policy: CompiledPolicy) {
    this.#policy = policy;
    for (const [name, cv] of policy.vnets) this.#byVnet.set(name, new VnetClassifier(cv, policy.ipSets));
  }

  /** Compile `sessions` (throws PolicyError naming the field on a bad session). */
  static compile(sessions: readonly MirrorSessionConfig[], ctx: PolicyContext): Classifier {
    return new Classifier(compilePolicy(sessions, ctx));
  }

  /** Every session, in the order given (`classify` returns indexes into this list). */
  get sessions(): readonly CompiledSession[] {
    return this.#policy.sessions;
  }

  /** Index of the session named `name`, or -1. */
  sessionIndex(name: string): number {
    return this.#policy.sessions.findIndex((s) => s.name === name);
  }

  /** The classifier of one virtual network (look it up once per batch), or undefined when it has no enabled session. */
  forVnet(vnet: string): VnetClassifier | undefined {
    return this.#byVnet.get(vnet);
  }

  /** Convenience for one packet: see {@link VnetClassifier.classify}. */
  classify(vnet: string, view: PacketView, data: Uint8Array, timeMs: number): number {
    const v = this.#byVnet.get(vnet);
    return v === undefined ? -1 : v.classify(view, data, timeMs);
  }

  /** Return the condition bits held in the fact tables; the classifier must not be used afterwards. */
  release(): void {
    this.#policy.release();
  }
}

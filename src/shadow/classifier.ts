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
 *   that carries them; `noRoute: true` needs no route, `false` a route;
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
import { compilePolicy, RuleDirection, type CompiledPolicy, type CompiledSession, type CompiledVnet, type PolicyContext, type RouteMatchProgram } from './policy.js';

const LATER_FRAGMENT = 2;
const UNKNOWN = -2;

/** Classifies the packets of one virtual network. Keeps per-packet scratch state: one per thread of evaluation. */
export class VnetClassifier {
  readonly vnet: string;
  readonly #c: CompiledVnet;
  readonly #ipSets: IpSetRegistry;
  readonly #index: Int32Array;
  readonly #cand: Uint32Array;
  readonly #scopeStamp: Int32Array;
  readonly #scopeSrc: Uint8Array;
  readonly #scopeDst: Uint8Array;
  #stamp = 0;
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
  #srcTag = UNKNOWN;
  #dstTag = UNKNOWN;
  #time = 0;

  constructor(compiled: CompiledVnet, ipSets: IpSetRegistry) {
    this.vnet = compiled.name;
    this.#c = compiled;
    this.#ipSets = ipSets;
    this.#index = Int32Array.from(compiled.sessions.map((s) => s.index));
    this.#cand = new Uint32Array(compiled.words);
    this.#scopeStamp = new Int32Array(compiled.scopes.length);
    this.#scopeSrc = new Uint8Array(compiled.scopes.length);
    this.#scopeDst = new Uint8Array(compiled.scopes.length);
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
    this.#srcRoute = UNKNOWN;
    this.#dstRoute = UNKNOWN;
    this.#srcTag = UNKNOWN;
    this.#dstTag = UNKNOWN;
    this.#time = timeMs;
    const stamp = (this.#stamp = (this.#stamp + 1) | 0) || (this.#stamp = 1);

    // Candidate rules: those whose protocol and port conditions the packet meets.
    const W = c.words;
    const cand = this.#cand;
    const proto = view.protocol & 0xff;
    const pm = c.protoMasks;
    const hasPorts = (proto === 6 || proto === 17) && view.l4Offset !== 0 && view.fragment !== LATER_FRAGMENT;
    if (hasPorts) {
      const sb = c.srcPortClass[view.srcPort & 0xffff] * W;
      const db = c.dstPortClass[view.dstPort & 0xffff] * W;
      const sm = c.srcPortMasks;
      const dm = c.dstPortMasks;
      for (let w = 0; w < W; w++) cand[w] = pm[proto * W + w] & sm[sb + w] & dm[db + w];
    } else {
      const nm = c.noPortMask;
      for (let w = 0; w < W; w++) cand[w] = pm[proto * W + w] & nm[w];
    }

    const rules = c.rules;
    let skipUntil = 0;
    for (let w = 0; w < W; w++) {
      let bits = cand[w] | 0;
      while (bits !== 0) {
        const low = bits & -bits;
        const r = (w << 5) + 31 - Math.clz32(low);
        bits ^= low;
        if (r < skipUntil) continue;
        const rule = rules[r];
        const slot = rule.slot;
        const sid = c.slotScope[slot];
        if (this.#scopeStamp[sid] !== stamp) this.#scope(sid, stamp);
        const srcIn = this.#scopeSrc[sid] === 1;
        const dstIn = this.#scopeDst[sid] === 1;
        if (!srcIn && !dstIn) {
          skipUntil = c.slotEnd[slot];
          continue;
        }
        const dir = rule.direction;
        if ((dir === RuleDirection.INGRESS && !dstIn) || (dir === RuleDirection.EGRESS && !srcIn)) continue;
        const src = rule.source;
        if (src !== null && !(this.#v6 ? src.has6(this.#s0, this.#s1, this.#s2, this.#s3) : src.has4(this.#s0))) continue;
        const dst = rule.destination;
        if (dst !== null && !(this.#v6 ? dst.has6(this.#d0, this.#d1, this.#d2, this.#d3) : dst.has4(this.#d0))) continue;
        if (rule.sourceRoute !== null && !this.#routeMatch(rule.sourceRoute, true)) continue;
        if (rule.destinationRoute !== null && !this.#routeMatch(rule.destinationRoute, false)) continue;
        if (rule.accept) return this.#index[slot];
        skipUntil = c.slotEnd[slot];
      }
    }
    return -1;
  }

  #scope(sid: number, stamp: number): void {
    const s = this.#c.scopes[sid];
    if (this.#v6) {
      this.#scopeSrc[sid] = s.has6(this.#s0, this.#s1, this.#s2, this.#s3) ? 1 : 0;
      this.#scopeDst[sid] = s.has6(this.#d0, this.#d1, this.#d2, this.#d3) ? 1 : 0;
    } else {
      this.#scopeSrc[sid] = s.has4(this.#s0) ? 1 : 0;
      this.#scopeDst[sid] = s.has4(this.#d0) ? 1 : 0;
    }
    this.#scopeStamp[sid] = stamp;
  }

  #route(t: RouteFactTable, src: boolean): number {
    let r = src ? this.#srcRoute : this.#dstRoute;
    if (r !== UNKNOWN) return r;
    if (this.#v6) r = src ? t.lookup6Words(this.#s0, this.#s1, this.#s2, this.#s3) : t.lookup6Words(this.#d0, this.#d1, this.#d2, this.#d3);
    else r = t.lookup4((src ? this.#s0 : this.#d0) >>> 0);
    if (src) this.#srcRoute = r;
    else this.#dstRoute = r;
    return r;
  }

  #tag(src: boolean): number {
    let e = src ? this.#srcTag : this.#dstTag;
    if (e !== UNKNOWN) return e;
    const t = this.#c.tagTable;
    if (t === null) e = -1;
    else if (this.#v6) e = src ? t.lookup6Words(this.#s0, this.#s1, this.#s2, this.#s3) : t.lookup6Words(this.#d0, this.#d1, this.#d2, this.#d3);
    else e = t.lookup4(src ? this.#s0 : this.#d0);
    if (src) this.#srcTag = e;
    else this.#dstTag = e;
    return e;
  }

  #routeMatch(m: RouteMatchProgram, src: boolean): boolean {
    const t = this.#c.facts;
    if (t !== null && (m.noRoute >= 0 || m.factMask !== 0 || m.withinMs >= 0)) {
      const r = this.#route(t, src);
      if (m.noRoute === 1) {
        if (r !== 0) return false;
      } else if (m.noRoute === 0 && r === 0) return false;
      if (m.factMask !== 0) {
        if (r === 0) return false;
        if ((t.facts[t.routeGroup[r] * t.factWords + m.factWord] & m.factMask) === 0) return false;
      }
      if (m.withinMs >= 0) {
        if (r === 0) return false;
        if (this.#time - t.announcedAt[r] > m.withinMs) return false;
      }
    }
    if (m.tagMask !== 0) {
      const e = this.#tag(src);
      if (e < 0 || (this.#c.tagFacts[e * this.#c.tagWords + m.tagWord] & m.tagMask) === 0) return false;
    }
    if (m.ipSet >= 0) {
      const sets = this.#ipSets;
      const inSet = this.#v6
        ? src
          ? sets.contains6Words(m.ipSet, this.#s0, this.#s1, this.#s2, this.#s3)
          : sets.contains6Words(m.ipSet, this.#d0, this.#d1, this.#d2, this.#d3)
        : sets.contains4(m.ipSet, (src ? this.#s0 : this.#d0) >>> 0);
      if (!inSet) return false;
    }
    return true;
  }
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

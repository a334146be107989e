/**
 * Decode every BGP message in real captures (from tcpdump's test suite) and
 * check that what we read is what `tcpdump -v` printed for them.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  BgpDecodeError,
  BgpFrameReader,
  attributeCodec,
  decodeMessage,
  decodeNlri,
  toRouteAttributes,
} from '../src/wire/bgp/index.js';
import type { BgpMessage, DecodeContext, NlriPrefix, OpenMessage, PathAttribute, UpdateIssue } from '../src/wire/bgp/index.js';
import { formatAddress, formatPrefix } from '../src/core/prefix.js';
import { tcpSegments } from './helpers/pcap-tcp.js';
import { missingDataMessage, sharedDataDir } from './helpers/shared-data.js';

const dir = sharedDataDir('bgp-pcap');
const files = dir ? readdirSync(dir).filter((f) => f.endsWith('.pcap')).sort() : [];

// ------------------------------------------------------------- tcpdump text → facts

const TYPE_NAMES: Record<number, string> = { 1: 'Open', 2: 'Update', 3: 'Notification', 4: 'Keepalive', 5: 'Route Refresh' };
const ORIGINS: Record<string, number> = { IGP: 0, EGP: 1, Incomplete: 2 };

/** Per packet number, the facts tcpdump printed about its BGP messages, in order. */
function factsFromTcpdump(text: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  let facts: string[] | null = null;
  let section = '';
  let pending = '';
  for (const line of text.split('\n')) {
    const pkt = /^\s*(\d+)\s+\d{4}-\d\d-\d\d /.exec(line);
    if (pkt) {
      facts = [];
      out.set(Number(pkt[1]), facts);
      continue;
    }
    if (!facts) continue;
    const t = line.trim();
    let m: RegExpExecArray | null;
    if ((m = /^(\w[\w -]*?) Message \((\d+)\), length: (\d+)(?:, .*\((\d+)\), subcode .*\((\d+)\))?/.exec(t))) {
      facts.push(`${m[1]} ${m[3]}`);
      if (m[4]) facts.push(`notification ${m[4]} ${m[5]}`);
      section = '';
    } else if ((m = /^Version (\d+), my AS (\d+), Holdtime (\d+)s, ID ([\d.]+)$/.exec(t))) facts.push(`open ${m[1]} ${m[2]} ${m[3]} ${m[4]}`);
    else if ((m = /^(Multiprotocol Extensions|Route Refresh|Graceful Restart|32-Bit AS Number|Multiple Paths) \((\d+)\), length: \d+$/.exec(t))) {
      pending = m[2];
      if (pending === '2') facts.push('cap route-refresh');
    } else if (pending === '1' && (m = /^AFI \w+ \((\d+)\), SAFI \w+ \((\d+)\)$/.exec(t))) facts.push(`cap mp ${m[1]}/${m[2]}`);
    else if ((m = /^Restart Flags: \[(.*)\], Restart Time (\d+)s$/.exec(t))) facts.push(`cap gr ${m[1].replace('none', '')} ${m[2]}`);
    else if ((m = /^4 Byte AS (\d+)$/.exec(t))) facts.push(`cap as4 ${m[1]}`);
    else if ((m = /^AFI \w+ \((\d+)\), SAFI \w+ \((\d+)\), Send\/Receive: (\w+)$/.exec(t))) facts.push(`cap add-path ${m[1]}/${m[2]} ${m[3]}`);
    else if (t === 'Withdrawn routes:') section = 'withdrawn';
    else if (t === 'Updated routes:') section = 'nlri';
    else if ((m = /^Origin \(1\), length: 1, Flags \[\w*\]: (\w+)$/.exec(t))) facts.push(`origin ${ORIGINS[m[1]]}`);
    else if ((m = /^AS Path \(2\), length: \d+, Flags \[\w*\]: (.*)$/.exec(t))) facts.push(`as-path ${m[1].trim()}`);
    else if ((m = /^AS4 Path \(17\), length: \d+, Flags \[\w*\]: (.*)$/.exec(t))) facts.push(`as4-path ${m[1].trim()}`);
    else if ((m = /^Next Hop \(3\), length: \d+, Flags \[\w*\]: (.*)$/.exec(t))) facts.push(`next-hop ${m[1] === 'invalid len' ? 'invalid' : m[1]}`);
    else if (/^Large Community \(32\)/.test(t)) section = 'large';
    else if (section === 'large' && /^\d+:\d+:\d+/.test(t)) for (const c of t.split(', ')) facts.push(`large ${c}`);
    else if (/^Multi-Protocol Reach NLRI \(14\)/.test(t)) {
      facts.push('mp-reach');
      section = 'mp';
    } else if (/^Multi-Protocol Unreach NLRI \(15\)/.test(t)) {
      facts.push('mp-unreach');
      section = 'mp';
    } else if ((m = /^AFI: \w+ \((\d+)\), SAFI: \w+ \((\d+)\)$/.exec(t))) facts.push(`afi ${m[1]}/${m[2]}`);
    else if ((m = /^nexthop: (.*), nh-length: \d+, no SNPA$/.exec(t))) facts.push(`nexthop ${m[1].split(', ').join(' ')}`);
    else if ((m = /^([0-9a-f:.]+\/\d+)(?:\s+Path Id: (\d+))?$/.exec(t))) facts.push(`${section} ${m[1]}${m[2] ? ` id ${m[2]}` : ''}`);
  }
  return out;
}

// ------------------------------------------------------------- our decode → facts

const ADD_PATH_WORDS: Record<number, string> = { 1: 'Receive', 2: 'Send', 3: 'Both' };
const prefixFact = (section: string, p: NlriPrefix): string => `${section} ${formatPrefix(p)}${p.pathId !== undefined ? ` id ${p.pathId}` : ''}`;
const segmentsText = (a: { segments: readonly { asns: readonly number[] }[] }): string => a.segments.flatMap((s) => s.asns).join(' ');

function attributeFacts(a: PathAttribute | null, issue?: UpdateIssue): string[] {
  if (!a) return issue?.attrCode === 3 ? ['next-hop invalid'] : [];
  switch (a.type) {
    case 'origin':
      return [`origin ${a.value}`];
    case 'as-path':
      return [`as-path ${segmentsText(a)}`];
    case 'as4-path':
      return [`as4-path ${segmentsText(a)}`];
    case 'next-hop':
      return [`next-hop ${a.nextHop}`];
    case 'large-communities':
      return a.communities.map((c) => `large ${c.join(':')}`);
    case 'mp-reach': {
      const hops = a.nextHop.length === 4 ? [formatAddress(a.nextHop, 0, 4)] : [formatAddress(a.nextHop, 0, 16), ...(a.nextHop.length === 32 ? [formatAddress(a.nextHop, 16, 16)] : [])];
      return ['mp-reach', `afi ${a.afi}/${a.safi}`, `nexthop ${hops.join(' ')}`, ...a.nlri.map((p) => prefixFact('mp', p))];
    }
    case 'mp-unreach':
      return ['mp-unreach', `afi ${a.afi}/${a.safi}`, ...a.withdrawn.map((p) => prefixFact('mp', p))];
    default:
      return [];
  }
}

function messageFacts(m: BgpMessage, length: number): string[] {
  const head = `${m.type === 'unknown' ? `UNKNOWN_${m.code}` : TYPE_NAMES[{ open: 1, update: 2, notification: 3, keepalive: 4, 'route-refresh': 5 }[m.type]]} ${length}`;
  switch (m.type) {
    case 'open': {
      const f = [head, `open ${m.version} ${m.myAs} ${m.holdTime} ${m.bgpId}`];
      for (const c of m.capabilities) {
        if (c.type === 'multiprotocol') f.push(`cap mp ${c.afi}/${c.safi}`);
        else if (c.type === 'route-refresh') f.push('cap route-refresh');
        else if (c.type === 'graceful-restart') f.push(`cap gr ${[c.restarting ? 'R' : '', c.notification ? 'N' : ''].filter(Boolean).join(', ')} ${c.restartTime}`);
        else if (c.type === 'four-octet-as') f.push(`cap as4 ${c.asn}`);
        else if (c.type === 'add-path') for (const x of c.families) f.push(`cap add-path ${x.afi}/${x.safi} ${ADD_PATH_WORDS[x.sendReceive]}`);
      }
      return f;
    }
    case 'update':
      return [head, ...m.withdrawn.map((p) => prefixFact('withdrawn', p)), ...m.attributes.flatMap((a) => attributeFacts(a)), ...m.nlri.map((p) => prefixFact('nlri', p))];
    case 'notification':
      return [head, `notification ${m.code} ${m.subcode}`];
    default:
      return [head];
  }
}

/**
 * Attribute-by-attribute reading, for an UPDATE our session decoder refuses
 * (tcpdump prints what it can; a speaker must reset). Uses the same codecs.
 */
function dissectUpdate(bytes: Uint8Array, ctx: DecodeContext): string[] {
  const ap = ctx.addPathReceive?.has('1/1') ?? false;
  const wLen = (bytes[19] << 8) | bytes[20];
  const aOff = 21 + wLen + 2;
  const aLen = (bytes[21 + wLen] << 8) | bytes[22 + wLen];
  const f = [`Update ${bytes.length}`, ...decodeNlri(bytes, 21, 21 + wLen, 1, ap).map((p) => prefixFact('withdrawn', p))];
  for (let o = aOff; o < aOff + aLen; ) {
    const r = attributeCodec.decode(bytes.subarray(0, aOff + aLen), o, ctx);
    f.push(...attributeFacts(r.value, r.issue));
    o += r.bytes;
  }
  f.push(...decodeNlri(bytes, aOff + aLen, bytes.length, 1, ap).map((p) => prefixFact('nlri', p)));
  return f;
}

interface Decoded {
  facts: Map<number, string[]>;
  updates: { bytes: Uint8Array; ctx: DecodeContext }[];
  refused: BgpDecodeError[];
  routeAttributes: ReturnType<typeof toRouteAttributes>[];
}

/** Candidate contexts for a capture without OPENs, tried the way tcpdump guesses. */
const GUESSES: DecodeContext[] = [{}, { fourOctetAs: true }, { addPathReceive: new Set(['1/1', '2/1']) }, { fourOctetAs: true, addPathReceive: new Set(['1/1', '2/1']) }];

function decodeCapture(file: Uint8Array): Decoded {
  const facts = new Map<number, string[]>();
  const updates: Decoded['updates'] = [];
  const refused: BgpDecodeError[] = [];
  const routeAttributes: Decoded['routeAttributes'] = [];
  const readers = new Map<string, BgpFrameReader>();
  const opens = new Map<string, OpenMessage>();
  for (const s of tcpSegments(file)) {
    if (s.srcPort !== 179 && s.dstPort !== 179) continue;
    if (s.payload.length === 0) continue;
    const from = `${s.src}:${s.srcPort}`;
    const to = `${s.dst}:${s.dstPort}`;
    let reader = readers.get(`${from}>${to}`);
    if (!reader) readers.set(`${from}>${to}`, (reader = new BgpFrameReader()));
    reader.push(s.payload);
    for (let bytes = reader.next(); bytes; bytes = reader.next()) {
      const mine = opens.get(from);
      const theirs = opens.get(to);
      let candidates: DecodeContext[];
      if (mine && theirs) {
        const has4 = (o: OpenMessage) => o.capabilities.some((c) => c.type === 'four-octet-as');
        const addPath = new Set<string>();
        for (const c of mine.capabilities) {
          if (c.type !== 'add-path') continue;
          for (const fam of c.families) {
            const peer = theirs.capabilities.flatMap((x) => (x.type === 'add-path' ? x.families : [])).find((x) => x.afi === fam.afi && x.safi === fam.safi);
            // RFC 7911 §4: path ids flow from a sender (2|3) to a receiver (1|3).
            if (fam.sendReceive & 2 && peer && peer.sendReceive & 1) addPath.add(`${fam.afi}/${fam.safi}`);
          }
        }
        candidates = [{ fourOctetAs: has4(mine) && has4(theirs), addPathReceive: addPath }];
      } else candidates = GUESSES;
      let got: string[] | null = null;
      for (const ctx of candidates) {
        try {
          const { value } = decodeMessage(bytes, 0, ctx);
          if (value.type === 'update' && value.issues.some((i) => i.attrCode === 2) && candidates.length > 1) continue;
          if (value.type === 'open') opens.set(from, value);
          if (value.type === 'update') {
            updates.push({ bytes, ctx });
            routeAttributes.push(toRouteAttributes(value.attributes, ctx));
          }
          got = messageFacts(value, bytes.length);
        } catch (e) {
          if (!(e instanceof BgpDecodeError)) throw e;
          if (e.notification.subcode === 1 && e.field === 'update.attributes') {
            refused.push(e);
            updates.push({ bytes, ctx });
            got = dissectUpdate(bytes, ctx);
          } else continue;
        }
        break;
      }
      if (!got) throw new Error(`packet ${s.packet}: no context decodes this message`);
      const list = facts.get(s.packet) ?? [];
      list.push(...got);
      facts.set(s.packet, list);
    }
  }
  return { facts, updates, refused, routeAttributes };
}

// ------------------------------------------------------------- tests

describe('BGP in real captures, compared with tcpdump -v', () => {
  if (!dir) {
    it.skip(missingDataMessage('bgp-pcap'), () => {});
    return;
  }
  const decoded = new Map<string, Decoded>();
  const get = (f: string): Decoded => {
    let d = decoded.get(f);
    if (!d) decoded.set(f, (d = decodeCapture(readFileSync(join(dir, f)))));
    return d;
  };

  for (const f of files) {
    it(`${f}: every BGP message matches what tcpdump printed`, () => {
      const expected = factsFromTcpdump(readFileSync(join(dir, f.replace(/\.pcap$/, '.expected-tcpdump-v.out')), 'utf8'));
      const ours = get(f).facts;
      const bgpPackets = [...expected].filter(([, v]) => v.length > 0);
      expect(bgpPackets.length).toBeGreaterThan(0);
      for (const [n, want] of bgpPackets) expect({ packet: n, facts: ours.get(n) ?? [] }).toEqual({ packet: n, facts: want });
      expect([...ours.keys()].sort((a, b) => a - b)).toEqual(bgpPackets.map(([n]) => n).sort((a, b) => a - b));
    });
  }

  it('bgp-4byte-asn: AS4_PATH reconciled on the 2-octet sessions gives the path the 4-octet session carries', () => {
    const paths = get('bgp-4byte-asn.pcap').routeAttributes.map((r) => r.asPath.flatMap((s) => s.asns).join(' '));
    // Packet 13 (2-octet, AS4_PATH) and packet 37 (4-octet): same path behind the first hop.
    expect(paths).toContain('200 1 222222 333333 4294967290');
    expect(paths).toContain('2764334674 200 1 222222 333333 4294967290');
    expect(paths).toContain('2764334674 1');
    expect(paths.every((p) => !p.split(' ').includes('23456'))).toBe(true);
  });

  it('bgp-addpath: the UPDATE repeats MP_REACH_NLRI, which a speaker must answer with a session reset (RFC 7606 §3(g))', () => {
    const d = get('bgp-addpath.pcap');
    expect(d.refused).toHaveLength(1);
    expect(d.refused[0].action).toBe('session-reset');
    expect([d.refused[0].notification.code, d.refused[0].notification.subcode]).toEqual([3, 1]);
  });

  it('mpbgp-linklocal-nexthop: normalised next hop is the global address, link-local beside it', () => {
    const ra = get('mpbgp-linklocal-nexthop.pcap').routeAttributes[0];
    expect([ra.nextHop, ra.nextHopLinkLocal]).toEqual(['dead:beef::1', 'fe80::1ff:fe01:0']);
  });

  it('mutations of the real UPDATEs only ever raise BgpDecodeError', () => {
    const seeds = files.flatMap((f) => get(f).updates);
    expect(seeds.length).toBeGreaterThan(10);
    fc.assert(
      fc.property(
        fc.nat(seeds.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        fc.boolean(),
        (i, edits, four, ap) => {
          const b = seeds[i].bytes.slice();
          // Leave the marker alone most of the time so the body gets exercised.
          for (const [at, v] of edits) b[16 + (at % (b.length - 16))] = v;
          try {
            const r = decodeMessage(b, 0, { fourOctetAs: four, addPathReceive: ap ? new Set(['1/1', '2/1']) : undefined });
            if (r.value.type === 'update') toRouteAttributes(r.value.attributes, { fourOctetAs: four });
          } catch (e) {
            if (!(e instanceof BgpDecodeError)) throw e;
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});

/**
 * `bgpdump -m` output: one pipe-separated line per route, byte for byte as
 * Debian's bgpdump 1.6 prints it, so existing scripts and diffs keep working.
 *
 * bgpdump has its own reading of path attributes (its AS4_PATH merge, its
 * abbreviated MP_REACH_NLRI test, the next hop it prints when none is sent,
 * signed MED/LOCAL_PREF on some lines). Reproducing those quirks needs the
 * attributes as bgpdump sees them, so this module walks them itself rather
 * than through the normalising BGP codec, whose job is to be right, not to
 * be bgpdump.
 */
import { parseAddress, type Prefix } from '../../core/prefix.js';
import { MrtDecodeError, MrtType, type MrtBody, type MrtPeerEntry, type MrtRecord } from '../../wire/mrt.js';
import { newMrtReadStats, readMrt, type MrtSource, type ReadMrtOptions } from './reader.js';

// ---------------------------------------------------------------------------
// Attributes as bgpdump reads them

interface DumpPrefix {
  /** Raw prefix bytes as sent (bgpdump does not clear trailing bits). */
  readonly bytes: Uint8Array;
  readonly length: number;
  readonly pathId: number;
}

interface DumpMpReach {
  readonly nextHopLength: number;
  readonly nextHop: Uint8Array;
  nlri: DumpPrefix[];
}

interface DumpAsPath {
  data: Uint8Array;
  asnBytes: 2 | 4;
  count: number;
  str: string;
}

interface DumpAttributes {
  /** Attribute type codes seen (bgpdump's flag word). */
  seen: Set<number>;
  origin: number;
  asPath: DumpAsPath | null;
  as4Path: DumpAsPath | null;
  /** NEXT_HOP bytes, 255.255.255.255 when absent (bgpdump's INADDR_NONE). */
  nextHop: Uint8Array;
  med: number;
  localPref: number;
  aggregatorAs: number;
  aggregatorAddr: Uint8Array;
  as4AggregatorAs: number;
  as4AggregatorAddr: Uint8Array;
  communities: string | null;
  /** Keyed `${afi}/${safi}`; the abbreviated MRT form lands on 2/1, as in bgpdump. */
  mpReach: Map<string, DumpMpReach>;
  mpUnreach: Map<string, DumpPrefix[]>;
}

const NONE4 = Uint8Array.from([255, 255, 255, 255]);
const AS_TRANS = 23456;
const MAX_ASPATH_TEXT = 8000;

function isNone(b: Uint8Array): boolean {
  return b[0] === 255 && b[1] === 255 && b[2] === 255 && b[3] === 255;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

const SEG_DELIMS: Record<number, [string, string]> = { 1: ['{', '}'], 2: [' ', ' '], 3: ['(', ')'], 4: ['[', ']'] };

/** bgpdump's AS path text and count (sets count once). */
function describeAsPath(p: DumpAsPath): void {
  const d = p.data;
  let out = '';
  let space = false;
  let prevType = 2;
  let lastType = -1;
  let pos = 0;
  p.count = 0;
  while (pos < d.length) {
    const type = d[pos];
    const n = pos + 1 < d.length ? d[pos + 1] : 0;
    if (type < 1 || type > 4 || pos + 2 + n * p.asnBytes > d.length) {
      p.count = 0;
      p.str = '! Error !';
      return;
    }
    if (prevType !== 2) out += SEG_DELIMS[prevType][1];
    if (space) out += ' ';
    if (type !== 2) out += SEG_DELIMS[type][0];
    space = false;
    p.count += type === 1 || type === 4 ? 1 : n;
    for (let i = 0; i < n; i++) {
      if (space) out += type === 1 || type === 4 ? ',' : ' ';
      else space = true;
      const at = pos + 2 + i * p.asnBytes;
      out += String(p.asnBytes === 4 ? u32(d, at) : u16(d, at));
      if (out.length > MAX_ASPATH_TEXT - 100) {
        p.str = out + '...';
        return;
      }
    }
    prevType = type;
    lastType = type;
    pos += 2 + n * p.asnBytes;
  }
  if (lastType !== -1 && lastType !== 2) out += SEG_DELIMS[lastType][1];
  p.str = out;
}

function newAsPath(data: Uint8Array, asnBytes: 2 | 4): DumpAsPath {
  const p: DumpAsPath = { data, asnBytes, count: 0, str: '' };
  describeAsPath(p);
  return p;
}

/**
 * RFC 6793 reconstruction the way bgpdump does it: keep the leading
 * (count(AS_PATH) − count(AS4_PATH)) ASNs of AS_PATH, widened to 4 octets,
 * then append AS4_PATH as sent.
 */
function mergeAs4Path(path: DumpAsPath, as4: DumpAsPath): DumpAsPath {
  const keep = path.count - as4.count;
  const parts: number[] = [];
  let count = 0;
  let pos = 0;
  const d = path.data;
  while (count < keep && pos < d.length) {
    const type = d[pos];
    let n = d[pos + 1];
    const asns: number[] = [];
    for (let i = 0; i < n; i++) asns.push(u16(d, pos + 2 + i * 2));
    pos += 2 + n * 2;
    if (type === 1 || type === 4) count += 1;
    else {
      count += n;
      if (count > keep) {
        n -= count - keep;
        asns.length = n;
      }
    }
    parts.push(type, n);
    for (const a of asns) parts.push((a >>> 24) & 0xff, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff);
  }
  const merged = new Uint8Array(parts.length + as4.data.length);
  merged.set(parts, 0);
  merged.set(as4.data, parts.length);
  return newAsPath(merged, 4);
}

function communityText(b: Uint8Array): string {
  let s = '';
  for (let o = 0; o + 4 <= b.length; o += 4) {
    const v = u32(b, o);
    if (v === 0xffffff01) s += ' no-export';
    else if (v === 0xffffff02) s += ' no-advertise';
    else if (v === 0xffffff03) s += ' local-AS';
    else s += ` ${v >>> 16}:${v & 0xffff}`;
  }
  return s.slice(1);
}

/** Prefixes in [pos, end); a prefix cut short ends the list, as in bgpdump. */
function readPrefixes(b: Uint8Array, pos: number, end: number, addPath: boolean): DumpPrefix[] {
  const out: DumpPrefix[] = [];
  while (pos < end) {
    let pathId = 0;
    if (addPath) {
      if (pos + 4 > end) break;
      pathId = u32(b, pos);
      pos += 4;
    }
    if (pos >= end) break;
    const length = b[pos++];
    const n = (length + 7) >> 3;
    if (pos + n > end) break;
    out.push({ bytes: b.subarray(pos, pos + n), length, pathId });
    pos += n;
  }
  return out;
}

function readMpNextHop(b: Uint8Array, pos: number, end: number): { reach: DumpMpReach; pos: number } {
  const len = pos < end ? b[pos] : 0;
  pos++;
  let nextHop: Uint8Array = new Uint8Array(16);
  // bgpdump reads 4, 16 or 32 next-hop bytes and skips nothing otherwise.
  if (len === 4 || len === 16 || len === 32) {
    nextHop = b.subarray(pos, Math.min(end, pos + (len === 32 ? 16 : len)));
    pos += len;
  }
  return { reach: { nextHopLength: len, nextHop, nlri: [] }, pos };
}

function parseAttributes(b: Uint8Array, start: number, end: number, asnBytes: 2 | 4, addPath: boolean): DumpAttributes {
  const a: DumpAttributes = {
    seen: new Set(),
    origin: -1,
    asPath: null,
    as4Path: null,
    nextHop: NONE4,
    med: -1,
    localPref: -1,
    aggregatorAs: -1,
    aggregatorAddr: NONE4,
    as4AggregatorAs: -1,
    as4AggregatorAddr: NONE4,
    communities: null,
    mpReach: new Map(),
    mpUnreach: new Map(),
  };
  let pos = start;
  while (pos < end) {
    if (pos + 2 > end) break;
    const flags = b[pos];
    const type = b[pos + 1];
    let len: number;
    if (flags & 0x10) {
      if (pos + 4 > end) break;
      len = u16(b, pos + 2);
      pos += 4;
    } else {
      if (pos + 3 > end) break;
      len = b[pos + 2];
      pos += 3;
    }
    const vEnd = pos + len;
    if (vEnd > end) break; // bgpdump: "attribute is truncated"
    a.seen.add(type);
    const v = b.subarray(pos, vEnd);
    switch (type) {
      case 1:
        a.origin = len > 0 ? v[0] : 0;
        break;
      case 2:
        a.asPath = newAsPath(v, asnBytes);
        break;
      case 3:
        if (len >= 4) a.nextHop = v.subarray(0, 4);
        break;
      case 4:
        if (len >= 4) a.med = u32(v, 0);
        break;
      case 5:
        if (len >= 4) a.localPref = u32(v, 0);
        break;
      case 7:
        if (len >= asnBytes + 4) {
          a.aggregatorAs = asnBytes === 4 ? u32(v, 0) : u16(v, 0);
          a.aggregatorAddr = v.subarray(asnBytes, asnBytes + 4);
        }
        break;
      case 8:
        a.communities = communityText(v);
        break;
      case 14: {
        if (len > 0 && v[0] !== 0) {
          // MRT abbreviated form (RFC 6396 §4.3.4): next-hop length and next hop only.
          if (!a.mpReach.has('2/1')) a.mpReach.set('2/1', readMpNextHop(v, 0, len).reach);
          break;
        }
        if (len < 3) break;
        const afi = u16(v, 0);
        const safi = v[2];
        if (afi > 2 || safi > 3) break;
        const key = `${afi}/${safi}`;
        if (a.mpReach.has(key)) break;
        const { reach, pos: p } = readMpNextHop(v, 3, len);
        let q = p;
        if (q < len) {
          let snpa = v[q++];
          for (; snpa > 0 && q < len; snpa--) q += 1 + v[q];
        }
        reach.nlri = readPrefixes(v, q, len, addPath);
        a.mpReach.set(key, reach);
        break;
      }
      case 15: {
        if (len < 3) break;
        const afi = u16(v, 0);
        const safi = v[2];
        if (afi > 2 || safi > 3) break;
        const key = `${afi}/${safi}`;
        if (a.mpUnreach.has(key)) break;
        a.mpUnreach.set(key, readPrefixes(v, 3, len, addPath));
        break;
      }
      case 17:
        a.as4Path = newAsPath(v, 4);
        break;
      case 18:
        if (len >= 8) {
          a.as4AggregatorAs = u32(v, 0);
          a.as4AggregatorAddr = v.subarray(4, 8);
        }
        break;
      default:
        break;
    }
    pos = vEnd;
  }
  if (asnBytes === 2) as4Transition(a);
  return a;
}

function as4Transition(a: DumpAttributes): void {
  if (a.seen.has(7) && a.seen.has(18)) {
    // bgpdump stops here when AGGREGATOR is not AS_TRANS: AS4_PATH is then ignored too.
    if (a.aggregatorAs !== AS_TRANS) return;
    a.aggregatorAs = a.as4AggregatorAs;
    a.aggregatorAddr = a.as4AggregatorAddr;
  }
  if (!a.seen.has(17) || !a.as4Path || !a.asPath) return;
  if (a.asPath.count < a.as4Path.count) return;
  a.asPath = mergeAs4Path(a.asPath, a.as4Path);
}

// ---------------------------------------------------------------------------
// Line pieces

function describeOrigin(o: number): string {
  return o === 0 ? 'IGP' : o === 1 ? 'EGP' : 'INCOMPLETE';
}

function v4(b: Uint8Array): string {
  return `${b[0] ?? 0}.${b[1] ?? 0}.${b[2] ?? 0}.${b[3] ?? 0}`;
}

/**
 * IPv6 text as bgpdump writes it: unlike RFC 5952 it also shortens a single
 * zero group to `::` (the first longest run), and prints v4-mapped and
 * v4-compatible addresses with a dotted quad.
 */
export function bgpdumpIpv6(b: Uint8Array): string {
  const a = new Uint8Array(16);
  a.set(b.subarray(0, 16));
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((a[i * 2] << 8) | a[i * 2 + 1]);
  const first5Zero = w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0;
  if (first5Zero && w[5] === 0xffff) return `::ffff:${v4(a.subarray(12))}`;
  if (first5Zero && w[5] === 0 && u32(a, 12) > 1) return `::${v4(a.subarray(12))}`;
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; i++) {
    let n = 0;
    while (i + n < 8 && w[i + n] === 0) n++;
    if (n > bestLen) {
      best = i;
      bestLen = n;
    }
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    out += w[i].toString(16);
    if (i !== 7) out += ':';
  }
  return out;
}

function v6(b: Uint8Array): string {
  return bgpdumpIpv6(b);
}

/** Re-spell an address the codec formatted, the way bgpdump would. */
function addrText(s: string): string {
  return s.includes(':') ? bgpdumpIpv6(parseAddress(s)) : s;
}

function prefixText(p: Prefix): string {
  return `${p.address.length === 4 ? v4(p.address) : v6(p.address)}/${p.length}`;
}

function pfx4(p: DumpPrefix): string {
  return `${v4(p.bytes)}/${p.length}`;
}
function pfx6(p: DumpPrefix): string {
  return `${v6(p.bytes)}/${p.length}`;
}

function signed32(n: number): number {
  return n | 0;
}

/** `community|AG|aggregator|` — the tail every route line shares. */
function tail(a: DumpAttributes): string {
  const comm = a.seen.has(8) && a.communities !== null ? a.communities : '';
  const ag = a.seen.has(6) ? 'AG' : 'NAG';
  const agg = isNone(a.aggregatorAddr) ? '' : `${a.aggregatorAs >>> 0} ${v4(a.aggregatorAddr)}`;
  return `${comm}|${ag}|${agg}|`;
}

function prefOf(a: DumpAttributes): number {
  return a.seen.has(5) ? a.localPref : 0;
}
function medOf(a: DumpAttributes): number {
  return a.seen.has(4) ? a.med : 0;
}

function aspathText(a: DumpAttributes): string {
  return a.seen.has(2) && a.asPath ? a.asPath.str : '';
}

function mpNextHopText(r: DumpMpReach): string | undefined {
  if (r.nextHopLength === 4) return v4(r.nextHop);
  if (r.nextHopLength === 16 || r.nextHopLength === 32) return v6(r.nextHop);
  return undefined;
}

// ---------------------------------------------------------------------------
// Records

/** bgpdump's name for a BGP4MP message record's line prefix. */
function bgp4mpFormat(et: boolean, local: boolean, addPath: boolean): string {
  return `BGP4MP${et ? '_ET' : ''}${local ? '_LOCAL' : ''}${addPath ? '_AP' : ''}`;
}

/**
 * Turns MRT records into `bgpdump -m` lines. Holds the TABLE_DUMP_V2 peer
 * index table between records, so feed it a file's records in order.
 */
export class BgpdumpFormatter {
  #peers: readonly MrtPeerEntry[] | undefined;

  /** Lines for one record (no newline characters); empty when bgpdump prints nothing. */
  format(record: MrtRecord): string[] {
    const out: string[] = [];
    const b = record.body;
    switch (b.kind) {
      case 'peer-index-table':
        this.#peers = b.peers;
        break;
      case 'rib':
        // bgpdump 1.6 prints unicast RIBs only; multicast and generic RIBs are skipped.
        if (b.safi === 1) this.#rib(record, b, out);
        break;
      case 'table-dump':
        this.#tableDump(record, b, out);
        break;
      case 'bgp4mp-state-change': {
        const fmt = record.type === MrtType.BGP4MP_ET ? 'BGP4MP_ET' : 'BGP4MP';
        out.push(`${fmt}|${timeText(record)}|STATE|${addrText(b.peerAddress)}|${b.peerAs}|${b.oldState}|${b.newState}`);
        break;
      }
      case 'bgp4mp-message':
        this.#message(record, b, out);
        break;
      default:
        break;
    }
    return out;
  }

  #rib(record: MrtRecord, b: Extract<MrtBody, { kind: 'rib' }>, out: string[]): void {
    const peers = this.#peers;
    if (!peers) throw new MrtDecodeError('RIB record before any PEER_INDEX_TABLE', 'peerIndexTable', 0);
    const prefix = prefixText(b.prefix);
    const head = b.addPath ? 'TABLE_DUMP2_AP' : 'TABLE_DUMP2';
    for (const e of b.entries) {
      const peer = peers[e.peerIndex];
      if (!peer) throw new MrtDecodeError(`peer index ${e.peerIndex} is not in the peer table (${peers.length} peers)`, 'peerIndex', 0);
      const a = parseAttributes(e.attributes, 0, e.attributes.length, 4, b.addPath);
      let nh: string;
      const r6 = a.seen.has(14) ? a.mpReach.get('2/1') : undefined;
      const r4 = a.seen.has(14) ? a.mpReach.get('1/1') : undefined;
      const r = r6 ?? r4;
      if (r) nh = mpNextHopText(r) ?? '';
      else nh = v4(a.nextHop);
      const pathId = b.addPath ? `${e.pathId ?? 0}|` : '';
      out.push(
        `${head}|${record.timestamp}|B|${addrText(peer.address)}|${peer.asn}|${prefix}|${pathId}${a.asPath ? a.asPath.str : ''}|` +
          `${describeOrigin(a.origin)}|${nh}|${prefOf(a)}|${medOf(a)}|${tail(a)}`,
      );
    }
  }

  #tableDump(record: MrtRecord, b: Extract<MrtBody, { kind: 'table-dump' }>, out: string[]): void {
    const a = parseAttributes(b.attributes, 0, b.attributes.length, 2, false);
    const r6 = a.seen.has(14) ? a.mpReach.get('2/1') : undefined;
    const nh = r6 ? v6(r6.nextHop) : v4(a.nextHop);
    out.push(
      `TABLE_DUMP|${record.timestamp}|B|${addrText(b.peerAddress)}|${b.peerAs}|${prefixText(b.prefix)}|` +
        `${aspathText(a)}|${describeOrigin(a.origin)}|${nh}|${prefOf(a)}|${medOf(a)}|${tail(a)}`,
    );
  }

  #message(record: MrtRecord, b: Extract<MrtBody, { kind: 'bgp4mp-message' }>, out: string[]): void {
    const m = b.message;
    // BGP header: 16-byte marker, length, type. bgpdump skips a bad marker.
    if (m.length < 19) return;
    for (let i = 0; i < 16; i++) if (m[i] !== 0xff) return;
    const end = Math.min(m.length, Math.max(16, u16(m, 16)));
    if (m[18] !== 2) return;
    let pos = 19;
    if (pos + 2 > end) return;
    const wlen = u16(m, pos);
    pos += 2;
    const withdrawn = readPrefixes(m, pos, Math.min(end, pos + wlen), b.addPath);
    pos = Math.min(end, pos + wlen);
    const alen = pos + 2 <= end ? u16(m, pos) : 0;
    pos += 2;
    const aEnd = Math.min(end, pos + alen);
    const a = parseAttributes(m, pos, aEnd, b.asnBytes, b.addPath);
    pos = aEnd;
    const nlri = readPrefixes(m, pos, end, b.addPath);

    const fmt = bgp4mpFormat(record.type === MrtType.BGP4MP_ET, b.local, b.addPath);
    const lead = `${fmt}|${timeText(record)}`;
    const peer = `${addrText(b.peerAddress)}|${b.peerAs}`;
    const pid = (p: DumpPrefix): string => (b.addPath ? `|${p.pathId}` : '');
    // Withdraw lines for IPv6 prefixes over an IPv4 session print the peer
    // through an IPv6 formatter on sent messages (bgpdump does so).
    const peer6 =
      b.afi === 1 && b.local ? `${v6(Uint8Array.from([...ipv4Bytes(b.peerAddress), ...new Uint8Array(12)]))}|${b.peerAs}` : peer;

    if (withdrawn.length > 0 || a.seen.has(15)) {
      for (const p of withdrawn) out.push(`${lead}|W|${peer}|${pfx4(p)}${pid(p)}`);
      for (const safi of [1, 2, 3]) for (const p of a.mpUnreach.get(`1/${safi}`) ?? []) out.push(`${lead}|W|${peer}|${pfx4(p)}${pid(p)}`);
      for (const safi of [1, 2, 3]) for (const p of a.mpUnreach.get(`2/${safi}`) ?? []) out.push(`${lead}|W|${peer6}|${pfx6(p)}${pid(p)}`);
    }
    if (nlri.length > 0 || a.seen.has(14)) {
      const path = aspathText(a);
      const origin = describeOrigin(a.origin);
      for (const p of nlri) {
        out.push(
          `${lead}|A|${peer}|${pfx4(p)}${pid(p)}|${path}|${origin}|${v4(a.nextHop)}|${prefOf(a) >>> 0}|${medOf(a) >>> 0}|${tail(a)}`,
        );
      }
      for (const safi of [1, 2, 3]) {
        const r = a.mpReach.get(`1/${safi}`);
        if (!r) continue;
        const nh = mpNextHopText(r);
        // bgpdump prints these two numbers signed on IPv4 MP_REACH lines.
        const mid = nh === undefined ? '' : `${nh}|${signed32(prefOf(a))}|${signed32(medOf(a))}|`;
        for (const p of r.nlri) out.push(`${lead}|A|${peer}|${pfx4(p)}${pid(p)}|${path}|${origin}|${mid}${tail(a)}`);
      }
      for (const safi of [1, 2, 3]) {
        const r = a.mpReach.get(`2/${safi}`);
        if (!r) continue;
        const nh = mpNextHopText(r);
        const mid = nh === undefined ? '' : `${path}|${origin}|${nh}|${prefOf(a) >>> 0}|${medOf(a) >>> 0}|`;
        for (const p of r.nlri) out.push(`${lead}|A|${peer}|${pfx6(p)}|${b.addPath ? `${p.pathId}|` : ''}${mid}${tail(a)}`);
      }
    }
  }
}

function ipv4Bytes(s: string): number[] {
  return s.split('.').map((x) => Number(x) & 0xff);
}

function timeText(r: MrtRecord): string {
  if (r.type === MrtType.BGP4MP_ET) return `${r.timestamp}.${String(r.microseconds ?? 0).padStart(6, '0')}`;
  return String(r.timestamp);
}

/**
 * `bgpdump -m` lines for a whole file or stream, streaming. A record that
 * cannot be read is skipped and reported like any other bad record.
 */
export async function* bgpdumpLines(source: MrtSource, opts: ReadMrtOptions = {}): AsyncGenerator<string> {
  const f = new BgpdumpFormatter();
  const stats = opts.stats ?? newMrtReadStats();
  let index = 0;
  for await (const record of readMrt(source, { ...opts, stats })) {
    let lines: string[];
    try {
      lines = f.format(record);
    } catch (err) {
      if (!(err instanceof MrtDecodeError)) throw err;
      stats.records--;
      stats.badRecords++;
      opts.onBadRecord?.(err, { index, offset: -1 });
      if (opts.strict) throw err;
      lines = [];
    }
    index++;
    for (const l of lines) yield l;
  }
}

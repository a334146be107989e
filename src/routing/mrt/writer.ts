/**
 * MRT writer: TABLE_DUMP_V2 RIB snapshots (PEER_INDEX_TABLE + RIB_IPV4/IPV6_UNICAST)
 * and BGP4MP_MESSAGE_AS4 / STATE_CHANGE_AS4 records, written to a file or any
 * Writable with backpressure. Records are batched into large writes so a
 * million-route table does not cost a million stream writes.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Afi, type Prefix, type RouteAttributes } from '../../core/index.js';
import { parsePrefix } from '../../core/prefix.js';
import { Origin } from '../../core/types.js';
import { encodePathAttributes, fromRouteAttributes } from '../../wire/bgp/index.js';
import {
  Bgp4mpSubtype,
  encode,
  encodingLength,
  MrtEncodeError,
  MrtType,
  ribSubtype,
  TableDumpV2Subtype,
  type MrtPeerEntry,
  type MrtRecord,
} from '../../wire/mrt.js';

export interface MrtWriterPeer {
  readonly address: string;
  readonly asn: number;
  /** Defaults to 0.0.0.0. */
  readonly bgpId?: string;
}

export interface MrtWriterRibEntry {
  /** Index into the peer table last written. */
  readonly peerIndex: number;
  /** Seconds since the epoch; defaults to the record time. */
  readonly originatedTime?: number;
  /** Attributes to encode (4-octet ASNs, abbreviated MP_REACH), or already-encoded bytes. */
  readonly attributes: RouteAttributes | Uint8Array;
  /** RFC 8050 path identifier: when any entry has one the record uses the _ADDPATH subtype. */
  readonly pathId?: number;
}

const FLUSH_AT = 256 * 1024;

/** RFC 6396 §4.4.1 state codes by shadownet session state. */
export const MrtStateCode = { idle: 1, connect: 2, active: 3, 'open-sent': 4, 'open-confirm': 5, established: 6 } as const;

export class MrtWriter {
  readonly #out: Writable;
  readonly #ownsStream: boolean;
  #chunk = new Uint8Array(FLUSH_AT * 2);
  #used = 0;
  #sequence = 0;
  #peerCount = 0;
  #encoded = new WeakMap<RouteAttributes, { afi: Afi; bytes: Uint8Array }[]>();
  #closed = false;
  /** Records written so far. */
  records = 0;
  /** Bytes handed to the stream so far. */
  bytesWritten = 0;

  /** Write to `target`: a file path (created or truncated) or a Writable. */
  constructor(target: string | Writable) {
    if (typeof target === 'string') {
      this.#out = createWriteStream(target);
      this.#ownsStream = true;
    } else {
      this.#out = target;
      this.#ownsStream = false;
    }
  }

  /** Append any record; resolves once the stream can take more. */
  async write(record: MrtRecord): Promise<void> {
    if (this.#closed) throw new MrtEncodeError('MRT writer is closed');
    const len = encodingLength(record);
    if (this.#used + len > this.#chunk.length) {
      await this.flush();
      if (len > this.#chunk.length) this.#chunk = new Uint8Array(len);
    }
    encode(record, this.#chunk, this.#used);
    this.#used += len;
    this.records++;
    if (this.#used >= FLUSH_AT) await this.flush();
  }

  /** PEER_INDEX_TABLE (RFC 6396 §4.3.1); RIB entries refer to these peers by index. */
  async writePeerIndexTable(
    peers: readonly MrtWriterPeer[],
    opts: { timestamp: number; collectorBgpId?: string; viewName?: string },
  ): Promise<void> {
    const entries: MrtPeerEntry[] = peers.map((p) => ({
      // Peer Type: bit 0 = IPv6 address, bit 1 = 4-octet AS; always 4-octet for simplicity of readers.
      peerType: (p.address.includes(':') ? 1 : 0) | 2,
      bgpId: p.bgpId ?? '0.0.0.0',
      address: p.address,
      asn: p.asn,
    }));
    this.#peerCount = peers.length;
    await this.write({
      timestamp: opts.timestamp,
      type: MrtType.TABLE_DUMP_V2,
      subtype: TableDumpV2Subtype.PEER_INDEX_TABLE,
      body: { kind: 'peer-index-table', collectorBgpId: opts.collectorBgpId ?? '0.0.0.0', viewName: opts.viewName ?? '', peers: entries },
    });
  }

  /** One RIB_IPV4_UNICAST / RIB_IPV6_UNICAST record (with _ADDPATH when entries carry path ids). */
  async writeRib(prefix: Prefix | string, entries: readonly MrtWriterRibEntry[], opts: { timestamp: number }): Promise<void> {
    const p = typeof prefix === 'string' ? parsePrefix(prefix) : prefix;
    const addPath = entries.some((e) => e.pathId !== undefined);
    for (const e of entries) {
      if (e.peerIndex >= this.#peerCount) {
        throw new MrtEncodeError(`peer index ${e.peerIndex} is not in the peer table written (${this.#peerCount} peers)`);
      }
    }
    await this.write({
      timestamp: opts.timestamp,
      type: MrtType.TABLE_DUMP_V2,
      subtype: ribSubtype(p.afi, 1, addPath),
      body: {
        kind: 'rib',
        sequence: this.#sequence++ >>> 0,
        prefix: p,
        safi: 1,
        addPath,
        entries: entries.map((e) => ({
          peerIndex: e.peerIndex,
          originatedTime: e.originatedTime ?? opts.timestamp,
          ...(addPath ? { pathId: e.pathId ?? 0 } : {}),
          attributes: e.attributes instanceof Uint8Array ? e.attributes : this.#tableAttributes(e.attributes, p.afi),
        })),
      },
    });
  }

  /** BGP4MP_MESSAGE_AS4 (or _ET with microseconds) carrying a whole BGP message. */
  async writeMessage(
    message: Uint8Array,
    opts: {
      timestamp: number;
      microseconds?: number;
      peer: MrtWriterPeer;
      local: MrtWriterPeer;
      interfaceIndex?: number;
    },
  ): Promise<void> {
    const afi = opts.peer.address.includes(':') ? Afi.IPV6 : Afi.IPV4;
    await this.write({
      timestamp: opts.timestamp,
      ...(opts.microseconds !== undefined ? { microseconds: opts.microseconds } : {}),
      type: opts.microseconds !== undefined ? MrtType.BGP4MP_ET : MrtType.BGP4MP,
      subtype: Bgp4mpSubtype.MESSAGE_AS4,
      body: {
        kind: 'bgp4mp-message',
        asnBytes: 4,
        local: false,
        addPath: false,
        peerAs: opts.peer.asn,
        localAs: opts.local.asn,
        interfaceIndex: opts.interfaceIndex ?? 0,
        afi,
        peerAddress: opts.peer.address,
        localAddress: opts.local.address,
        message,
      },
    });
  }

  /** BGP4MP_STATE_CHANGE_AS4; states as RFC 6396 codes or shadownet session states. */
  async writeStateChange(opts: {
    timestamp: number;
    microseconds?: number;
    peer: MrtWriterPeer;
    local: MrtWriterPeer;
    from: number | keyof typeof MrtStateCode;
    to: number | keyof typeof MrtStateCode;
  }): Promise<void> {
    const afi = opts.peer.address.includes(':') ? Afi.IPV6 : Afi.IPV4;
    const code = (s: number | keyof typeof MrtStateCode): number => (typeof s === 'number' ? s : MrtStateCode[s]);
    await this.write({
      timestamp: opts.timestamp,
      ...(opts.microseconds !== undefined ? { microseconds: opts.microseconds } : {}),
      type: opts.microseconds !== undefined ? MrtType.BGP4MP_ET : MrtType.BGP4MP,
      subtype: Bgp4mpSubtype.STATE_CHANGE_AS4,
      body: {
        kind: 'bgp4mp-state-change',
        asnBytes: 4,
        peerAs: opts.peer.asn,
        localAs: opts.local.asn,
        interfaceIndex: 0,
        afi,
        peerAddress: opts.peer.address,
        localAddress: opts.local.address,
        oldState: code(opts.from),
        newState: code(opts.to),
      },
    });
  }

  /** Hand buffered records to the stream, waiting for 'drain' when it pushes back. */
  async flush(): Promise<void> {
    if (this.#used === 0) return;
    const data = Buffer.from(this.#chunk.subarray(0, this.#used));
    this.#used = 0;
    this.bytesWritten += data.length;
    if (!this.#out.write(data)) await once(this.#out, 'drain');
  }

  /** Flush, and end the stream when the writer opened it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    if (this.#ownsStream) {
      const done = once(this.#out, 'finish');
      this.#out.end();
      await done;
    }
  }

  #tableAttributes(ra: RouteAttributes, afi: Afi): Uint8Array {
    const cached = this.#encoded.get(ra);
    const hit = cached?.find((c) => c.afi === afi);
    if (hit) return hit.bytes;
    // RFC 6396 §4.3.4: 4-octet ASNs, MP_REACH_NLRI reduced to next-hop length + next hop.
    const bytes = encodePathAttributes(fromRouteAttributes(ra, { fourOctetAs: true, afi }), {
      fourOctetAs: true,
      mpReachNextHopOnly: true,
    });
    this.#encoded.set(ra, [...(cached ?? []), { afi, bytes }]);
    return bytes;
  }
}

// ---------------------------------------------------------------------------
// Synthetic tables

export interface SyntheticTableOptions {
  /** Number of distinct IPv4 prefixes. */
  count: number;
  /** Same seed, same file. */
  seed: number;
  /** Distinct attribute sets to spread the prefixes over. Default 4,000. */
  attributeSets?: number;
  /** The peer the routes are recorded from. */
  peer?: MrtWriterPeer;
  /** Record time, seconds since the epoch. Default 2026-01-05T00:00:00Z. */
  timestamp?: number;
}

export interface SyntheticTableResult {
  readonly prefixes: number;
  readonly attributeSets: number;
  readonly bytes: number;
  readonly firstPrefix: string;
  readonly lastPrefix: string;
}

/** Small, fast, seedable PRNG (mulberry32). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function syntheticAttributes(n: number, rand: () => number, firstAs: number): RouteAttributes[] {
  const out: RouteAttributes[] = [];
  const pickAs = (): number => (rand() < 0.15 ? 200_000 + Math.floor(rand() * 200_000) : 1 + Math.floor(rand() * 63_999));
  for (let i = 0; i < n; i++) {
    const len = 2 + Math.floor(rand() * 7); // 2..8
    const asns = [firstAs];
    while (asns.length < len) asns.push(pickAs());
    const origin = asns[asns.length - 1];
    const communities: number[] = [];
    if (rand() < 0.5) {
      const k = 1 + Math.floor(rand() * 4);
      for (let j = 0; j < k; j++) communities.push(((firstAs & 0xffff) * 65536 + Math.floor(rand() * 65536)) >>> 0);
      communities.sort((a, b) => a - b);
    }
    const largeCommunities: [number, number, number][] =
      rand() < 0.1 ? [[origin, Math.floor(rand() * 1000), Math.floor(rand() * 1000)]] : [];
    out.push({
      origin: rand() < 0.9 ? Origin.IGP : Origin.INCOMPLETE,
      asPath: [{ type: 2, asns }],
      nextHop: `198.51.100.${1 + (i % 8)}`,
      nextHopLinkLocal: null,
      med: rand() < 0.3 ? Math.floor(rand() * 1000) : null,
      localPref: null,
      atomicAggregate: false,
      aggregator: null,
      communities,
      extendedCommunities: [],
      largeCommunities,
      originatorId: null,
      clusterList: [],
      unknown: [],
    });
  }
  return out;
}

/** First octets never used for synthetic routes: this-network, private, loopback, link-local-ish, multicast and up. */
const SKIP_FIRST_OCTET = new Set([0, 10, 100, 127, 169, 172, 192, 198, 203]);

/**
 * Write a TABLE_DUMP_V2 file with `count` distinct IPv4 prefixes from one
 * peer, spread over a few thousand realistic attribute sets (AS paths of 2–8
 * ASNs, some 4-octet; communities on about half, large communities on a
 * tenth, MED on a third). Mostly /24s, with a covering /22 now and then.
 * Deterministic for a seed; made for `gobgp mrt inject global FILE`.
 */
export async function writeSyntheticTableDump(path: string, opts: SyntheticTableOptions): Promise<SyntheticTableResult> {
  if (!Number.isInteger(opts.count) || opts.count < 0) throw new MrtEncodeError(`count must be a non-negative integer, got ${opts.count}`);
  const rand = rng(opts.seed);
  const peer = opts.peer ?? { address: '198.51.100.1', asn: 64512, bgpId: '198.51.100.1' };
  const timestamp = opts.timestamp ?? Date.UTC(2026, 0, 5) / 1000;
  const sets = syntheticAttributes(Math.max(1, opts.attributeSets ?? 4000), rand, peer.asn);
  const w = new MrtWriter(path);
  let first = '';
  let last = '';
  try {
    await w.writePeerIndexTable([peer], { timestamp, collectorBgpId: peer.bgpId ?? '0.0.0.0' });
    let written = 0;
    const address = new Uint8Array(4);
    const emit = async (a: number, b: number, c: number, length: number): Promise<void> => {
      address[0] = a;
      address[1] = b;
      address[2] = c;
      address[3] = 0;
      const attrs = sets[Math.floor(rand() * sets.length)];
      await w.writeRib({ afi: Afi.IPV4, length, address: address.slice() }, [{ peerIndex: 0, attributes: attrs }], { timestamp });
      last = `${a}.${b}.${c}.0/${length}`;
      if (written === 0) first = last;
      written++;
    };
    outer: for (let a = 1; a < 224; a++) {
      if (SKIP_FIRST_OCTET.has(a)) continue;
      for (let b = 0; b < 256; b++) {
        for (let c = 0; c < 256; c++) {
          if (written >= opts.count) break outer;
          if ((c & 3) === 0 && rand() < 0.05) {
            await emit(a, b, c, 22);
            if (written >= opts.count) break outer;
          }
          await emit(a, b, c, 24);
        }
      }
    }
    if (written < opts.count) throw new MrtEncodeError(`cannot make ${opts.count} distinct prefixes (made ${written})`);
  } finally {
    await w.close();
  }
  return { prefixes: opts.count, attributeSets: sets.length, bytes: w.bytesWritten, firstPrefix: first, lastPrefix: last };
}

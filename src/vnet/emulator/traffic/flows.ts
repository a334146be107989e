/**
 * Flows into packets. {@link flowFor} builds a {@link Flow} of a kind with
 * packet and byte counts the kind can realise; {@link materializeFlow} turns
 * a flow into real Ethernet/IPv4 or IPv6 frames, in time order over
 * [start, start + duration], whose number and summed length per direction
 * equal the flow's counts exactly.
 *
 * Layouts (L = 14 + 20, or 14 + 40 over IPv6):
 * - TCP kinds (http, tls, ssh, bulk, c2-beacon, exfiltration): client SYN (L+24,
 *   with an MSS option), handshake ACK, FIN and last ACK (L+20 each); server
 *   SYN-ACK (L+24) and FIN (L+20); every other packet is a data segment or a
 *   pure ACK (L+20+payload). The payload bytes per direction are therefore
 *   `bytes − control − (packets − control count) × (L+20)`.
 * - dns: query i asks A (even i) or AAAA (odd i) for the hostname; answer i
 *   answers query min(i, queries−1); EDNS(0) padding takes the bytes above
 *   each packet's minimum, spread evenly.
 * - dns-tunnel: queries for base32 labels under the hostname (the domain),
 *   TXT answers; longer labels and TXT data, then padding, take extra bytes.
 * - port-scan: probes (SYN with MSS, L+24) to successive ports starting at the
 *   server port; replies answer the first probes: `(bytesToClient −
 *   replies×(L+20)) / 4` SYN-ACKs (open ports) then RST-ACKs.
 * - syn-flood: SYNs without options (L+20) from random spoofed sources; the
 *   server's SYN-ACKs (L+24) answer the first ones.
 */
import { ShadownetError } from '../../../core/errors.js';
import { FlowDirection } from '../../../core/flow.js';
import { formatAddress, numberToIpv4, parseAddress } from '../../../core/prefix.js';
import { finishChecksum, onesComplementSum, pseudoHeaderSum, writeChecksum } from '../../../wire/checksum.js';
import * as dnsWire from '../../../wire/dns.js';
import { TcpFlag } from '../../../wire/tcp.js';
import type { Flow, FlowKind, FrameSink } from '../types.js';
import {
  dnsAnswer,
  dnsAnswerSize,
  dnsQuery,
  dnsQuerySize,
  flowShape,
  shapeHash,
  streamMinimum,
  streamMinimumOf,
  streamSegmentsOf,
  streamTurns,
  type StreamMinimum,
  type StreamSegments,
  tunnelLabels,
  txtStrings,
  type StreamLayout,
  type Turn,
} from './content.js';
import { createReseedableRng, mixSeed, mixSeed2, mixSeed3, type Rng } from './rng.js';

export const TrafficErrorCode = {
  /** The flow's counts cannot be realised by its kind's packets. */
  INFEASIBLE: 'SHADOWNET_ERR_FLOW_INFEASIBLE',
  INVALID: 'SHADOWNET_ERR_FLOW_INVALID',
} as const;
export type TrafficErrorCode = (typeof TrafficErrorCode)[keyof typeof TrafficErrorCode];

export class TrafficError extends ShadownetError {
  constructor(
    code: TrafficErrorCode,
    message: string,
    readonly flowId?: number,
  ) {
    super(code, flowId === undefined ? message : `flow ${flowId}: ${message}`);
    this.name = 'TrafficError';
  }
}

const TCP = 6;
const UDP = 17;
const SYN_OPTIONS = Uint8Array.of(2, 4, 0x05, 0xb4); // RFC 9293 §3.2: MSS 1460 (patched per family below)
const NO_OPTIONS = new Uint8Array(0);

/** Frame overhead below the transport header: Ethernet and IP. */
export function linkOverhead(v6: boolean): number {
  return 14 + (v6 ? 40 : 20);
}

/** Payload bytes per TCP segment (an Ethernet MTU of 1500). */
export function mss(v6: boolean): number {
  return 1500 - (v6 ? 40 : 20) - 20;
}

function isV6(address: string): boolean {
  return address.includes(':');
}

function layoutOf(kind: FlowKind, serverPort: number): StreamLayout | undefined {
  switch (kind) {
    case 'http':
      return 'http';
    case 'tls':
      return 'tls';
    case 'ssh':
      return 'ssh';
    case 'bulk':
      return 'raw';
    case 'c2-beacon':
      return serverPort === 80 || serverPort === 8080 ? 'http' : 'tls';
    case 'exfiltration':
      return serverPort === 443 ? 'tls' : 'raw';
    default:
      return undefined;
  }
}

const defaultHost = (f: { hostname?: string; server: string }) => f.hostname ?? (isV6(f.server) ? 'service.internal' : `host-${f.server.replace(/\./g, '-')}.internal`);

// ---- frame building ----

/** The MAC of an address: 02:00 then its last four bytes (locally administered). */
function macBytes(addr: Uint8Array): Uint8Array {
  const out = new Uint8Array(6);
  const o = addr.length - 4;
  out[0] = 0x02;
  out[2] = addr[o];
  out[3] = addr[o + 1];
  out[4] = addr[o + 2];
  out[5] = addr[o + 3];
  return out;
}

interface Endpoint {
  readonly text: string;
  readonly bytes: Uint8Array;
  readonly mac: Uint8Array;
}

function endpoint(text: string): Endpoint {
  const bytes = dottedQuad(text) ?? parseAddress(text);
  return { text, bytes, mac: macBytes(bytes) };
}

/** Canonical dotted-quad IPv4 text (what the generator writes) as bytes, or undefined for anything else. */
function dottedQuad(text: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || part === 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      // Leading zeros are left to parseAddress.
      if (digits > 0 && value === 0) return undefined;
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return undefined;
    } else return undefined;
  }
  if (digits === 0 || part !== 3) return undefined;
  out[3] = value;
  return out;
}

// Frames are carved out of shared slabs: one backing store per 1 MiB of frames rather than
// one per frame. A slab is freed when the last frame on it is, unless it belongs to a
// FrameMemory (see below).
const SLAB = 1 << 20;
let slab = new ArrayBuffer(SLAB);
let slabView = new DataView(slab);
let slabWords = new Uint32Array(slab);
let slabUsed = 0;

/**
 * Slabs for frames whose consumer is done with each one when its callback
 * returns: after {@link FrameMemory.reuse} the same slabs take the next
 * round of frames, instead of new ones left to the garbage collector.
 */
export class FrameMemory {
  readonly #slabs: ArrayBuffer[] = [];
  #next = 0;
  /** Frames made so far may be overwritten by those made from now on. */
  reuse(): void {
    this.#next = 0;
  }
  /** The next slab of this round (a new one when the round is larger than any before). */
  take(): ArrayBuffer {
    if (this.#next === this.#slabs.length) this.#slabs.push(new ArrayBuffer(SLAB));
    return this.#slabs[this.#next++];
  }
}

let memory: FrameMemory | null = null;
// The slab of frames outside any FrameMemory, and how much of it is used, while one is in use.
let ownSlab: ArrayBuffer | null = null;
let ownUsed = 0;

/** Make frames in `m`'s slabs from now on (null: in slabs of their own, freed with their frames). */
export function useFrameMemory(m: FrameMemory | null): void {
  if (memory === null && m !== null) {
    ownSlab = slab;
    ownUsed = slabUsed;
  }
  memory = m;
  if (m) setSlab(m.take());
  else if (ownSlab) {
    // Back to the slab left when a FrameMemory took over, where it was left.
    setSlab(ownSlab, ownUsed);
    ownSlab = null;
  }
}

function setSlab(b: ArrayBuffer, used = 0): void {
  slab = b;
  slabView = new DataView(b);
  slabWords = new Uint32Array(b);
  slabUsed = used;
}

function allocFrame(n: number): Uint8Array {
  if (n > SLAB / 8) return new Uint8Array(n);
  if (slabUsed + n > SLAB) setSlab(memory ? memory.take() : new ArrayBuffer(SLAB));
  const out = new Uint8Array(slab, slabUsed, n);
  slabUsed += (n + 7) & ~7;
  return out;
}

/**
 * The one's-complement sum of `buf[offset, offset + length)` folded to 16
 * bits and added to `initial`, as onesComplementSum gives it: a non-zero sum
 * that is a multiple of 0xffff folds to 0xffff, an all-zero one stays 0.
 * Where the range starts on an even byte, its aligned middle is read as
 * little-endian 32-bit words split into 16-bit halves (integer adds only):
 * that sums the byte-swapped 16-bit words, and swapping the folded sum back
 * gives the big-endian one (RFC 1071 §2(B): the sum is byte-order independent).
 */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

function sum32(buf: Uint8Array, offset: number, length: number, initial: number): number {
  let i = buf.byteOffset + offset;
  const end = i + length;
  let s = initial;
  if ((i & 1) === 0 && length >= 16) {
    const dv = buf.buffer === slab ? slabView : new DataView(buf.buffer);
    if ((i & 3) === 2) {
      s += dv.getUint16(i);
      i += 2;
    }
    const words = buf.buffer === slab ? slabWords : new Uint32Array(buf.buffer, 0, buf.buffer.byteLength >>> 2);
    const first = i >>> 2;
    const last = (end >>> 2) - 1;
    let swapped = 0;
    for (let w = first; w <= last; ) {
      // At most 8192 words per round: their halves sum below 2^31.
      const stop = Math.min(last, w + 8191);
      let acc = 0;
      for (; w <= stop; w++) {
        const x = words[w];
        acc += (x & 0xffff) + (x >>> 16);
      }
      swapped = (swapped + acc) % 0xffff || (swapped + acc === 0 ? 0 : 0xffff);
    }
    s += LITTLE_ENDIAN ? ((swapped & 0xff) << 8) | (swapped >>> 8) : swapped;
    i = (last + 1) << 2;
    if (i + 2 <= end) {
      s += dv.getUint16(i);
      i += 2;
    }
    if (i < end) s += dv.getUint8(i) << 8;
  } else {
    const dv = buf.buffer === slab ? slabView : new DataView(buf.buffer);
    for (; i + 4 <= end; i += 4) s += dv.getUint32(i);
    if (i + 2 <= end) {
      s += dv.getUint16(i);
      i += 2;
    }
    if (i < end) s += dv.getUint8(i) << 8;
  }
  if (s === 0) return 0;
  const r = s % 0xffff;
  return r === 0 ? 0xffff : r;
}

/**
 * Builds a flow's frames: Ethernet, IPv4 or IPv6 and the transport header
 * written in place from per-direction header templates (the addresses and
 * MACs are fixed for a flow), then the payload and the transport checksum.
 */
class FrameBuilder {
  readonly v6: boolean;
  readonly L: number;
  private readonly ipId: [number, number];
  private readonly flowLabel: number;
  /** Ethernet + IP header of each direction, [to server, to client], length fields still zero. */
  private readonly templates: [Uint8Array, Uint8Array];
  /** The pseudo-header sum of the two addresses. */
  private readonly addressSum: number;
  /** Sums of each template's IPv4 header (length, id, flags, protocol and checksum still zero). */
  private readonly headerSums: [number, number];

  constructor(
    readonly client: Endpoint,
    readonly server: Endpoint,
    rng: Rng,
  ) {
    this.v6 = client.bytes.length === 16;
    if (this.v6 !== (server.bytes.length === 16)) throw new TrafficError(TrafficErrorCode.INVALID, `client ${client.text} and server ${server.text} are of different families`);
    this.L = linkOverhead(this.v6);
    this.ipId = [rng.int(0x10000), rng.int(0x10000)];
    this.flowLabel = rng.int(0x100000);
    this.templates = [this.template(client, server), this.template(server, client)];
    this.addressSum = pseudoHeaderSum(client.bytes, server.bytes, 0, 0);
    this.headerSums = [onesComplementSum(this.templates[0], 14, 20), onesComplementSum(this.templates[1], 14, 20)];
  }

  private template(s: Endpoint, d: Endpoint): Uint8Array {
    const t = new Uint8Array(this.L);
    t.set(d.mac, 0);
    t.set(s.mac, 6);
    if (this.v6) {
      t[12] = 0x86;
      t[13] = 0xdd;
      // RFC 8200 §3: version 6, traffic class 0, the flow label; hop limit 64.
      t[14] = 0x60 | ((this.flowLabel >>> 16) & 0x0f);
      t[15] = (this.flowLabel >>> 8) & 0xff;
      t[16] = this.flowLabel & 0xff;
      t[21] = 64;
      t.set(s.bytes, 22);
      t.set(d.bytes, 38);
    } else {
      t[12] = 0x08;
      t[13] = 0x00;
      t[14] = 0x45; // RFC 791 §3.1: version 4, IHL 5
      t[22] = 64;
      t.set(s.bytes, 26);
      t.set(d.bytes, 30);
    }
    return t;
  }

  /**
   * One frame with a transport header of `th` bytes (left zero for `write`
   * to fill) and `payload`; the transport checksum is written last. `src`
   * and `dst` replace the flow's endpoints (a spoofed source).
   */
  private frame(toServer: boolean, proto: number, th: number, payload: Uint8Array, src?: Endpoint, dst?: Endpoint): Uint8Array {
    const segLen = th + payload.length;
    const v6 = this.v6;
    const ipLen = v6 ? 40 : 20;
    if (v6 ? segLen > 0xffff : 20 + segLen > 0xffff)
      throw new TrafficError(TrafficErrorCode.INFEASIBLE, v6 ? `an IPv6 packet of ${segLen} payload bytes needs a jumbogram` : `an IPv4 packet of ${20 + segLen} bytes exceeds 65535`);
    const out = allocFrame(14 + ipLen + segLen);
    const dir = toServer ? 0 : 1;
    const custom = src !== undefined || dst !== undefined;
    const s = src ?? (toServer ? this.client : this.server);
    const d = dst ?? (toServer ? this.server : this.client);
    out.set(custom ? this.template(s, d) : this.templates[dir], 0);
    if (v6) {
      out[18] = segLen >>> 8;
      out[19] = segLen & 0xff;
      out[20] = proto;
    } else {
      const total = 20 + segLen;
      const id = this.ipId[dir]++ & 0xffff;
      out[16] = total >>> 8;
      out[17] = total & 0xff;
      out[18] = id >>> 8;
      out[19] = id & 0xff;
      out[20] = proto === TCP ? 0x40 : 0; // DF on TCP
      out[23] = proto;
      // RFC 791 §3.1: the header checksum, computed with the field zero: the template's fixed
      // words plus the fields written here.
      let sum = custom ? 0 : this.headerSums[dir] + total + id + (out[20] << 8) + proto;
      if (custom) for (let i = 14; i < 34; i += 2) sum += (out[i] << 8) | out[i + 1];
      const c = finishChecksum(sum);
      out[24] = c >>> 8;
      out[25] = c & 0xff;
    }
    const so = 14 + ipLen;
    out.set(payload, so + th);
    return out;
  }

  private finish(out: Uint8Array, proto: number, src?: Endpoint, dst?: Endpoint, toServer = true): Uint8Array {
    const so = this.L;
    const length = out.length - so;
    // RFC 9293 §3.1, RFC 768: the pseudo-header's addresses (the same sum both ways), protocol and length.
    const addresses = src === undefined && dst === undefined ? this.addressSum : pseudoHeaderSum((src ?? (toServer ? this.client : this.server)).bytes, (dst ?? (toServer ? this.server : this.client)).bytes, 0, 0);
    const c = finishChecksum(sum32(out, so, length, addresses + proto + length));
    writeChecksum(out, so + (proto === TCP ? 16 : 6), proto === UDP && c === 0 ? 0xffff : c);
    return out;
  }

  /** A TCP segment (RFC 9293 §3.1), options included in the header. */
  tcp(toServer: boolean, sport: number, dport: number, seq: number, ack: number, flags: number, window: number, options: Uint8Array, payload: Uint8Array, src?: Endpoint, dst?: Endpoint): Uint8Array {
    const th = 20 + options.length;
    const out = this.frame(toServer, TCP, th, payload, src, dst);
    const o = this.L;
    out[o] = sport >>> 8;
    out[o + 1] = sport & 0xff;
    out[o + 2] = dport >>> 8;
    out[o + 3] = dport & 0xff;
    out[o + 4] = seq >>> 24;
    out[o + 5] = (seq >>> 16) & 0xff;
    out[o + 6] = (seq >>> 8) & 0xff;
    out[o + 7] = seq & 0xff;
    out[o + 8] = ack >>> 24;
    out[o + 9] = (ack >>> 16) & 0xff;
    out[o + 10] = (ack >>> 8) & 0xff;
    out[o + 11] = ack & 0xff;
    out[o + 12] = (th / 4) << 4;
    out[o + 13] = flags & 0xff;
    out[o + 14] = window >>> 8;
    out[o + 15] = window & 0xff;
    // Checksum (summed as zero, written last) and urgent pointer: a reused slab is not zeroed.
    out[o + 16] = 0;
    out[o + 17] = 0;
    out[o + 18] = 0;
    out[o + 19] = 0;
    if (options.length > 0) out.set(options, o + 20);
    return this.finish(out, TCP, src, dst, toServer);
  }

  udp(toServer: boolean, sport: number, dport: number, payload: Uint8Array): Uint8Array {
    const out = this.frame(toServer, UDP, 8, payload);
    const o = this.L;
    const len = 8 + payload.length;
    out[o] = sport >>> 8;
    out[o + 1] = sport & 0xff;
    out[o + 2] = dport >>> 8;
    out[o + 3] = dport & 0xff;
    out[o + 4] = len >>> 8;
    out[o + 5] = len & 0xff;
    out[o + 6] = 0;
    out[o + 7] = 0;
    return this.finish(out, UDP, undefined, undefined, toServer);
  }
}

function mssOption(v6: boolean): Uint8Array {
  const o = Uint8Array.from(SYN_OPTIONS);
  const m = mss(v6);
  o[2] = m >>> 8;
  o[3] = m & 0xff;
  return o;
}

interface Out {
  readonly frame: Uint8Array;
  readonly toServer: boolean;
}

// ---- TCP conversations ----

const TCP_CTRL = { clientPackets: 4, serverPackets: 2, clientExtra: 4, serverExtra: 4 } as const;
const scratchSegments: StreamSegments = { turns: 0, client: 0, server: 0 };

function segmentsOf(turns: readonly Turn[], v6: boolean): { client: number; server: number } {
  let client = 0;
  let server = 0;
  for (const t of turns) {
    const n = Math.ceil(t.size / mss(v6));
    if (t.toServer) client += n;
    else server += n;
  }
  return { client, server };
}

/** Payload bytes per direction that `packets`/`bytes` leave for a TCP conversation. */
function tcpPayload(v6: boolean, packets: number, bytes: number, toServer: boolean): number {
  const L = linkOverhead(v6);
  const extra = toServer ? TCP_CTRL.clientExtra : TCP_CTRL.serverExtra;
  return bytes - packets * (L + 20) - extra;
}

/** Stands for a frame of a direction that is not turned into bytes (see {@link materializeFlow}'s `directions`). */
const SKIPPED = new Uint8Array(0);

function materializeTcp(flow: Flow, layout: StreamLayout, fb: FrameBuilder, rng: Rng, directions: number): Out[] {
  const v6 = fb.v6;
  const host = defaultHost(flow);
  const shape = flowShape(flow.seed);
  const pc = tcpPayload(v6, flow.packetsToServer, flow.bytesToServer, true);
  const ps = tcpPayload(v6, flow.packetsToClient, flow.bytesToClient, false);
  const min = streamMinimum(layout, shape, host);
  if (flow.packetsToServer < TCP_CTRL.clientPackets || flow.packetsToClient < TCP_CTRL.serverPackets || pc < min.client || ps < min.server)
    throw new TrafficError(
      TrafficErrorCode.INFEASIBLE,
      `${flow.kind} needs at least ${TCP_CTRL.clientPackets}/${TCP_CTRL.serverPackets} packets and ${min.client}/${min.server} payload bytes per direction; the counts leave ${pc}/${ps}`,
      flow.id,
    );
  const turns = streamTurns(layout, shape, host, pc, ps, flow.seed);
  const seg = segmentsOf(turns, v6);
  const acksC = flow.packetsToServer - TCP_CTRL.clientPackets - seg.client;
  const acksS = flow.packetsToClient - TCP_CTRL.serverPackets - seg.server;
  if (acksC < 0 || acksS < 0)
    throw new TrafficError(TrafficErrorCode.INFEASIBLE, `${pc}/${ps} payload bytes need ${seg.client}/${seg.server} data segments; the counts allow ${seg.client + acksC}/${seg.server + acksS}`, flow.id);

  const out: Out[] = [];
  const nxt = [rng.int(0x100000000), rng.int(0x100000000)]; // [client, server] next sequence numbers
  const win = [64240, 65160];
  const cport = flow.clientPort;
  const sport = flow.serverPort;
  // A direction left out is still walked through: sequence and ACK numbers and times stay those of the whole flow.
  const keep = [(directions & FlowDirection.TO_SERVER) !== 0, (directions & FlowDirection.TO_CLIENT) !== 0];
  const send = (toServer: boolean, flags: number, payload: Uint8Array = NO_OPTIONS, options: Uint8Array = NO_OPTIONS, length = payload.length) => {
    const me = toServer ? 0 : 1;
    const seq = nxt[me];
    const ack = flags & TcpFlag.ACK ? nxt[1 - me] : 0;
    if (!keep[me]) out.push({ toServer, frame: SKIPPED });
    else out.push({ toServer, frame: toServer ? fb.tcp(true, cport, sport, seq, ack, flags, win[0], options, payload) : fb.tcp(false, sport, cport, seq, ack, flags, win[1], options, payload) });
    nxt[me] = (seq + length + (flags & (TcpFlag.SYN | TcpFlag.FIN) ? 1 : 0)) >>> 0;
  };
  // RFC 9293 §3.5: the three-way handshake.
  send(true, TcpFlag.SYN, NO_OPTIONS, mssOption(v6));
  send(false, TcpFlag.SYN | TcpFlag.ACK, NO_OPTIONS, mssOption(v6));
  send(true, TcpFlag.ACK);
  const sent = [0, 0];
  const acksDue = [acksS, acksC]; // ACKs the peer sends in reply to [client, server] data
  const total = [seg.client, seg.server];
  const m = mss(v6);
  // SSH turns draw their bytes from one generator in turn order: each is built even when left out.
  const buildAll = layout === 'ssh';
  for (const t of turns) {
    const me = t.toServer ? 0 : 1;
    const bytes = keep[me] || buildAll ? t.bytes() : null;
    const size = bytes === null ? t.size : bytes.length;
    for (let o = 0; o < size; o += m) {
      const last = o + m >= size;
      const end = Math.min(size, o + m);
      send(t.toServer, TcpFlag.ACK | (last ? TcpFlag.PSH : 0), bytes === null ? NO_OPTIONS : bytes.subarray(o, end), NO_OPTIONS, end - o);
      const j = sent[me]++;
      // Spread the peer's pure ACKs evenly over this direction's data segments.
      const due = Math.floor(((j + 1) * acksDue[me]) / total[me]) - Math.floor((j * acksDue[me]) / total[me]);
      for (let k = 0; k < due; k++) send(!t.toServer, TcpFlag.ACK);
    }
  }
  for (const me of [0, 1]) if (total[me] === 0) for (let k = 0; k < acksDue[me]; k++) send(me === 1, TcpFlag.ACK);
  // RFC 9293 §3.6: the client closes, the server closes, the client acknowledges.
  send(true, TcpFlag.FIN | TcpFlag.ACK);
  send(false, TcpFlag.FIN | TcpFlag.ACK);
  send(true, TcpFlag.ACK);
  return out;
}

// ---- DNS ----

function spread(total: number, n: number, i: number): number {
  return Math.floor(total / n) + (i < total % n ? 1 : 0);
}

function answerAddress(host: string, type: number): dnsWire.DnsRecordData {
  const h = mixSeed(host);
  // RFC 2544's benchmarking range and the documentation prefix: plausible, never someone's real address.
  if (type === dnsWire.DnsType.AAAA)
    return { type: 'AAAA', address: `2001:db8:${(h >>> 16).toString(16)}:${(h & 0xffff).toString(16)}::${((h >>> 8) & 0xff).toString(16) || '1'}` };
  return { type: 'A', address: `198.${18 + ((h >>> 16) & 1)}.${(h >>> 8) & 0xff}.${(h & 0xff) || 1}` };
}

function dnsMinimums(flow: Pick<Flow, 'packetsToServer' | 'packetsToClient'>, host: string, v6: boolean) {
  const L = linkOverhead(v6) + 8;
  const qType = (i: number) => (i % 2 === 0 ? dnsWire.DnsType.A : dnsWire.DnsType.AAAA);
  const q: number[] = [];
  const querySize = L + dnsQuerySize(host);
  for (let i = 0; i < flow.packetsToServer; i++) q.push(querySize);
  const a: number[] = [];
  const answerA = L + dnsAnswerSize(host, 4);
  const answerAAAA = L + dnsAnswerSize(host, 16);
  for (let i = 0; i < flow.packetsToClient; i++) a.push(qType(Math.min(i, flow.packetsToServer - 1)) === dnsWire.DnsType.A ? answerA : answerAAAA);
  return { q, a, qType };
}

// DNS messages of a flow differ from other flows' of the same name, type and size only in
// their id (RFC 1035 §4.1.1: the first two bytes): they are copies of encoded templates.
const dnsTemplates = new Map<string, Map<number, Uint8Array>>();
function dnsMessage(answer: boolean, id: number, host: string, type: number, size: number): Uint8Array {
  let byHost = dnsTemplates.get(host);
  if (!byHost) {
    if (dnsTemplates.size >= 256) dnsTemplates.clear();
    byHost = new Map();
    dnsTemplates.set(host, byHost);
  }
  const key = (size * 0x10000 + type) * 2 + (answer ? 1 : 0);
  let t = byHost.get(key);
  if (!t) {
    t = answer ? dnsAnswer(0, host, type, answerAddress(host, type), size) : dnsQuery(0, host, type, size);
    if (byHost.size >= 4096) byHost.clear();
    byHost.set(key, t);
  }
  const out = t.slice();
  out[0] = id >>> 8;
  out[1] = id & 0xff;
  return out;
}

function materializeDns(flow: Flow, fb: FrameBuilder, rng: Rng): Out[] {
  const host = defaultHost(flow);
  if (flow.packetsToServer < 1) throw new TrafficError(TrafficErrorCode.INFEASIBLE, 'a DNS flow needs at least one query', flow.id);
  const { q, a, qType } = dnsMinimums(flow, host, fb.v6);
  const excessQ = flow.bytesToServer - q.reduce((s, x) => s + x, 0);
  const excessA = flow.bytesToClient - a.reduce((s, x) => s + x, 0);
  if (excessQ < 0 || excessA < 0) throw new TrafficError(TrafficErrorCode.INFEASIBLE, `DNS packets need at least ${q.reduce((s, x) => s + x, 0)}/${a.reduce((s, x) => s + x, 0)} bytes`, flow.id);
  const L = fb.L + 8;
  const ids = Array.from({ length: flow.packetsToServer }, () => rng.int(0x10000));
  const out: Out[] = [];
  for (let i = 0; i < Math.max(q.length, a.length); i++) {
    if (i < q.length) out.push({ toServer: true, frame: fb.udp(true, flow.clientPort, flow.serverPort, dnsMessage(false, ids[i], host, qType(i), q[i] - L + spread(excessQ, q.length, i))) });
    if (i < a.length) {
      const qi = Math.min(i, q.length - 1);
      out.push({ toServer: false, frame: fb.udp(false, flow.serverPort, flow.clientPort, dnsMessage(true, ids[qi], host, qType(qi), a[i] - L + spread(excessA, a.length, i))) });
    }
  }
  return out;
}

// DNS tunnelling: the data rides in the query names.
const MAX_TXT = 1024;

function tunnelPlan(flow: Pick<Flow, 'packetsToServer' | 'packetsToClient' | 'bytesToServer'>, domain: string, v6: boolean) {
  const L = linkOverhead(v6) + 8;
  const domainWire = dnsWire.nameEncodingLength(domain);
  const qMin = L + dnsQuerySize(domain) + 2; // two more bytes: one data label of one character
  const maxData = 255 - domainWire;
  const excessQ = flow.bytesToServer - qMin * flow.packetsToServer;
  const queries = Array.from({ length: flow.packetsToServer }, (_, i) => {
    const size = qMin + (excessQ >= 0 ? spread(excessQ, flow.packetsToServer, i) : 0);
    const dataWire = Math.min(maxData, size - (L + dnsQuerySize(domain)));
    const nameWire = dataWire + domainWire;
    return { size, dataWire, nameWire };
  });
  const aMin = (i: number) => {
    const n = queries[Math.min(i, queries.length - 1)].nameWire;
    return L + 12 + n + 4 + n + 10 + 1 + 15;
  };
  return { queries, excessQ, aMin };
}

function materializeTunnel(flow: Flow, fb: FrameBuilder, rng: Rng): Out[] {
  const domain = flow.hostname ?? 'tunnel.example';
  if (flow.packetsToServer < 1) throw new TrafficError(TrafficErrorCode.INFEASIBLE, 'a DNS tunnel needs at least one query', flow.id);
  const plan = tunnelPlan(flow, domain, fb.v6);
  const aMins = Array.from({ length: flow.packetsToClient }, (_, i) => plan.aMin(i));
  const excessA = flow.bytesToClient - aMins.reduce((s, x) => s + x, 0);
  if (plan.excessQ < 0 || excessA < 0) throw new TrafficError(TrafficErrorCode.INFEASIBLE, 'the counts are below the smallest tunnel queries and answers', flow.id);
  const L = fb.L + 8;
  const names = plan.queries.map((q) => `${tunnelLabels(q.dataWire, rng)}.${domain}`);
  const ids = names.map(() => rng.int(0x10000));
  const out: Out[] = [];
  for (let i = 0; i < Math.max(names.length, aMins.length); i++) {
    if (i < names.length) out.push({ toServer: true, frame: fb.udp(true, flow.clientPort, flow.serverPort, dnsQuery(ids[i], names[i], dnsWire.DnsType.TXT, plan.queries[i].size - L)) });
    if (i < aMins.length) {
      const qi = Math.min(i, names.length - 1);
      const size = aMins[i] + spread(excessA, aMins.length, i);
      const txt = 1 + Math.min(MAX_TXT, size - aMins[i]);
      const data: dnsWire.DnsRecordData = { type: 'TXT', strings: txtStrings(txt, rng) };
      out.push({ toServer: false, frame: fb.udp(false, flow.serverPort, flow.clientPort, dnsAnswer(ids[qi], names[qi], dnsWire.DnsType.TXT, data, size - L)) });
    }
  }
  return out;
}

// ---- scans and floods ----

const TOP_PORTS = [80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723, 111, 995, 993, 5900, 1025, 587, 8888, 199, 1720, 465, 548, 113, 81, 6001, 10000, 514, 5060, 179, 1026, 2000, 8443, 8000, 32768, 554, 26, 1433, 49152, 2001, 515, 8008, 49154, 1027, 5666, 646];

/** The ports a scan of `n` probes visits: the server port, the commonly open ports, then upwards from 1. */
export function scanPorts(first: number, n: number): number[] {
  const seen = new Set<number>([first]);
  const ports = [first];
  const add = (p: number) => {
    if (ports.length < n && !seen.has(p)) {
      seen.add(p);
      ports.push(p);
    }
  };
  for (const p of TOP_PORTS) add(p);
  for (let p = 1; ports.length < n && p <= 65535; p++) add(p);
  for (let i = 0; ports.length < n; i++) ports.push(ports[i % 65535]);
  return ports;
}

function materializeScan(flow: Flow, fb: FrameBuilder, rng: Rng): Out[] {
  const n = flow.packetsToServer;
  const m = flow.packetsToClient;
  const L = fb.L;
  const open = (flow.bytesToClient - m * (L + 20)) / 4;
  if (flow.bytesToServer !== n * (L + 24) || m > n || !Number.isInteger(open) || open < 0 || open > m)
    throw new TrafficError(TrafficErrorCode.INFEASIBLE, `a port scan of ${n} probes is ${n * (L + 24)} bytes, and its ${m} ≤ ${n} replies ${m * (L + 20)} + 4 per open port`, flow.id);
  const ports = scanPorts(flow.serverPort, n);
  const out: Out[] = [];
  const seqs = ports.map(() => rng.int(0x100000000));
  for (let i = 0; i < n; i++) {
    out.push({ toServer: true, frame: fb.tcp(true, flow.clientPort, ports[i], seqs[i] >>> 0, 0, TcpFlag.SYN, 1024, mssOption(fb.v6), NO_OPTIONS) });
    if (i < m) {
      const ack = (seqs[i] + 1) >>> 0;
      // RFC 9293 §3.5.2: a closed port answers a SYN with RST|ACK; an open one with SYN|ACK.
      const frame = i < open
        ? fb.tcp(false, ports[i], flow.clientPort, rng.int(0x100000000) >>> 0, ack, TcpFlag.SYN | TcpFlag.ACK, 65160, mssOption(fb.v6), NO_OPTIONS)
        : fb.tcp(false, ports[i], flow.clientPort, 0, ack, TcpFlag.RST | TcpFlag.ACK, 0, NO_OPTIONS, NO_OPTIONS);
      out.push({ toServer: false, frame });
    }
  }
  return out;
}

function spoofedSource(rng: Rng, v6: boolean): Endpoint {
  if (v6) {
    const b = rng.bytes(new Uint8Array(16));
    b[0] = 0x20 | (b[0] & 0x1f); // 2000::/3, global unicast
    return endpoint(formatAddress(b, 0, 16));
  }
  while (true) {
    const n = rng.int(0x100000000);
    const a = n >>> 24;
    if (a === 0 || a === 10 || a === 127 || a >= 224) continue;
    return endpoint(numberToIpv4(n));
  }
}

function materializeFlood(flow: Flow, fb: FrameBuilder, rng: Rng): Out[] {
  const n = flow.packetsToServer;
  const m = flow.packetsToClient;
  const L = fb.L;
  if (flow.bytesToServer !== n * (L + 20) || flow.bytesToClient !== m * (L + 24) || m > n)
    throw new TrafficError(TrafficErrorCode.INFEASIBLE, `a SYN flood of ${n} SYNs is ${n * (L + 20)} bytes and its ${m} ≤ ${n} SYN-ACKs ${m * (L + 24)}`, flow.id);
  const out: Out[] = [];
  for (let i = 0; i < n; i++) {
    const src = spoofedSource(rng, fb.v6);
    const attacker: Endpoint = { ...src, mac: fb.client.mac }; // spoofed address, the attacker's own link
    const sport = 1024 + rng.int(64512);
    const seq = rng.int(0x100000000);
    out.push({ toServer: true, frame: fb.tcp(true, sport, flow.serverPort, seq >>> 0, 0, TcpFlag.SYN, 512, NO_OPTIONS, NO_OPTIONS, attacker, fb.server) });
    if (i < m)
      out.push({
        toServer: false,
        frame: fb.tcp(false, flow.serverPort, sport, rng.int(0x100000000) >>> 0, (seq + 1) >>> 0, TcpFlag.SYN | TcpFlag.ACK, 65160, mssOption(fb.v6), NO_OPTIONS, fb.server, src),
      });
  }
  return out;
}

// ---- materialize ----

/**
 * Turn `flow` into frames and hand them to `sink` in time order, from
 * `flow.start` to `flow.start + flow.duration`. Exactly `packetsToServer`
 * frames summing to `bytesToServer` go towards the server, and likewise
 * towards the client. Throws {@link TrafficError} (INFEASIBLE) when the
 * counts cannot be realised by the kind's packets; flows from
 * {@link flowFor} always can.
 */
export function materializeFlow(flow: Flow, sink: FrameSink, directions: number = FlowDirection.BOTH): void {
  const out = flowFrames(flow, directions);
  const times = frameTimes(flow, out.length);
  const toServer = (directions & FlowDirection.TO_SERVER) !== 0;
  const toClient = (directions & FlowDirection.TO_CLIENT) !== 0;
  for (let i = 0; i < out.length; i++) {
    const o = out[i];
    if (o.toServer ? toServer : toClient) sink(o.frame, times[i], o.toServer);
  }
}

/**
 * The frames of a flow in order, without times. With `directions` leaving
 * one out, TCP frames of that direction are not built (their place is kept
 * with an empty frame); other kinds are built whole.
 */
export function flowFrames(flow: Flow, directions: number = FlowDirection.BOTH): { frame: Uint8Array; toServer: boolean }[] {
  const rng = framesRng.reseed(mixSeed2(flow.seed, 'frames'));
  let client: Endpoint;
  let server: Endpoint;
  try {
    client = endpoint(flow.client);
    server = endpoint(flow.server);
  } catch (err) {
    throw new TrafficError(TrafficErrorCode.INVALID, `bad address: ${(err as Error).message}`, flow.id);
  }
  const fb = new FrameBuilder(client, server, rng);
  const layout = layoutOf(flow.kind, flow.serverPort);
  if (layout) return materializeTcp(flow, layout, fb, rng, directions);
  switch (flow.kind) {
    case 'dns':
      return materializeDns(flow, fb, rng);
    case 'dns-tunnel':
      return materializeTunnel(flow, fb, rng);
    case 'port-scan':
      return materializeScan(flow, fb, rng);
    case 'syn-flood':
      return materializeFlood(flow, fb, rng);
    default:
      throw new TrafficError(TrafficErrorCode.INVALID, `unknown flow kind ${JSON.stringify(flow.kind)}`, flow.id);
  }
}

// One generator for each use, started over per flow (materializing a flow never nests another).
const framesRng = createReseedableRng();
const timesRng = createReseedableRng();
let gapScratch = new Float64Array(1024);

/** Times of `n` frames: random gaps (from the seed) scaled to span the duration exactly. */
function frameTimes(flow: Flow, n: number): number[] {
  if (n === 0) return [];
  if (n === 1) return [flow.start];
  const rng = timesRng.reseed(mixSeed2(flow.seed, 'times'));
  if (gapScratch.length < n) gapScratch = new Float64Array(n * 2);
  const gaps = gapScratch;
  let sum = 0;
  for (let i = 0; i < n - 1; i++) {
    gaps[i] = 0.05 + rng.exp(1);
    sum += gaps[i];
  }
  const times = new Array<number>(n);
  times[0] = flow.start;
  let acc = 0;
  for (let i = 0; i < n - 1; i++) {
    acc += gaps[i];
    times[i + 1] = i === n - 2 ? flow.start + flow.duration : flow.start + (flow.duration * acc) / sum;
  }
  return times;
}

// ---- flowFor ----

export interface FlowSpec {
  readonly id: number;
  readonly vnet: string;
  readonly app?: string | null;
  readonly label?: string | null;
  readonly client: string;
  readonly clientPort: number;
  readonly server: string;
  readonly serverPort: number;
  readonly start: number;
  /** HTTP Host, TLS SNI, DNS name; the tunnel's domain for dns-tunnel. */
  readonly hostname?: string;
  readonly seed: number;
  /** Approximate total wire bytes (both directions); exfiltration: bytes uploaded. A default per kind when absent. */
  readonly targetBytes?: number;
  /** Probes (port-scan), SYNs (syn-flood), queries (dns, dns-tunnel). */
  readonly packets?: number;
  /** Replies to those (default: one per probe/query). */
  readonly replies?: number;
  /** Duration in ms; a realistic one for the kind and size when absent. */
  readonly duration?: number;
}

/** Mean total bytes of a flow of each kind when no target is given. */
export const DEFAULT_FLOW_BYTES: Readonly<Record<FlowKind, number>> = {
  dns: 220,
  http: 20_000,
  tls: 60_000,
  ssh: 150_000,
  bulk: 5_000_000,
  'port-scan': 0,
  'syn-flood': 0,
  'dns-tunnel': 0,
  'c2-beacon': 3_000,
  exfiltration: 50_000_000,
};

const flowForRng = createReseedableRng();

/** A flow's counts and duration as {@link flowFor} sizes them (what {@link flowCounts} writes). */
export interface FlowCounts {
  packetsToServer: number;
  packetsToClient: number;
  bytesToServer: number;
  bytesToClient: number;
  /** IP protocol: 6 TCP, 17 UDP. */
  protocol: number;
  /** ms; `spec.duration` when given. */
  duration: number;
}

/** A fresh {@link FlowCounts} to reuse with {@link flowCounts}. */
export function createFlowCounts(): FlowCounts {
  return { packetsToServer: 0, packetsToClient: 0, bytesToServer: 0, bytesToClient: 0, protocol: 0, duration: 0 };
}

const scratchMinimum: StreamMinimum = { client: 0, server: 0 };
const scratchCounts = createFlowCounts();

function setCounts(out: FlowCounts, spec: FlowSpec, packetsToServer: number, packetsToClient: number, bytesToServer: number, bytesToClient: number, protocol: number, ms: number): FlowCounts {
  out.packetsToServer = packetsToServer;
  out.packetsToClient = packetsToClient;
  out.bytesToServer = bytesToServer;
  out.bytesToClient = bytesToClient;
  out.protocol = protocol;
  out.duration = spec.duration ?? Math.max(0, Math.round(ms * 1000) / 1000);
  return out;
}

/**
 * A flow of `kind` with packet and byte counts its packets realise exactly
 * (see {@link materializeFlow}), sized around `spec.targetBytes`, with a
 * realistic duration. Deterministic from `spec.seed`.
 */
export function flowFor(kind: FlowKind, spec: FlowSpec): Flow {
  const c = flowCounts(kind, spec, scratchCounts);
  return {
    id: spec.id,
    kind,
    vnet: spec.vnet,
    app: spec.app ?? null,
    label: spec.label ?? null,
    client: spec.client,
    clientPort: spec.clientPort,
    server: spec.server,
    serverPort: spec.serverPort,
    start: spec.start,
    hostname: spec.hostname,
    seed: spec.seed,
    protocol: c.protocol,
    duration: c.duration,
    packetsToServer: c.packetsToServer,
    packetsToClient: c.packetsToClient,
    bytesToServer: c.bytesToServer,
    bytesToClient: c.bytesToClient,
  };
}

/**
 * The counts and duration {@link flowFor} gives a flow of `kind` for `spec`,
 * written into `out` (no flow object is built: the generator's hot path).
 * Of the spec only `server`, `serverPort`, `hostname`, `seed`, `targetBytes`,
 * `packets`, `replies`, `duration` (and `id`, for errors) are read.
 */
export function flowCounts(kind: FlowKind, spec: FlowSpec, out: FlowCounts): FlowCounts {
  const v6 = isV6(spec.server);
  // One generator, started over per flow: the stream of createRng(mixSeed(seed, 'flowFor', kind)).
  const rng = flowForRng.reseed(mixSeed3(spec.seed, 'flowFor', kind));
  const L = linkOverhead(v6);
  const layout = layoutOf(kind, spec.serverPort);
  if (layout) {
    const host = defaultHost(spec);
    // The shape's lengths by arithmetic: the values flowShape and streamMinimum give.
    const h = shapeHash(spec.seed);
    const min = streamMinimumOf(layout, h, host, scratchMinimum);
    const target = Math.max(0, spec.targetBytes ?? DEFAULT_FLOW_BYTES[kind]);
    const m = mss(v6);
    const payload = Math.floor(target * (m / (m + L + 20)));
    let client: number;
    let server: number;
    switch (kind) {
      case 'exfiltration':
        client = Math.max(min.client, payload);
        server = min.server + rng.int(400);
        break;
      case 'c2-beacon':
        client = min.client + 60 + rng.int(300);
        server = min.server + 100 + rng.int(1200);
        if (spec.targetBytes !== undefined) server = Math.max(min.server, payload - client);
        break;
      case 'ssh':
        client = Math.max(min.client, Math.floor(payload * 0.3));
        server = Math.max(min.server, payload - client);
        break;
      case 'bulk':
        client = 80 + rng.int(300);
        server = Math.max(0, payload - client);
        break;
      default:
        client = min.client + rng.int(kind === 'tls' ? 800 : 300);
        server = Math.max(min.server, payload - client);
    }
    // Counts by arithmetic over the turns' sizes: no bytes are built here. Control packets carry
    // L+20 bytes plus their extras (see TCP_CTRL), every other packet L+20 plus its payload.
    const seg = streamSegmentsOf(layout, h, host, client, server, m, scratchSegments);
    // Delayed ACKs (RFC 9293 §3.8.6.3): about one pure ACK for every two segments received.
    const packetsToServer = TCP_CTRL.clientPackets + seg.client + Math.ceil(seg.server / 2);
    const packetsToClient = TCP_CTRL.serverPackets + seg.server + Math.ceil(seg.client / 2);
    const bytesToServer = packetsToServer * (L + 20) + TCP_CTRL.clientExtra + client;
    const bytesToClient = packetsToClient * (L + 20) + TCP_CTRL.serverExtra + server;
    const rtt = 1 + rng.exp(kind === 'c2-beacon' || kind === 'exfiltration' ? 60 : 15);
    const rate = (20 + rng.int(480)) * 1e6; // bits/s the path gives this connection
    let ms = rtt * (seg.turns + 2) + ((bytesToServer + bytesToClient) * 8 * 1000) / rate;
    if (kind === 'ssh') ms += seg.turns * (200 + rng.exp(1500)); // a person typing
    return setCounts(out, spec, packetsToServer, packetsToClient, bytesToServer, bytesToClient, TCP, ms);
  }
  switch (kind) {
    case 'dns': {
      const host = defaultHost(spec);
      const q = Math.max(1, spec.packets ?? 1);
      const a = Math.max(0, spec.replies ?? q);
      // The sizes dnsMinimums gives, summed without building its arrays.
      const q1 = L + 8 + dnsQuerySize(host);
      const aA = L + 8 + dnsAnswerSize(host, 4);
      const aAAAA = L + 8 + dnsAnswerSize(host, 16);
      let minA = 0;
      let maxSize = q1;
      for (let i = 0; i < a; i++) {
        const size = Math.min(i, q - 1) % 2 === 0 ? aA : aAAAA;
        minA += size;
        if (size > maxSize) maxSize = size;
      }
      const minQ = q * q1;
      const extra = spec.targetBytes === undefined ? rng.int(40) : Math.max(0, spec.targetBytes - minQ - minA);
      const cap = (n: number) => n * Math.max(0, 1514 - maxSize);
      const extraQ = Math.min(cap(q), Math.floor(extra / 4));
      const extraA = a === 0 ? 0 : Math.min(cap(a), extra - extraQ);
      return setCounts(out, spec, q, a, minQ + extraQ, minA + extraA, UDP, q * (0.5 + rng.exp(12)));
    }
    case 'dns-tunnel': {
      const domain = spec.hostname ?? 'tunnel.example';
      const q = Math.max(1, spec.packets ?? 20);
      const a = Math.max(0, spec.replies ?? q);
      const L8 = L + 8;
      // Names of 120..230 bytes carry the data; answers return 100..600 bytes of TXT.
      const perQ = L8 + dnsQuerySize(domain) + 120 + rng.int(Math.max(1, 230 - 120 - dnsWire.nameEncodingLength(domain)));
      const bytesToServer = perQ * q;
      const plan = tunnelPlan({ packetsToServer: q, packetsToClient: a, bytesToServer }, domain, v6);
      let bytesToClient = 0;
      for (let i = 0; i < a; i++) bytesToClient += plan.aMin(i) + 100 + rng.int(500);
      return setCounts(out, spec, q, a, bytesToServer, bytesToClient, UDP, q * (20 + rng.exp(200)));
    }
    case 'port-scan': {
      const n = Math.max(1, spec.packets ?? 100);
      const m = Math.min(n, spec.replies ?? n);
      const open = Math.min(m, 1 + rng.int(3));
      return setCounts(out, spec, n, m, n * (L + 24), m * (L + 20) + 4 * open, TCP, n * (0.2 + rng.exp(2)));
    }
    case 'syn-flood': {
      const n = Math.max(1, spec.packets ?? 1000);
      const m = Math.min(n, spec.replies ?? n);
      return setCounts(out, spec, n, m, n * (L + 20), m * (L + 24), TCP, n * 0.1);
    }
    default:
      throw new TrafficError(TrafficErrorCode.INVALID, `unknown flow kind ${JSON.stringify(kind)}`, spec.id);
  }
}

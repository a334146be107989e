/**
 * A synthetic IPv4 feed for ingest benchmarks, encoded straight to BGP
 * UPDATE messages: `count` distinct prefixes (mostly /24s) spread over
 * attribute groups shaped like a real table (AS paths of 2–8 ASNs, some
 * 4-octet; communities on about half, large communities on a tenth, MED on
 * a third). Deterministic for a seed. Prefixes of one group share UPDATEs,
 * as a real speaker packs them.
 */
import { connect } from 'node:net';

const MAX_MESSAGE = 4096;
/** First octets left out: this-network, private, CGN, loopback, link-local, test nets. */
const SKIP_FIRST_OCTET = new Set([0, 10, 100, 127, 169, 172, 192, 198, 203]);

export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const u32 = (n) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

function attribute(flags, code, value) {
  return value.length > 255 ? [flags | 0x10, code, value.length >> 8, value.length & 0xff, ...value] : [flags, code, value.length, ...value];
}

function attributeBlock(rand, firstAs, i) {
  const pickAs = () => (rand() < 0.15 ? 200_000 + Math.floor(rand() * 200_000) : 1 + Math.floor(rand() * 63_999));
  const len = 2 + Math.floor(rand() * 7);
  const asns = [firstAs];
  while (asns.length < len) asns.push(pickAs());
  const out = [];
  out.push(...attribute(0x40, 1, [rand() < 0.9 ? 0 : 2]));
  out.push(...attribute(0x40, 2, [2, asns.length, ...asns.flatMap(u32)]));
  out.push(...attribute(0x40, 3, [198, 51, 100, 1 + (i % 8)]));
  if (rand() < 0.3) out.push(...attribute(0x80, 4, u32(Math.floor(rand() * 1000))));
  if (rand() < 0.5) {
    const k = 1 + Math.floor(rand() * 4);
    const cs = [];
    for (let j = 0; j < k; j++) cs.push((((firstAs & 0xffff) << 16) | Math.floor(rand() * 65536)) >>> 0);
    cs.sort((a, b) => a - b);
    out.push(...attribute(0xc0, 8, cs.flatMap(u32)));
  }
  if (rand() < 0.1) out.push(...attribute(0xc0, 32, [asns[asns.length - 1], Math.floor(rand() * 1000), Math.floor(rand() * 1000)].flatMap(u32)));
  return Uint8Array.from(out);
}

function* prefixes(count) {
  let n = 0;
  for (let a = 1; a < 224; a++) {
    if (SKIP_FIRST_OCTET.has(a)) continue;
    for (let b = 0; b < 256; b++)
      for (let c = 0; c < 256; c++) {
        if (n++ >= count) return;
        yield [a, b, c];
      }
  }
  throw new RangeError(`cannot make ${count} distinct /24 prefixes`);
}

/**
 * Builds the feed as a list of UPDATE messages.
 * @returns {{ updates: Uint8Array[], bytes: number, prefixes: number, groups: number, first: string, last: string }}
 */
export function buildFeed({ count, seed = 1, firstAs = 64512, groups = 4000 }) {
  const rand = rng(seed);
  const sets = Array.from({ length: Math.max(1, groups) }, (_, i) => attributeBlock(rand, firstAs, i));
  const updates = [];
  let bytes = 0;
  let first = '';
  let last = '';
  let pending = [];
  let attrs = sets[0];
  let left = 0;
  const flush = () => {
    if (pending.length === 0) return;
    const nlri = pending.length * 4;
    const len = 19 + 2 + 2 + attrs.length + nlri;
    const m = new Uint8Array(len);
    m.fill(0xff, 0, 16);
    m[16] = len >> 8;
    m[17] = len & 0xff;
    m[18] = 2;
    m[21] = attrs.length >> 8;
    m[22] = attrs.length & 0xff;
    m.set(attrs, 23);
    let off = 23 + attrs.length;
    for (const [a, b, c] of pending) {
      m[off] = 24;
      m[off + 1] = a;
      m[off + 2] = b;
      m[off + 3] = c;
      off += 4;
    }
    updates.push(m);
    bytes += len;
    pending = [];
  };
  for (const p of prefixes(count)) {
    if (left === 0) {
      flush();
      attrs = sets[Math.floor(rand() * sets.length)];
      // Group sizes vary as in real tables: most small, a few large.
      left = 1 + Math.floor(-Math.log(1 - rand()) * (count / sets.length));
    }
    if (23 + attrs.length + (pending.length + 1) * 4 > MAX_MESSAGE) flush();
    pending.push(p);
    left--;
    last = `${p[0]}.${p[1]}.${p[2]}.0/24`;
    if (!first) first = last;
  }
  flush();
  return { updates, bytes, prefixes: count, groups: sets.length, first, last };
}

/** A BGP OPEN: 4-octet AS, IPv4 unicast, route refresh. */
export function openMessage({ asn, routerId, holdTime = 240 }) {
  const caps = [1, 4, 0, 1, 0, 1, 2, 0, 65, 4, ...u32(asn)];
  const params = [2, caps.length, ...caps];
  const myAs = asn > 0xffff ? 23456 : asn;
  const body = [4, myAs >> 8, myAs & 0xff, holdTime >> 8, holdTime & 0xff, ...routerId.split('.').map(Number), params.length, ...params];
  const m = new Uint8Array(19 + body.length);
  m.fill(0xff, 0, 16);
  m[17] = m.length;
  m[18] = 1;
  m.set(body, 19);
  return m;
}

const KEEPALIVE = Uint8Array.from([...new Array(16).fill(0xff), 0, 19, 4]);
const END_OF_RIB = Uint8Array.from([...new Array(16).fill(0xff), 0, 23, 2, 0, 0, 0, 0]);

/**
 * Our own speaker as the sending side: connects from `localAddress`,
 * establishes, writes every UPDATE (respecting socket backpressure) and an
 * End-of-RIB. Resolves with the time the last byte was handed to the kernel.
 */
export async function sendFeed({ host, port, localAddress, asn, routerId, updates }) {
  const socket = connect({ host, port, localAddress });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buffered = Buffer.alloc(0);
  let established;
  const up = new Promise((resolve, reject) => {
    established = resolve;
    socket.once('close', () => reject(new Error('the speaker closed the connection')));
  });
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 19) {
      const len = buffered.readUInt16BE(16);
      if (buffered.length < len) break;
      const type = buffered[18];
      if (type === 1) socket.write(KEEPALIVE);
      else if (type === 4) {
        socket.write(KEEPALIVE);
        established();
      } else if (type === 3) {
        console.error(`NOTIFICATION ${buffered[19]}/${buffered[20]} from the speaker`);
      }
      buffered = buffered.subarray(len);
    }
  });
  socket.write(openMessage({ asn, routerId }));
  await up;
  const started = performance.now();
  for (const u of updates) {
    if (!socket.write(u)) await new Promise((r) => socket.once('drain', r));
  }
  socket.write(END_OF_RIB);
  return { socket, started, sentAt: performance.now() };
}

// TSE classification benchmark: a 1,000,000-prefix IPv4 + 100,000-prefix
// IPv6 routing fact table (synthetic, a few thousand attribute groups), 50
// mirror sessions mixing CIDR, port and routing-fact matches, and an
// in-memory set of Ethernet frames (IPv4/IPv6, TCP/UDP, mixed sizes, 20k
// flows). Reports packets per second for dissect + classify on one core, the
// IPv4 LPM cost, and the throughput while a 10k route-update burst is applied
// and committed between batches. Prints one JSON line.
// Run after `npm run build`:  node bench/tse-classify.mjs [v4Prefixes] [v6Prefixes]
// SHADOWNET_DIST points at another build output folder.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const dist = process.env.SHADOWNET_DIST ? pathToFileURL(resolve(process.env.SHADOWNET_DIST) + '/').href : new URL('../dist/', import.meta.url).href;
const load = (p) => import(new URL(p, dist).href);
const { RouteFactTable } = await load('shadow/fact-table.js');
const { Classifier } = await load('shadow/classifier.js');
const { IpSetRegistry } = await load('shadow/ipset.js');
const { PacketView, dissect } = await load('wire/dissect.js');
const { MirrorSessionSchema } = await load('vnet/config.js');

const N4 = Number(process.argv[2] ?? 1_000_000);
const N6 = Number(process.argv[3] ?? 100_000);
const FLOWS = 20_000;
const PACKETS = 200_000;
const BATCH = 256;

let seed = 0x2545f491;
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
};
const randInt = (n) => Math.floor(rand() * n);

// ---- attribute groups: 2000 attribute sets over 4 peers ----
const PEERS = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '2001:db8::1'];
const groups = [];
for (let i = 0; i < 2000; i++) {
  const origin = 64512 + (i % 700);
  const transit = [3356, 1299, 174, 2914][i % 4];
  const peer = PEERS[i % 4];
  groups.push({
    router: 'r1',
    peer,
    peerAs: 65000 + (i % 4),
    attributes: {
      origin: 0,
      asPath: [{ type: 2, asns: i % 5 === 0 ? [65000 + (i % 4), transit, 6939, origin] : [65000 + (i % 4), transit, origin] }],
      nextHop: peer,
      nextHopLinkLocal: null,
      med: null,
      localPref: null,
      atomicAggregate: false,
      aggregator: null,
      communities: [((transit & 0xffff) << 16) | (i % 300), (65000 << 16) | (i % 7)].map((c) => c >>> 0),
      extendedCommunities: [],
      largeCommunities: i % 10 === 0 ? [[65000, 1, i % 20]] : [],
      originatorId: null,
      clusterList: [],
      unknown: [],
    },
  });
}

// ---- prefixes ----
const LEN4 = [
  [24, 0.58],
  [23, 0.09],
  [22, 0.1],
  [21, 0.05],
  [20, 0.05],
  [19, 0.04],
  [18, 0.02],
  [17, 0.01],
  [16, 0.03],
  [25, 0.01],
  [28, 0.01],
  [32, 0.01],
];
const pickLen = (table) => {
  let r = rand();
  for (const [len, p] of table) if ((r -= p) <= 0) return len;
  return table[0][0];
};
const t0 = performance.now();
const entries = [];
const routed4 = new Uint32Array(N4);
{
  const seen = new Set();
  while (entries.length < N4) {
    const len = pickLen(LEN4);
    // Public-looking space 11.0.0.0 .. 223.255.255.255, avoiding the vnet's 10/8.
    const a = (((11 + randInt(212)) << 24) | randInt(1 << 24)) >>> 0;
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    const net = (a & mask) >>> 0;
    const key = net * 64 + len;
    if (seen.has(key)) continue;
    seen.add(key);
    routed4[entries.length] = (net + randInt(2 ** (32 - len))) >>> 0;
    entries.push({
      prefix: { afi: 1, length: len, address: Uint8Array.of(net >>> 24, (net >>> 16) & 255, (net >>> 8) & 255, net & 255) },
      best: groups[randInt(groups.length)],
    });
  }
}
const LEN6 = [
  [48, 0.45],
  [32, 0.1],
  [44, 0.1],
  [40, 0.08],
  [36, 0.05],
  [29, 0.04],
  [56, 0.08],
  [64, 0.1],
];
const routed6 = [];
{
  const seen = new Set();
  let made = 0;
  while (made < N6) {
    const len = pickLen(LEN6);
    const addr = new Uint8Array(16);
    addr[0] = 0x20;
    addr[1] = 0x01 + randInt(3);
    for (let i = 2; i < 8; i++) addr[i] = randInt(256);
    for (let bit = len; bit < 128; bit++) addr[bit >> 3] &= ~(0x80 >> (bit & 7));
    const key = Buffer.from(addr).toString('hex') + '/' + len;
    if (seen.has(key)) continue;
    seen.add(key);
    made++;
    entries.push({ prefix: { afi: 2, length: len, address: addr }, best: groups[randInt(groups.length)] });
    if (routed6.length < 5000) {
      const host = addr.slice();
      for (let i = 8; i < 16; i++) host[i] = randInt(256);
      routed6.push(host);
    }
  }
}
const facts = new RouteFactTable({ vnet: 'bench' });
const loadStart = performance.now();
facts.load(entries, Date.now() - 3_600_000);
facts.commit();
const loadMs = performance.now() - loadStart;

// ---- 50 sessions ----
const ipSets = new IpSetRegistry();
ipSets.replace(
  'intel',
  Array.from({ length: 5000 }, (_, i) => {
    const a = routed4[i * 7];
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  }),
);
const vnet = {
  name: 'bench',
  cidrs: ['10.0.0.0/8', 'fd00::/8'],
  prefixTags: Array.from({ length: 200 }, (_, i) => ({ prefix: `10.${i}.0.0/16`, tags: { app: `app${i % 20}`, critical: i % 10 === 0 } })),
};
const raw = [];
for (let i = 0; i < 15; i++) raw.push({ rules: [{ action: 'accept', protocol: 'tcp', destination: [`${20 + i * 10}.0.0.0/8`], destinationPorts: 443 + i }] });
for (let i = 0; i < 15; i++)
  raw.push({
    rules: [
      { action: 'reject', protocol: 'udp', destinationPorts: 53 },
      { action: 'accept', protocol: i % 2 ? 'udp' : 'tcp', destinationPorts: `${1000 + i * 100}-${1050 + i * 100}`, source: [`10.${i}.0.0/16`] },
    ],
  });
const routeMatches = [
  { originAs: [64600] },
  { community: ['3356:1*'.replace('1*', '12')] },
  { community: ['1299:*'] },
  { largeCommunity: ['65000:1:*'] },
  { asPath: '_6939_' },
  { asPath: '_174_6451[0-9]$' },
  { peer: ['192.0.2.3'] },
  { nextHop: ['192.0.2.2'], originAs: [64700, 64701] },
  { announcedWithin: '10m' },
  { noRoute: true },
  { ipSet: 'intel' },
  { tags: { critical: true } },
];
for (let i = 0; i < 20; i++) {
  const m = routeMatches[i % routeMatches.length];
  const side = m.tags ? 'sourceRoute' : 'destinationRoute';
  raw.push({ rules: [{ action: 'accept', protocol: i % 3 === 0 ? 'any' : 'tcp', [side]: m }] });
}
const sessions = raw.map((s, i) => MirrorSessionSchema.parse({ name: `s${i}`, vnet: 'bench', priority: 100 + ((i * 37) % 50), target: 't', ...s }));
const classifier = Classifier.compile(sessions, { vnets: [vnet], facts: new Map([['bench', facts]]), ipSets });

// ---- packets: 20k flows, mixed sizes, 90% IPv4, both directions ----
function frame(out, off, v6, src, dst, proto, sport, dport, size) {
  const ipLen = v6 ? 40 : 20;
  const l4 = proto === 6 ? 20 : 8;
  const len = Math.max(14 + ipLen + l4, size);
  out.fill(0, off, off + len);
  out[off + 12] = v6 ? 0x86 : 0x08;
  out[off + 13] = v6 ? 0xdd : 0x00;
  const ip = off + 14;
  const payload = len - 14 - ipLen;
  if (v6) {
    out[ip] = 0x60;
    out[ip + 4] = payload >> 8;
    out[ip + 5] = payload & 255;
    out[ip + 6] = proto;
    out[ip + 7] = 64;
    out.set(src, ip + 8);
    out.set(dst, ip + 24);
  } else {
    out[ip] = 0x45;
    out[ip + 2] = (payload + 20) >> 8;
    out[ip + 3] = (payload + 20) & 255;
    out[ip + 8] = 64;
    out[ip + 9] = proto;
    for (let i = 0; i < 4; i++) {
      out[ip + 12 + i] = (src >>> (24 - 8 * i)) & 255;
      out[ip + 16 + i] = (dst >>> (24 - 8 * i)) & 255;
    }
  }
  const t = ip + ipLen;
  out[t] = sport >> 8;
  out[t + 1] = sport & 255;
  out[t + 2] = dport >> 8;
  out[t + 3] = dport & 255;
  if (proto === 6) {
    out[t + 12] = 0x50;
    out[t + 13] = 0x18;
  } else {
    out[t + 4] = (payload >> 8) & 255;
    out[t + 5] = payload & 255;
  }
  return len;
}
const flows = [];
const PORTS = [443, 80, 53, 1010, 1220, 1530, 22, 8080, 444, 450];
for (let f = 0; f < FLOWS; f++) {
  const v6 = f % 10 === 9;
  const proto = f % 4 === 3 ? 17 : 6;
  const dport = f % 3 === 0 ? 1000 + randInt(2000) : PORTS[randInt(PORTS.length)];
  const sport = 1024 + randInt(60000);
  if (v6) {
    const src = new Uint8Array(16);
    src[0] = 0xfd;
    for (let i = 1; i < 16; i++) src[i] = randInt(256);
    const dst = routed6[randInt(routed6.length)];
    flows.push({ v6, src, dst, proto, sport, dport });
  } else {
    const src = (0x0a000000 | (randInt(256) << 16) | randInt(65536)) >>> 0;
    const dst = f % 10 === 0 ? (0xc0000000 | randInt(1 << 24)) >>> 0 : routed4[randInt(N4)];
    flows.push({ v6, src, dst, proto, sport, dport });
  }
}
const SIZES = [64, 64, 64, 128, 256, 576, 1500, 1500, 1500, 1200];
const data = new Uint8Array(PACKETS * 1500);
const offsets = new Uint32Array(PACKETS);
const lengths = new Uint32Array(PACKETS);
{
  let used = 0;
  for (let i = 0; i < PACKETS; i++) {
    const fl = flows[randInt(FLOWS)];
    const back = rand() < 0.45;
    offsets[i] = used;
    lengths[i] = back
      ? frame(data, used, fl.v6, fl.dst, fl.src, fl.proto, fl.dport, fl.sport, SIZES[randInt(SIZES.length)])
      : frame(data, used, fl.v6, fl.src, fl.dst, fl.proto, fl.sport, fl.dport, SIZES[randInt(SIZES.length)]);
    used += lengths[i];
  }
}
const buildMs = performance.now() - t0;

// ---- measurements ----
const view = new PacketView();
const vc = classifier.forVnet('bench');
const now = Date.now();
let copied = 0;
let bad = 0;
function pass(from, to) {
  for (let i = from; i < to; i++) {
    if (!dissect(data, offsets[i], lengths[i], 1, view)) {
      bad++;
      continue;
    }
    if (vc.classify(view, data, now) >= 0) copied++;
  }
}
// Warm up, then run for about 3 seconds.
pass(0, PACKETS);
copied = 0;
let done = 0;
const start = performance.now();
while (performance.now() - start < 3000) {
  pass(0, PACKETS);
  done += PACKETS;
}
const classifyMs = performance.now() - start;
const classifyPps = (done / classifyMs) * 1000;
const copiedFraction = copied / done;

// Dissect alone, for reference.
let dStart = performance.now();
let dDone = 0;
while (performance.now() - dStart < 1000) {
  for (let i = 0; i < PACKETS; i++) dissect(data, offsets[i], lengths[i], 1, view);
  dDone += PACKETS;
}
const dissectPps = (dDone / (performance.now() - dStart)) * 1000;

// IPv4 LPM alone: half routed, half uniformly random addresses (cache-cold worst case).
const probe = new Uint32Array(1 << 20);
for (let i = 0; i < probe.length; i++) probe[i] = i % 2 ? routed4[randInt(N4)] : (rand() * 4294967296) >>> 0;
let sink = 0;
for (let i = 0; i < probe.length; i++) sink += facts.lookup4(probe[i]);
const lStart = performance.now();
for (let r = 0; r < 10; r++) for (let i = 0; i < probe.length; i++) sink += facts.lookup4(probe[i]);
const lookupNs = ((performance.now() - lStart) * 1e6) / (10 * probe.length);
// The same over the destinations of the packet set (20k flows: the locality real traffic has).
const dests = new Uint32Array(PACKETS);
let nDests = 0;
for (let i = 0; i < PACKETS; i++) if (dissect(data, offsets[i], lengths[i], 1, view) && view.ipVersion === 4) dests[nDests++] = view.dst4;
const tStart = performance.now();
for (let r = 0; r < 20; r++) for (let i = 0; i < nDests; i++) sink += facts.lookup4(dests[i]);
const lookupTraceNs = ((performance.now() - tStart) * 1e6) / (20 * nDests);

// A 10k route-update burst (changed best paths and withdrawals), 100 per batch, committed between batches.
const UPDATES = 10_000;
const updates = [];
for (let i = 0; i < UPDATES; i++) {
  const e = entries[randInt(N4)];
  const p = e.prefix;
  const text = `${p.address[0]}.${p.address[1]}.${p.address[2]}.${p.address[3]}/${p.length}`;
  updates.push({ type: 'best-path-change', seq: i, time: now, vnet: 'bench', prefix: text, best: i % 4 === 3 ? null : groups[randInt(groups.length)], previous: null, ecmp: 1 });
}
let applied = 0;
let commitMs = 0;
let burstPackets = 0;
const bStart = performance.now();
let pos = 0;
while (applied < UPDATES) {
  for (let k = 0; k < 100 && applied < UPDATES; k++) facts.apply(updates[applied++]);
  const c0 = performance.now();
  facts.commit();
  commitMs += performance.now() - c0;
  const to = Math.min(pos + BATCH, PACKETS);
  pass(pos, to);
  burstPackets += to - pos;
  pos = to === PACKETS ? 0 : to;
}
const burstMs = performance.now() - bStart;

console.log(
  JSON.stringify({
    bench: 'tse-classify',
    node: process.version,
    prefixesV4: N4,
    prefixesV6: N6,
    attributeGroups: groups.length,
    sessions: sessions.length,
    flows: FLOWS,
    packets: PACKETS,
    buildMs: Math.round(buildMs),
    tableLoadMs: Math.round(loadMs),
    classifyPps: Math.round(classifyPps),
    dissectOnlyPps: Math.round(dissectPps),
    copiedFraction: Number(copiedFraction.toFixed(4)),
    undissected: bad,
    lpmV4RandomNs: Number(lookupNs.toFixed(1)),
    lpmV4TraceNs: Number(lookupTraceNs.toFixed(1)),
    updateBurst: {
      updates: UPDATES,
      updatesPerCommit: 100,
      commitMsTotal: Number(commitMs.toFixed(1)),
      usPerUpdate: Number(((commitMs * 1000) / UPDATES).toFixed(2)),
      packetsDuringBurst: burstPackets,
      ppsDuringBurst: Math.round((burstPackets / burstMs) * 1000),
    },
    heapMiB: Math.round(process.memoryUsage().heapUsed / 1048576),
    rssMiB: Math.round(process.memoryUsage().rss / 1048576),
    sink: sink > 0,
  }),
);

// The TSE benchmark workload, shared by bench/tse-classify.mjs and
// bench/tse.mjs: a synthetic routing table (attribute groups over four peers,
// IPv4 and IPv6 prefixes with the length mix of a public table), one virtual
// network, 50 mirror sessions mixing CIDR, port and routing-fact matches,
// and an in-memory set of Ethernet frames (IPv4/IPv6, TCP/UDP, mixed sizes,
// both directions of each flow). Everything is derived from one seed, so two
// runs with the same arguments see the same bytes.
//
// Plain JavaScript with no dependency on the build, so benches can write the
// packet set to a pcap for other tools before loading any project module.
import { closeSync, openSync, writeSync } from 'node:fs';

export const DEFAULT_SEED = 0x2545f491;

/** Seconds since the epoch of the first packet: 2026-01-05T01:00:00Z, one hour after the SimulatedClock's default start. */
export const PACKET_START_SEC = Date.UTC(2026, 0, 5, 1, 0, 0) / 1000;

/**
 * Gap between consecutive packets, in nanoseconds: 1,000,000 packets per
 * second of packet time, the end-to-end target rate, so whatever happens per
 * second of packet time (flow-cache renewal for route-age sessions, traffic
 * statistics) happens as often as it would on a network at that rate.
 */
export const PACKET_GAP_NS = 1_000;

/** The four BGP neighbours that announce the table (router `r1`). */
export const PEERS = [
  { id: 'r1|192.0.2.1', router: 'r1', address: '192.0.2.1', asn: 65000, bgpId: '192.0.2.1' },
  { id: 'r1|192.0.2.2', router: 'r1', address: '192.0.2.2', asn: 65001, bgpId: '192.0.2.2' },
  { id: 'r1|192.0.2.3', router: 'r1', address: '192.0.2.3', asn: 65002, bgpId: '192.0.2.3' },
  { id: 'r1|2001:db8::1', router: 'r1', address: '2001:db8::1', asn: 65003, bgpId: '192.0.2.4' },
];

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
const PORTS = [443, 80, 53, 1010, 1220, 1530, 22, 8080, 444, 450];
const SIZES = [64, 64, 64, 128, 256, 576, 1500, 1500, 1500, 1200];

/** xorshift32: small, fast, and the same sequence everywhere. */
export function makeRandom(seed = DEFAULT_SEED) {
  let s = seed | 0 || 1;
  const rand = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  return { rand, randInt: (n) => Math.floor(rand() * n) };
}

/** `a.b.c.d` of a uint32. */
export const ipv4Text = (a) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;

/**
 * Build the workload.
 *
 * Returns:
 * - `peers`: the four neighbours (`id`, `router`, `address`, `asn`, `bgpId`);
 * - `groups`: 2000 best paths (PathSummary-shaped: `router`, `peer` address,
 *   `peerAs`, `attributes`); `groups[i]` comes from `peers[i % 4]`;
 * - `entries`: `{ prefix, best }` per route (IPv4 first, then IPv6), `prefix`
 *   as `{ afi, length, address }`, `best` one of `groups`;
 * - `routed4` (Uint32Array, one address inside each IPv4 prefix, by entry) and
 *   `routed6` (up to 5000 addresses inside IPv6 prefixes);
 * - `vnet`: the virtual network (`name`, `cidrs`, `prefixTags`), as in the config;
 * - `ipSets`: `[{ name: 'intel', entries }]` (5000 routed IPv4 addresses);
 * - `sessions`: 50 raw mirror sessions as the config takes them (target `t`);
 *   `plain[i]` is true for those with only CIDR/protocol/port conditions
 *   (the first 30), which a BPF filter can express;
 * - `flows`: `{ v6, src, dst, proto, sport, dport }` (IPv4 addresses as
 *   uint32, IPv6 as 16 bytes);
 * - `packets`: `{ count, data, offsets, lengths, tsSec, tsNsec, linkType }`,
 *   Ethernet frames back to back in `data`, one every PACKET_GAP_NS from
 *   PACKET_START_SEC.
 */
export function buildWorkload(options = {}) {
  const {
    seed = DEFAULT_SEED,
    v4Prefixes = 1_000_000,
    v6Prefixes = 100_000,
    flows: flowCount = 20_000,
    packets: packetCount = 200_000,
    vnetName = 'bench',
    target = 't',
  } = options;
  const { rand, randInt } = makeRandom(seed);
  const pickLen = (table) => {
    let r = rand();
    for (const [len, p] of table) if ((r -= p) <= 0) return len;
    return table[0][0];
  };

  // ---- attribute groups: 2000 attribute sets over 4 peers ----
  const groups = [];
  for (let i = 0; i < 2000; i++) {
    const origin = 64512 + (i % 700);
    const transit = [3356, 1299, 174, 2914][i % 4];
    const peer = PEERS[i % 4];
    groups.push({
      router: peer.router,
      peer: peer.address,
      peerAs: peer.asn,
      attributes: {
        origin: 0,
        asPath: [
          { type: 2, asns: i % 5 === 0 ? [peer.asn, transit, 6939, origin] : [peer.asn, transit, origin] },
        ],
        nextHop: peer.address,
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
  const entries = [];
  const routed4 = new Uint32Array(v4Prefixes);
  {
    const seen = new Set();
    while (entries.length < v4Prefixes) {
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
        prefix: {
          afi: 1,
          length: len,
          address: Uint8Array.of(net >>> 24, (net >>> 16) & 255, (net >>> 8) & 255, net & 255),
        },
        best: groups[randInt(groups.length)],
      });
    }
  }
  const routed6 = [];
  {
    const seen = new Set();
    let made = 0;
    while (made < v6Prefixes) {
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

  // ---- the virtual network, an IP set, 50 sessions ----
  const vnet = {
    name: vnetName,
    cidrs: ['10.0.0.0/8', 'fd00::/8'],
    prefixTags: Array.from({ length: 200 }, (_, i) => ({
      prefix: `10.${i}.0.0/16`,
      tags: { app: `app${i % 20}`, critical: i % 10 === 0 },
    })),
  };
  const ipSets = [
    {
      name: 'intel',
      entries: Array.from({ length: Math.min(5000, Math.floor(v4Prefixes / 7)) }, (_, i) =>
        ipv4Text(routed4[i * 7]),
      ),
    },
  ];
  const rules = [];
  const plain = [];
  // 15 CIDR + port sessions: TCP to one /8 on one port.
  for (let i = 0; i < 15; i++) {
    rules.push([
      {
        action: 'accept',
        protocol: 'tcp',
        destination: [`${20 + i * 10}.0.0.0/8`],
        destinationPorts: 443 + i,
      },
    ]);
    plain.push(true);
  }
  // 15 with a reject rule first: no DNS, then a source /16 to a port range.
  for (let i = 0; i < 15; i++) {
    rules.push([
      { action: 'reject', protocol: 'udp', destinationPorts: 53 },
      {
        action: 'accept',
        protocol: i % 2 ? 'udp' : 'tcp',
        destinationPorts: `${1000 + i * 100}-${1050 + i * 100}`,
        source: [`10.${i}.0.0/16`],
      },
    ]);
    plain.push(true);
  }
  // 20 on routing facts (and IP set / prefix tag membership).
  const routeMatches = [
    { originAs: [64600] },
    { community: ['3356:12'] },
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
    rules.push([{ action: 'accept', protocol: i % 3 === 0 ? 'any' : 'tcp', [side]: m }]);
    plain.push(false);
  }
  const sessions = rules.map((r, i) => ({
    name: `s${i}`,
    vnet: vnetName,
    priority: 100 + ((i * 37) % 50),
    target,
    rules: r,
  }));

  // ---- flows: 90% IPv4, a tenth of those to unrouted 192/8 space ----
  const flows = [];
  for (let f = 0; f < flowCount; f++) {
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
      const dst = f % 10 === 0 ? (0xc0000000 | randInt(1 << 24)) >>> 0 : routed4[randInt(v4Prefixes)];
      flows.push({ v6, src, dst, proto, sport, dport });
    }
  }

  // ---- packets: mixed sizes, 45% in the reverse direction ----
  const scratch = new Uint8Array(packetCount * 1500);
  const offsets = new Uint32Array(packetCount);
  const lengths = new Uint32Array(packetCount);
  const tsSec = new Float64Array(packetCount);
  const tsNsec = new Uint32Array(packetCount);
  let used = 0;
  for (let i = 0; i < packetCount; i++) {
    const fl = flows[randInt(flowCount)];
    const back = rand() < 0.45;
    offsets[i] = used;
    lengths[i] = back
      ? frame(
          scratch,
          used,
          fl.v6,
          fl.dst,
          fl.src,
          fl.proto,
          fl.dport,
          fl.sport,
          SIZES[randInt(SIZES.length)],
        )
      : frame(
          scratch,
          used,
          fl.v6,
          fl.src,
          fl.dst,
          fl.proto,
          fl.sport,
          fl.dport,
          SIZES[randInt(SIZES.length)],
        );
    used += lengths[i];
    const ns = i * PACKET_GAP_NS;
    tsSec[i] = PACKET_START_SEC + Math.floor(ns / 1e9);
    tsNsec[i] = ns % 1e9;
  }
  const data = scratch.slice(0, used);

  return {
    seed,
    peers: PEERS,
    groups,
    entries,
    routed4,
    routed6,
    vnet,
    ipSets,
    sessions,
    plain,
    flows,
    packets: { count: packetCount, data, offsets, lengths, tsSec, tsNsec, linkType: 1, bytes: used },
  };
}

/** Write one Ethernet frame (IPv4 or IPv6, TCP or UDP, zero payload) at `out[off]`; returns its length. */
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

/**
 * Write the workload's packet set to `path` as a classic pcap file
 * (little-endian, microsecond timestamps, LINKTYPE_ETHERNET). Returns the
 * number of bytes written.
 */
export function writePcap(path, workload) {
  const p = workload.packets;
  const fd = openSync(path, 'w');
  try {
    const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
    let used = 0;
    let total = 0;
    const drain = () => {
      let at = 0;
      while (at < used) at += writeSync(fd, chunk, at, used - at);
      total += used;
      used = 0;
    };
    chunk.writeUInt32LE(0xa1b2c3d4, 0);
    chunk.writeUInt16LE(2, 4);
    chunk.writeUInt16LE(4, 6);
    chunk.writeInt32LE(0, 8);
    chunk.writeUInt32LE(0, 12);
    chunk.writeUInt32LE(65535, 16);
    chunk.writeUInt32LE(1, 20);
    used = 24;
    for (let i = 0; i < p.count; i++) {
      const len = p.lengths[i];
      if (used + 16 + len > chunk.length) drain();
      chunk.writeUInt32LE(p.tsSec[i], used);
      chunk.writeUInt32LE(Math.floor(p.tsNsec[i] / 1000), used + 4);
      chunk.writeUInt32LE(len, used + 8);
      chunk.writeUInt32LE(len, used + 12);
      chunk.set(p.data.subarray(p.offsets[i], p.offsets[i] + len), used + 16);
      used += 16 + len;
    }
    drain();
    return total;
  } finally {
    closeSync(fd);
  }
}

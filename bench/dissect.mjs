// Dissector micro-benchmark: packets/second for `dissect` (plus flowHash) over
// the real traces in ../shared/data/pcap replayed from memory, and over a
// synthetic mix of 64-1500-byte packets; heap before and after a run of
// millions of packets, to show the hot path allocates nothing per packet.
// Prints one JSON line. Run after `npm run build`:
//   node --expose-gc bench/dissect.mjs [seconds]
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const dist = (m) => import(new URL(`../dist/wire/${m}.js`, import.meta.url).href);
const { PacketView, dissect, flowHash } = await dist('dissect');
const ethernet = await dist('ethernet');
const ipv4 = await dist('ipv4');
const ipv6 = await dist('ipv6');
const tcp = await dist('tcp');
const udp = await dist('udp');
const { readCaptureRecords } = await dist('pcapng');

const seconds = Number(process.argv[2] ?? 3);
const gc = globalThis.gc ?? (() => {});

/** Packets back to back in one buffer, as a PacketBatch holds them. */
function pack(packets) {
  const total = packets.reduce((n, p) => n + p.data.length, 0);
  const data = new Uint8Array(total);
  const offsets = new Uint32Array(packets.length);
  const lengths = new Uint32Array(packets.length);
  const linkTypes = new Uint16Array(packets.length);
  let o = 0;
  packets.forEach((p, i) => {
    data.set(p.data, o);
    offsets[i] = o;
    lengths[i] = p.data.length;
    linkTypes[i] = p.linkType;
    o += p.data.length;
  });
  return { data, offsets, lengths, linkTypes, count: packets.length, bytes: total };
}

function traces() {
  const base = process.env.SHADOWNET_SHARED_DATA ?? new URL('../../shared/data', import.meta.url).pathname;
  const dir = join(base, 'pcap');
  if (!existsSync(dir)) return [];
  const out = [];
  const walk = (d) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.pcap(ng)?$/.test(n))
        for (const r of readCaptureRecords(readFileSync(p))) out.push({ data: r.data, linkType: r.linkType });
    }
  };
  walk(dir);
  return out;
}

function synthetic(n) {
  let seed = 12345;
  const rnd = (k) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % k;
  };
  const out = [];
  for (let i = 0; i < n; i++) {
    const size = 64 + rnd(1500 - 64 + 1);
    const v6 = rnd(4) === 0;
    const isTcp = rnd(3) !== 0;
    const tags = rnd(5) === 0 ? [{ tpid: 0x8100, pcp: 0, dei: false, vid: 1 + rnd(4000) }] : [];
    const l2 = ethernet.encode({
      destination: '02:00:00:00:00:01',
      source: '02:00:00:00:00:02',
      tags,
      etherType: v6 ? 0x86dd : 0x0800,
    });
    const l4len = isTcp ? 20 : 8;
    const l3len = v6 ? 40 : 20;
    const payload = Math.max(0, size - l2.length - l3len - l4len);
    const src = v6
      ? `2001:db8:${rnd(65536).toString(16)}::${rnd(65536).toString(16)}`
      : `10.${rnd(256)}.${rnd(256)}.${rnd(256)}`;
    const dst = v6 ? `2001:db8:ffff::${rnd(65536).toString(16)}` : `172.16.${rnd(256)}.${rnd(256)}`;
    const proto = isTcp ? 6 : 17;
    const l3 = v6
      ? ipv6.encode({
          trafficClass: 0,
          flowLabel: 0,
          payloadLength: l4len + payload,
          nextHeader: proto,
          hopLimit: 64,
          source: src,
          destination: dst,
          extensions: [],
        })
      : ipv4.encode({
          dscp: 0,
          ecn: 0,
          totalLength: 20 + l4len + payload,
          identification: i & 0xffff,
          reservedFlag: false,
          dontFragment: true,
          moreFragments: false,
          fragmentOffset: 0,
          ttl: 64,
          protocol: proto,
          source: src,
          destination: dst,
          options: new Uint8Array(0),
        });
    const l4 = isTcp
      ? tcp.encode({
          sourcePort: 1024 + rnd(60000),
          destinationPort: [80, 443, 53, 22][rnd(4)],
          sequence: i,
          acknowledgment: 0,
          reserved: 0,
          flags: 0x18,
          window: 1000,
          checksum: 0,
          urgentPointer: 0,
          options: new Uint8Array(0),
        })
      : udp.encode({ sourcePort: 1024 + rnd(60000), destinationPort: 53, length: 8 + payload, checksum: 0 });
    const data = new Uint8Array(l2.length + l3.length + l4.length + payload);
    data.set(l2, 0);
    data.set(l3, l2.length);
    data.set(l4, l2.length + l3.length);
    out.push({ data, linkType: 1 });
  }
  return out;
}

const view = new PacketView();
function pass(set) {
  let h = 0;
  const { data, offsets, lengths, linkTypes, count } = set;
  for (let i = 0; i < count; i++) {
    if (dissect(data, offsets[i], lengths[i], linkTypes[i], view)) h ^= flowHash(view, data);
  }
  return h;
}

function measure(set) {
  const reps = Math.max(1, Math.ceil(20000 / set.count));
  const samples = [];
  let sink = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) sink ^= pass(set);
    samples.push((set.count * reps) / ((performance.now() - t0) / 1000));
  }
  samples.sort((a, b) => a - b);
  return { pps: Math.round(samples[samples.length >> 1]), sink };
}

const real = pack(traces());
const mix = pack(synthetic(10_000));
for (let i = 0; i < 50; i++) pass(mix); // warm up

gc();
const heapBefore = process.memoryUsage().heapUsed;
const flatRuns = Math.ceil(2_000_000 / mix.count);
for (let r = 0; r < flatRuns; r++) pass(mix);
const heapAfterNoGc = process.memoryUsage().heapUsed;
gc();
const heapAfter = process.memoryUsage().heapUsed;

const traceResult = real.count ? measure(real) : { pps: 0 };
const mixResult = measure(mix);
console.log(
  JSON.stringify({
    bench: 'dissect',
    seconds,
    gcExposed: typeof globalThis.gc === 'function',
    traces: { packets: real.count, bytes: real.bytes, packetsPerSecond: traceResult.pps },
    synthetic: {
      packets: mix.count,
      meanBytes: Math.round(mix.bytes / mix.count),
      packetsPerSecond: mixResult.pps,
      megabitsPerSecond: Math.round((((mixResult.pps * mix.bytes) / mix.count) * 8) / 1e6),
    },
    heap: {
      packetsDissected: flatRuns * mix.count,
      beforeBytes: heapBefore,
      afterBeforeGcBytes: heapAfterNoGc,
      afterBytes: heapAfter,
      growthBeforeGcBytes: heapAfterNoGc - heapBefore,
    },
  }),
);

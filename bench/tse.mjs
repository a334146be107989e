// TSE end-to-end benchmark. A routing table of 1,000,000 IPv4 + 100,000 IPv6
// prefixes announced into the RII (RoutingInterceptor → VnetRib, four peers),
// 50 mirror sessions mixing CIDR, port and routing-fact matches, and a packet
// set held in memory (bench/lib/tse-workload.mjs: 20k flows, mixed sizes,
// IPv4 and IPv6) replayed in batches of 256. Measures, each for --seconds
// after a warm-up, as the median of one-second samples:
//   - classification alone: dissect + classifier, no engine, every packet;
//     dissect + flow cache + classifier for the flows not in the cache, in
//     stages of 256 packets as the engine takes them; the engine with a null
//     target (counts only), flow cache on and off;
//   - end to end: the engine with a VXLAN target (to a socket bound on
//     127.0.0.1 and never read: the kernel's delivery is counted, the
//     receiving application's work is not), with the native batch sender and
//     with Node's dgram, and with a pcap target (temp file), awaiting drain()
//     after each batch as ShadowEngine.run does; the same VXLAN measure with
//     every session truncating copies to 128 bytes (`vxlan-trunc`: runs of
//     equal-length copies, which leave as UDP GSO messages; `gsoShare` is the
//     part of the copies that did); and the native sender alone, for the
//     kernel's cost per datagram, one datagram per message and with GSO;
//   - a route update burst: 10k best-path changes and withdrawals made
//     through VnetRib.announce/withdraw, 100 before each batch, against the
//     same batches without updates; and route churn: one change before
//     every 40th batch (10,240 packets), against the same without;
//   - tcpdump: the packet set written to a pcap; `tcpdump -r FILE -w
//     /dev/null FILTER` with the BPF equivalent of the plain CIDR/port
//     sessions, against PcapFileSource → engine (only those sessions) →
//     PcapTarget, and whether both selected the same packets.
// Packets are 1 µs apart in packet time (1 Mpps) and packet time runs on at
// every pass over the set, so per-second flow-cache renewal and per-prefix
// statistics happen as often as on a network at that rate. Batches name the
// virtual network (as PcapFileSource's `vnet` option does). pps figures are of
// the one JS thread; `ppsPerCpuSecond` divides by the CPU time of the whole
// process (libuv threads and the kernel's share of sends included); `gcShare`
// is the part of the measured time spent in GC pauses. Prints one JSON line.
//
// Run after `npm run build`:  node --expose-gc bench/tse.mjs [--v4 N] [--v6 N] [--seconds S] [--rounds R] [--only M,…]
// SHADOWNET_DIST points at another build output folder; TSE_VXLAN_PORT picks the VXLAN port (default 29789).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  PACKET_GAP_NS,
  PACKET_START_SEC,
  buildWorkload,
  makeRandom,
  writePcap,
} from './lib/tse-workload.mjs';

const { values: args } = parseArgs({
  options: {
    v4: { type: 'string', default: '1000000' },
    v6: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '9' },
    only: { type: 'string' },
  },
});
const N4 = Number(args.v4);
const N6 = Number(args.v6);
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
// --only classifier,classifier-cache,engine,nocache,burst,vxlan,vxlan-trunc,vxlan-dgram,send,pcap,tcpdump runs those measures alone (e.g. under a profiler);
// vxlan-nogso and vxlan-trunc-nogso (only when named) are those with GSO off, and pcap-buffered the pcap target without direct I/O, to compare.
const ONLY = args.only === undefined ? null : new Set(args.only.split(','));
const runs = (name) => ONLY === null || ONLY.has(name);
const runsIfNamed = (name) => ONLY !== null && ONLY.has(name);
const BATCH = 256;
const UPDATES = 10_000;
const UPDATES_PER_BATCH = 100;
const VXLAN_PORT = Number(process.env.TSE_VXLAN_PORT ?? 29789);

const dist = process.env.SHADOWNET_DIST
  ? pathToFileURL(resolve(process.env.SHADOWNET_DIST) + '/').href
  : new URL('../dist/', import.meta.url).href;
const load = (p) => import(new URL(p, dist).href);
const { SimulatedClock } = await load('core/clock.js');
const { ConfigSchema } = await load('vnet/config.js');
const { RoutingInterceptor } = await load('routing/index.js');
const { ShadowEngine, RouteFactTable, Classifier, IpSetRegistry, VxlanTarget, PcapTarget, PcapFileSource, FlowCache, FLOW_SESSION } =
  await load('shadow/index.js');
const { PacketView, dissect } = await load('wire/dissect.js');
const { udpBatch, udpBatchUnavailableReason } = await load('shadow/targets/udp-batch.js');
const { parsePrefix } = await load('core/index.js');

const gc = globalThis.gc ?? (() => {});
// Garbage-collection pauses, summed (the heap holds the RII's 1.1M routes, so major GCs are long).
// Entries arrive asynchronously: settle() lets those pending be counted.
let gcPauseMs = 0;
const settle = () => new Promise((res) => setTimeout(res, 20));
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauseMs += e.duration;
}).observe({ entryTypes: ['gc'] });
const MiB = 1048576;
const mem = () => {
  const m = process.memoryUsage();
  return { heapMiB: Math.round(m.heapUsed / MiB), rssMiB: Math.round(m.rss / MiB) };
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const round = (x, d = 0) => Number(x.toFixed(d));

// ---- workload, and the same packets as a pcap file for tcpdump ----
const workDir = mkdtempSync(join(tmpdir(), 'shadownet-tse-'));
process.on('exit', () => rmSync(workDir, { recursive: true, force: true }));
const tBuild = performance.now();
const w = buildWorkload({ v4Prefixes: N4, v6Prefixes: N6 });
const workloadMs = performance.now() - tBuild;
const trafficPcap = join(workDir, 'traffic.pcap');
writePcap(trafficPcap, w);
const P = w.packets;
const vnetName = w.vnet.name;

// Batches over the packet set, no copying: each is a window of the shared arrays.
// Engine batches carry their own timestamps, moved forward by the set's
// duration at every wrap, so packet time runs on as in one long capture.
const passNs = P.count * PACKET_GAP_NS;
const tsSec = Float64Array.from(P.tsSec);
const tsNsec = Uint32Array.from(P.tsNsec);
const batches = [];
for (let s = 0; s < P.count; s += BATCH) {
  const e = Math.min(s + BATCH, P.count);
  batches.push({
    count: e - s,
    data: P.data,
    offsets: P.offsets.subarray(s, e),
    lengths: P.lengths.subarray(s, e),
    wireLengths: P.lengths.subarray(s, e),
    tsSec: tsSec.subarray(s, e),
    tsNsec: tsNsec.subarray(s, e),
    linkType: P.linkType,
    vnet: vnetName,
    source: 'bench',
  });
}
let cursor = 0;
let pass = 0;
const nextBatch = () => {
  if (cursor === batches.length) {
    cursor = 0;
    pass++;
    const shift = pass * passNs;
    for (let i = 0; i < P.count; i++) {
      const ns = i * PACKET_GAP_NS + shift;
      tsSec[i] = PACKET_START_SEC + Math.floor(ns / 1e9);
      tsNsec[i] = ns % 1e9;
    }
  }
  return batches[cursor++];
};
const packetTimeMs = () => {
  const b = batches[cursor % batches.length];
  return b.tsSec[0] * 1000 + Math.floor(b.tsNsec[0] / 1e6);
};

// ---- the routing table, through the RII ----
// The routes were learned an hour before the first packet (the `announcedWithin: 10m` session matches only what the burst changes).
const clock = new SimulatedClock(PACKET_START_SEC * 1000 - 3_600_000);
const config = ConfigSchema.parse({ vnets: [w.vnet], shadow: { sessions: w.sessions, ipSets: w.ipSets } });
const rii = new RoutingInterceptor({ config, clock });
const rib = rii.rib(vnetName);
const peerByAddress = new Map();
for (const p of w.peers) {
  rib.addPeer({ id: p.id, router: p.router, address: p.address, asn: p.asn, bgpId: p.bgpId, ibgp: false });
  peerByAddress.set(p.address, p);
}
const groupIndex = new Map(w.groups.map((g, i) => [g, i]));
const interned = w.groups.map((g) => rii.attributes.internValue(g.attributes));
const peerOfGroup = w.groups.map((g) => peerByAddress.get(g.peer).id);
const groupOf = new Int32Array(w.entries.length);
gc();
const memBeforeRib = mem();
const tRib = performance.now();
for (let i = 0; i < w.entries.length; i++) {
  const e = w.entries[i];
  const g = groupIndex.get(e.best);
  groupOf[i] = g;
  rib.announce(peerOfGroup[g], e.prefix, interned[g]);
}
const ribMs = performance.now() - tRib;
gc();
const memAfterRib = mem();
const ribPrefixes = rib.stats().prefixes;
const vnetConfig = config.vnets[0];
const allSessions = config.shadow.sessions;
const plainSessions = allSessions.filter((_, i) => w.plain[i]);
const rawPlainSessions = w.sessions.filter((_, i) => w.plain[i]);

// ---- measuring ----

/**
 * Run `step` (one batch; returns a promise when `async`) for a warm-up
 * second, then for SECONDS; pps per one-second window, median. `count()`
 * (e.g. copies made) is sampled over the measured part only.
 */
async function measure(step, { async = false, count = () => 0 } = {}) {
  const warmEnd = performance.now() + 1000;
  while (performance.now() < warmEnd)
    if (async) await step();
    else step();
  gc();
  await settle();
  const samples = [];
  let packets = 0;
  const c0 = count();
  const cpu0 = process.cpuUsage();
  const gc0 = gcPauseMs;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  let winStart = t0;
  let winPackets = 0;
  for (;;) {
    const n = async ? await step() : step();
    winPackets += n;
    packets += n;
    const now = performance.now();
    if (now - winStart >= 1000) {
      samples.push((winPackets * 1000) / (now - winStart));
      winStart = now;
      winPackets = 0;
      if (now >= end) break;
    }
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await settle();
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  return {
    pps: Math.round(median(samples)),
    samples: samples.map((x) => Math.round(x)),
    /** Packets per second of CPU time of the whole process (all threads): pps per core. */
    ppsPerCpuSecond: Math.round(packets / cpuSec),
    cpuPerWall: round(cpuSec / (ms / 1000), 2),
    countPerSec: Math.round(((count() - c0) * 1000) / ms),
    /** Share of the measured time spent in GC pauses. */
    gcShare: round((gcPauseMs - gc0) / ms, 3),
  };
}

class NullTarget {
  kind = 'bus';
  stats = { packets: 0, bytes: 0, shed: {}, errors: {} };
  constructor(name) {
    this.name = name;
  }
  write(r) {
    this.stats.packets++;
    this.stats.bytes += r.length;
  }
  flush() {
    return Promise.resolve();
  }
  close() {
    return Promise.resolve();
  }
}

const engineStartMs = [];
/** An engine over the RII's table; `sessions` raw, as the config file takes them. */
function newEngine(sessions, target, flowCache = true) {
  const cfg = ConfigSchema.parse({ vnets: [w.vnet], shadow: { sessions, ipSets: w.ipSets } });
  const engine = new ShadowEngine({
    config: cfg,
    bus: rii.bus,
    clock,
    routing: rii,
    targets: [target],
    flowCache,
  });
  const t = performance.now();
  engine.start();
  engineStartMs.push(performance.now() - t);
  return engine;
}
const processNext = (engine) => {
  const b = nextBatch();
  engine.process(b);
  return b.count;
};
// As ShadowEngine.run does: wait only while a target holds too much.
const flushNext = async (engine) => {
  const b = nextBatch();
  engine.process(b);
  const wait = engine.drain();
  if (wait) await wait;
  return b.count;
};
const copied = (engine) => () => engine.stats().sessions.reduce((n, s) => n + s.copied, 0);
const shedOf = (engine) => {
  const out = {};
  for (const s of engine.stats().sessions)
    for (const [k, v] of Object.entries(s.shed)) out[k] = (out[k] ?? 0) + v;
  return out;
};

/** A fact table loaded from the RII, and the 50 sessions compiled over it, outside any engine. */
function compileAll() {
  const facts = new RouteFactTable({ vnet: vnetName });
  // The network's own CIDRs are local routes, as the engine sets them.
  facts.setLocal(vnetConfig.cidrs.map((c) => parsePrefix(c)));
  facts.load(rib.entries(), clock.now());
  facts.commit();
  const ipSets = new IpSetRegistry();
  for (const s of w.ipSets) ipSets.replace(s.name, s.entries);
  const classifier = Classifier.compile(allSessions, {
    vnets: [vnetConfig],
    facts: new Map([[vnetName, facts]]),
    ipSets,
  });
  return { facts, classifier, vc: classifier.forVnet(vnetName) };
}

// (a) classification alone: dissect + classifier over a fact table loaded from the RII.
async function classifierAlone() {
  const { classifier, vc } = compileAll();
  const view = new PacketView();
  let classified = 0;
  let copies = 0;
  const m = await measure(
    () => {
      const b = nextBatch();
      const data = b.data;
      const timeMs = b.tsSec[0] * 1000 + b.tsNsec[0] / 1e6;
      for (let i = 0; i < b.count; i++) {
        if (!dissect(data, b.offsets[i], b.lengths[i], 1, view)) continue;
        if (vc.classify(view, data, timeMs) >= 0) copies++;
      }
      classified += b.count;
      return b.count;
    },
    { count: () => copies },
  );
  classifier.release();
  return { ...perf(m), copiedFraction: round(copies / classified, 4) };
}

// (a') classification as the engine does it: 256 packets at a time, their
// headers read first, each dissected into its own view with its flow-cache
// bucket, the buckets read, then the flow cache, and the classifier (with
// both route lookups) only for a flow not in it; no sampling, budgets,
// statistics or targets. The cache is emptied when packet time passes an
// instant at which the `announcedWithin` session's answer changes (a route
// set at t, t + 10 min), as the engine does; none falls in the measure.
async function classifierWithFlowCache() {
  const { facts, classifier, vc } = compileAll();
  const STAGE = 256;
  const views = Array.from({ length: STAGE }, () => new PacketView());
  const ok = new Uint8Array(STAGE);
  const buckets = new Int32Array(STAGE);
  const cache = new FlowCache();
  const windowMs = 600_000;
  let nextCrossing = -Infinity;
  let classified = 0;
  let copies = 0;
  // What the early reads answered: written, never read, so that they are not optimised away.
  let _touched = 0;
  const m = await measure(
    () => {
      const b = nextBatch();
      const data = b.data;
      const n = b.count;
      let t = 0;
      for (let i = 0; i < n; i++) {
        const off = b.offsets[i];
        t ^= data[off] ^ data[Math.min(off + 64, data.length - 1)];
      }
      for (let i = 0; i < n; i++) {
        const view = views[i];
        ok[i] = dissect(data, b.offsets[i], b.lengths[i], 1, view) ? 1 : 0;
        buckets[i] = !ok[i] ? -1 : view.ipVersion === 4 ? cache.bucket4(view, 0) : view.ipVersion === 6 ? cache.bucket6(view, data, 0) : -1;
      }
      for (let i = 0; i < n; i++) if (buckets[i] >= 0) t ^= cache.touch(buckets[i]);
      _touched ^= t;
      for (let i = 0; i < n; i++) {
        if (buckets[i] < 0) continue;
        const view = views[i];
        const timeMs = b.tsSec[i] * 1000 + b.tsNsec[i] / 1e6;
        if (timeMs > nextCrossing) {
          cache.invalidate();
          nextCrossing = facts.firstAnnounceAtOrAfter(timeMs - windowMs) + windowMs;
        }
        const v4 = view.ipVersion === 4;
        const e = v4 ? cache.find4At(view, 0, buckets[i]) : cache.find6At(view, data, 0, buckets[i]);
        let session;
        if (e >= 0) session = cache.entries[e + FLOW_SESSION];
        else {
          session = vc.classify(view, data, timeMs);
          const sr = vc.lastRoute(facts, true);
          const dr = vc.lastRoute(facts, false);
          if (v4) cache.store4(view, 0, session, sr, dr);
          else cache.store6(view, data, 0, session, sr, dr);
        }
        if (session >= 0) copies++;
      }
      classified += n;
      return n;
    },
    { count: () => copies },
  );
  classifier.release();
  return {
    ...perf(m),
    copiedFraction: round(copies / classified, 4),
    flowCacheHitRate: round(cache.hits / (cache.hits + cache.misses), 3),
  };
}

// The engine with a null target (counts only); with the flow cache, it also takes the burst.
async function engineNullTarget(flowCache, burst) {
  const memBefore = mem();
  const engine = newEngine(w.sessions, new NullTarget('t'), flowCache);
  gc();
  const memAfter = mem();
  const h0 = engine.counters.flowCacheHits;
  const m0 = engine.counters.flowCacheMisses;
  const m = await measure(() => processNext(engine), { count: copied(engine) });
  const hits = engine.counters.flowCacheHits - h0;
  const misses = engine.counters.flowCacheMisses - m0;
  const result = { ...perf(m), copiesPerSec: m.countPerSec };
  if (flowCache) result.flowCacheHitRate = round(hits / (hits + misses), 3);
  result.engineRssMiB = memAfter.rssMiB - memBefore.rssMiB;
  const burstResult = burst ? updateBurst(engine) : undefined;
  const churnResult = burst ? routeChurn(engine) : undefined;
  await engine.stop();
  return { result, burst: burstResult, churn: churnResult };
}

// (c') route churn: one best-path change (another attribute set, same
// peer) before every CHURN_GAP-th batch — about 200 a second at 2 Mpps, as a
// router with a full table may see — against the same batches without;
// ROUNDS times, medians. Each change concerns the flows towards one prefix,
// so the engine forgets only their cached decisions.
const CHURN_GAP = 40;
const CHURN_BATCHES = 800;
function routeChurn(engine) {
  const { randInt } = makeRandom(w.seed ^ 0x1b873593);
  const base = [];
  const during = [];
  const forgotten0 = engine.counters.flowDecisionsForgotten ?? 0;
  let churnMisses = 0;
  let baseMisses = 0;
  for (let r = 0; r < ROUNDS; r++) {
    gc();
    for (let b = 0; b < CHURN_BATCHES; b++) processNext(engine);
    let m = engine.counters.flowCacheMisses;
    let t = performance.now();
    for (let b = 0; b < CHURN_BATCHES; b++) processNext(engine);
    base.push((CHURN_BATCHES * BATCH * 1000) / (performance.now() - t));
    baseMisses += engine.counters.flowCacheMisses - m;
    clock.advanceTo(Math.max(clock.now(), packetTimeMs()));
    m = engine.counters.flowCacheMisses;
    t = performance.now();
    for (let b = 0; b < CHURN_BATCHES; b++) {
      if (b % CHURN_GAP === 0) {
        let i;
        do i = randInt(w.entries.length);
        while (groupOf[i] < 0);
        const g = groupOf[i];
        const ng = (g + 4 * (1 + randInt(w.groups.length / 4 - 1))) % w.groups.length;
        rib.announce(peerOfGroup[ng], w.entries[i].prefix, interned[ng]);
        groupOf[i] = ng;
      }
      processNext(engine);
    }
    during.push((CHURN_BATCHES * BATCH * 1000) / (performance.now() - t));
    churnMisses += engine.counters.flowCacheMisses - m;
  }
  const ppsBase = median(base);
  const ppsChurn = median(during);
  return {
    updatesEveryPackets: CHURN_GAP * BATCH,
    updatesPerRound: CHURN_BATCHES / CHURN_GAP,
    rounds: ROUNDS,
    ppsWithout: Math.round(ppsBase),
    ppsDuring: Math.round(ppsChurn),
    ratio: round(ppsChurn / ppsBase, 2),
    /** Flow-cache misses per round, without and with the changes. */
    missesWithout: Math.round(baseMisses / ROUNDS),
    missesDuring: Math.round(churnMisses / ROUNDS),
    decisionsForgottenPerRound: Math.round(((engine.counters.flowDecisionsForgotten ?? 0) - forgotten0) / ROUNDS),
    baseSamples: base.map(Math.round),
    duringSamples: during.map(Math.round),
  };
}

// (c) route update burst: 10k changes through the RIB, 100 before each batch,
// against the same number of batches without; ROUNDS times, medians.
function updateBurst(engine) {
  const { randInt } = makeRandom(w.seed ^ 0x3c6ef372);
  const burstBatches = UPDATES / UPDATES_PER_BATCH;
  const base = [];
  const during = [];
  const ribCallMs = [];
  let committedTotal = 0;
  let withdrawals = 0;
  for (let r = 0; r < ROUNDS; r++) {
    // Distinct prefixes; every fourth withdrawn, the others moved to another
    // attribute set of the same peer (a withdrawn one picked again comes back).
    const picked = new Set();
    const ops = [];
    while (ops.length < UPDATES) {
      const i = randInt(w.entries.length);
      if (picked.has(i)) continue;
      picked.add(i);
      const g = groupOf[i];
      if (g < 0) {
        const ng = randInt(w.groups.length);
        ops.push({
          withdraw: false,
          peer: peerOfGroup[ng],
          prefix: w.entries[i].prefix,
          attrs: interned[ng],
        });
        groupOf[i] = ng;
      } else if (ops.length % 4 === 3) {
        ops.push({ withdraw: true, peer: peerOfGroup[g], prefix: w.entries[i].prefix, attrs: null });
        groupOf[i] = -1;
        withdrawals++;
      } else {
        const ng = (g + 4 * (1 + randInt(w.groups.length / 4 - 1))) % w.groups.length;
        ops.push({
          withdraw: false,
          peer: peerOfGroup[ng],
          prefix: w.entries[i].prefix,
          attrs: interned[ng],
        });
        groupOf[i] = ng;
      }
    }
    // Let the flow cache refill after the previous burst, then the baseline.
    gc();
    for (let b = 0; b < 4 * burstBatches; b++) processNext(engine);
    let t = performance.now();
    for (let b = 0; b < burstBatches; b++) processNext(engine);
    base.push((burstBatches * BATCH * 1000) / (performance.now() - t));
    clock.advanceTo(Math.max(clock.now(), packetTimeMs()));
    const committed0 = engine.counters.routeChangesCommitted;
    let inRib = 0;
    t = performance.now();
    for (let b = 0, k = 0; b < burstBatches; b++) {
      const r0 = performance.now();
      for (let j = 0; j < UPDATES_PER_BATCH; j++, k++) {
        const op = ops[k];
        if (op.withdraw) rib.withdraw(op.peer, op.prefix);
        else rib.announce(op.peer, op.prefix, op.attrs);
      }
      inRib += performance.now() - r0;
      processNext(engine);
    }
    during.push((burstBatches * BATCH * 1000) / (performance.now() - t));
    ribCallMs.push(inRib);
    committedTotal += engine.counters.routeChangesCommitted - committed0;
  }
  const ppsBase = median(base);
  const ppsBurst = median(during);
  const packets = burstBatches * BATCH;
  const extraMs = (packets * 1000) / ppsBurst - (packets * 1000) / ppsBase;
  return {
    updates: UPDATES,
    updatesPerBatch: UPDATES_PER_BATCH,
    rounds: ROUNDS,
    withdrawalsPerRound: Math.round(withdrawals / ROUNDS),
    routeChangesCommittedPerRound: Math.round(committedTotal / ROUNDS),
    ppsWithout: Math.round(ppsBase),
    ppsDuring: Math.round(ppsBurst),
    ratio: round(ppsBurst / ppsBase, 2),
    /** Time the burst adds to processing the same packets. */
    extraMsPerBurst: round(extraMs, 1),
    /** Of which in the RIB calls (announce/withdraw, events on the bus, queued by the engine). */
    ribMsPerBurst: round(median(ribCallMs), 1),
    usPerUpdate: round((extraMs * 1000) / UPDATES, 2),
    baseSamples: base.map(Math.round),
    duringSamples: during.map(Math.round),
  };
}

// (b) end to end: VXLAN to an unused loopback port, pcap to a temp file.
// `vxlan-trunc`: every session truncates copies to 128 bytes (GSO on);
// `-nogso`: the same without GSO.
async function endToEnd(kind) {
  let target;
  let sinkFd = -1;
  const trunc = kind === 'vxlan-trunc' || kind === 'vxlan-trunc-nogso';
  const isPcap = kind === 'pcap' || kind === 'pcap-buffered';
  if (!isPcap) {
    // The mirror target: a UDP socket bound on the port and never read, so the
    // kernel delivers each datagram to it and drops it there once its buffer
    // is full; the receiving application's work is not counted (a socket
    // that reads would be, since it would share the cores).
    const native = udpBatch();
    if (native === null) throw new Error(`the native sender is not built (${udpBatchUnavailableReason()}): npm run build:native`);
    try {
      sinkFd = native.open(4, Uint8Array.of(127, 0, 0, 1), VXLAN_PORT);
    } catch (err) {
      throw new Error(`UDP port ${VXLAN_PORT} is in use (set TSE_VXLAN_PORT): ${err.message}`, { cause: err });
    }
    target = new VxlanTarget({
      name: 't',
      address: '127.0.0.1',
      port: VXLAN_PORT,
      sender: kind === 'vxlan-dgram' ? 'dgram' : 'batch',
      gso: !kind.endsWith('-nogso'),
    });
  } else target = new PcapTarget({ name: 't', path: join(workDir, 'copies.pcap'), directIo: kind === 'pcap' });
  const engine = newEngine(trunc ? w.sessions.map((s) => ({ ...s, truncate: 128 })) : w.sessions, target);
  const m = await measure(() => flushNext(engine), { async: true, count: () => target.stats.packets });
  const result = {
    ...perf(m),
    copiesPerSec: m.countPerSec,
    shed: { ...shedOf(engine), ...target.stats.shed },
    errors: { ...target.stats.errors },
  };
  if (!isPcap && kind !== 'vxlan-dgram') {
    result.gsoShare = round(target.stats.gsoDatagrams / Math.max(1, target.stats.packets), 3);
    result.bytesPerCopy = Math.round(target.stats.bytes / Math.max(1, target.stats.packets));
  }
  await engine.stop();
  if (sinkFd >= 0) udpBatch().close(sinkFd);
  if (isPcap) {
    result.fileMiB = Math.round(statSync(target.files[0]).size / MiB);
    for (const f of target.files) rmSync(f, { force: true });
  }
  return result;
}

/**
 * The kernel's share: datagrams of the workload's mean copy size sent to the
 * same sink with the native sender alone (no engine), per CPU-second; one
 * datagram per message, then with GSO (all of one length: 64 a message).
 */
async function sendAlone() {
  const native = udpBatch();
  if (native === null) return undefined;
  const sink = native.open(4, Uint8Array.of(127, 0, 0, 1), VXLAN_PORT);
  const fd = native.open(4, null, 0);
  const size = 8 + Math.round(P.bytes / P.count);
  const n = 256;
  const data = new Uint8Array(size * n);
  const offsets = Uint32Array.from({ length: n }, (_, i) => i * size);
  const lengths = new Uint32Array(n).fill(size);
  const errors = new Uint32Array(256);
  const to = Uint8Array.of(127, 0, 0, 1);
  const m = await measure(() => native.send(fd, 4, to, VXLAN_PORT, data, offsets, lengths, n, errors));
  const gsoOut = new Uint32Array(2);
  let gsoSent = 0;
  let sent = 0;
  const g = await measure(() => {
    const k = native.send(fd, 4, to, VXLAN_PORT, data, offsets, lengths, n, errors, 1, gsoOut);
    gsoSent += gsoOut[0];
    sent += k;
    return k;
  });
  native.close(fd);
  native.close(sink);
  return {
    datagramBytes: size,
    datagramsPerSec: m.pps,
    datagramsPerCpuSecond: m.ppsPerCpuSecond,
    usPerDatagram: round(1e6 / m.ppsPerCpuSecond, 2),
    gso: {
      datagramsPerSec: g.pps,
      datagramsPerCpuSecond: g.ppsPerCpuSecond,
      usPerDatagram: round(1e6 / g.ppsPerCpuSecond, 2),
      gsoShare: round(gsoSent / Math.max(1, sent), 3),
      refused: gsoOut[1] === 0 ? undefined : gsoOut[1],
    },
  };
}

const perf = (m) => ({
  pps: m.pps,
  ppsPerCpuSecond: m.ppsPerCpuSecond,
  cpuPerWall: m.cpuPerWall,
  gcShare: m.gcShare,
  samples: m.samples,
});
const classifierOnly = runs('classifier') ? await classifierAlone() : undefined;
const classifierFlowCache = runs('classifier-cache') ? await classifierWithFlowCache() : undefined;
const nullWithCache = runs('engine') ? await engineNullTarget(true, false) : {};
const nullNoCache = runs('nocache') ? await engineNullTarget(false, false) : {};
const vxlan = runs('vxlan') ? await endToEnd('vxlan') : undefined;
const vxlanNoGso = runsIfNamed('vxlan-nogso') ? await endToEnd('vxlan-nogso') : undefined;
const vxlanTrunc = runs('vxlan-trunc') ? await endToEnd('vxlan-trunc') : undefined;
const vxlanTruncNoGso = runsIfNamed('vxlan-trunc-nogso') ? await endToEnd('vxlan-trunc-nogso') : undefined;
const vxlanDgram = runs('vxlan-dgram') ? await endToEnd('vxlan-dgram') : undefined;
const sendCost = runs('send') ? await sendAlone() : undefined;
const pcap = runs('pcap') ? await endToEnd('pcap') : undefined;
const pcapBuffered = runsIfNamed('pcap-buffered') ? await endToEnd('pcap-buffered') : undefined;

// ---- tcpdump on the same file, with the plain sessions as BPF ----

/** `tcpdump` expression for one parsed rule, or null when the rule can match nothing BPF can name. */
function ruleBpf(rule, scope) {
  const parts = [];
  const p = rule.protocol;
  const hasPorts = rule.sourcePorts !== undefined || rule.destinationPorts !== undefined;
  if (p === 'tcp' || p === 'udp') parts.push(p);
  else if (p === 'any') parts.push(hasPorts ? '(tcp or udp)' : '(ip or ip6)');
  else if (hasPorts) return null;
  else if (p === 'icmp') parts.push('icmp');
  else if (p === 'icmpv6') parts.push('icmp6');
  else parts.push(`(ip proto ${p} or ip6 proto ${p})`);
  const nets = (dir, cidrs) => `(${cidrs.map((c) => `${dir} net ${c}`).join(' or ')})`;
  if (rule.source) parts.push(nets('src', rule.source));
  if (rule.destination) parts.push(nets('dst', rule.destination));
  const ports = (dir, r) =>
    r.from === r.to ? `${dir} port ${r.from}` : `${dir} portrange ${r.from}-${r.to}`;
  if (rule.sourcePorts) parts.push(ports('src', rule.sourcePorts));
  if (rule.destinationPorts) parts.push(ports('dst', rule.destinationPorts));
  if (rule.direction === 'ingress') parts.push(nets('dst', scope));
  if (rule.direction === 'egress') parts.push(nets('src', scope));
  return `(${parts.join(' and ')})`;
}

/**
 * BPF equivalent to parsed sessions without routing facts: a session sees a
 * packet with its source or destination in scope; its rules in order, the
 * first that matches decides (accept: C or rest; reject: not C and rest).
 */
function sessionsBpf(sessions, vnet) {
  const byScope = new Map();
  for (const s of sessions) {
    if (!s.enabled) continue;
    const scope = s.scope ?? vnet.cidrs;
    let expr = null;
    for (let i = s.rules.length - 1; i >= 0; i--) {
      const c = ruleBpf(s.rules[i], scope);
      if (c === null) continue;
      if (s.rules[i].action === 'accept') expr = expr === null ? c : `(${c} or ${expr})`;
      else if (expr !== null) expr = `(not ${c} and ${expr})`;
    }
    if (expr === null) continue;
    const key = scope.join(',');
    if (!byScope.has(key)) byScope.set(key, { scope, exprs: [] });
    byScope.get(key).exprs.push(expr);
  }
  return [...byScope.values()]
    .map(
      ({ scope, exprs }) =>
        `((${scope.flatMap((c) => [`src net ${c}`, `dst net ${c}`]).join(' or ')}) and (${exprs.join(' or ')}))`,
    )
    .join(' or ');
}

/** The records of a classic pcap file (either byte order, micro or nanoseconds) as "µs since the epoch/captured length". */
function pcapRecords(path) {
  const b = readFileSync(path);
  if (b.length < 24) return [];
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const u32 = (at) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const out = [];
  for (let at = 24; at + 16 <= b.length;) {
    const len = u32(at + 8);
    const sub = u32(at + 4);
    out.push(`${u32(at) * 1e6 + (nano ? Math.floor(sub / 1000) : sub)}/${len}`);
    at += 16 + len;
  }
  return out;
}

async function againstTcpdump() {
  const filter = sessionsBpf(plainSessions, vnetConfig);
  const tcpdump = (out, file = trafficPcap) => {
    const t = performance.now();
    const r = spawnSync('tcpdump', ['-r', file, '-w', out, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = performance.now() - t;
    if (r.error || r.status !== 0)
      throw new Error(`tcpdump failed: ${r.error?.message ?? r.stderr.toString().trim()}`);
    return ms;
  };
  // Also warms the page cache for both readers.
  const tcpdumpOut = join(workDir, 'tcpdump-out.pcap');
  tcpdump(tcpdumpOut);
  const bySelection = pcapRecords(tcpdumpOut);
  rmSync(tcpdumpOut, { force: true });
  const tcpdumpMs = median([0, 1, 2].map(() => tcpdump('/dev/null')));
  const headerOnly = join(workDir, 'empty.pcap');
  writePcap(headerOnly, { packets: { ...P, count: 0 } });
  const tcpdumpStartMs = median([0, 1, 2].map(() => tcpdump('/dev/null', headerOnly)));

  const engineMs = [];
  const engineGcMs = [];
  let byEngine = [];
  let engineCopied = 0;
  let dropped = {};
  for (let r = 0; r < 3; r++) {
    const out = join(workDir, `engine-out-${r}.pcap`);
    const target = new PcapTarget({ name: 't', path: out });
    const engine = newEngine(rawPlainSessions, target);
    gc();
    await settle();
    const gc0 = gcPauseMs;
    const t = performance.now();
    const source = new PcapFileSource(trafficPcap, { vnet: vnetName });
    await engine.run(source);
    await target.close();
    engineMs.push(performance.now() - t);
    await settle();
    engineGcMs.push(gcPauseMs - gc0);
    engineCopied = copied(engine)();
    dropped = { ...source.stats.dropped, ...engine.counters.dropped };
    await engine.stop();
    if (r === 0) byEngine = pcapRecords(out);
    rmSync(out, { force: true });
  }
  const ms = median(engineMs);
  return {
    filterChars: filter.length,
    tcpdumpMs: Math.round(tcpdumpMs),
    tcpdumpStartMs: Math.round(tcpdumpStartMs),
    tcpdumpPps: Math.round((P.count * 1000) / tcpdumpMs),
    engineMs: Math.round(ms),
    enginePps: Math.round((P.count * 1000) / ms),
    enginePpsOverTcpdumpPps: round(tcpdumpMs / ms, 2),
    engineGcMs: Math.round(median(engineGcMs)),
    tcpdumpSelected: bySelection.length,
    engineSelected: byEngine.length,
    engineCopied,
    samePackets: bySelection.length === byEngine.length && bySelection.every((k, i) => k === byEngine[i]),
    dropped,
  };
}
const vsTcpdump = runs('tcpdump') ? await againstTcpdump() : undefined;
// Last, as it changes routes and moves the clock to packet time.
const burstAndChurn = runs('burst') ? await engineNullTarget(true, true) : undefined;

console.log(
  JSON.stringify({
    bench: 'tse',
    node: process.version,
    prefixesV4: N4,
    prefixesV6: N6,
    ribPrefixes,
    attributeGroups: w.groups.length,
    sessions: allSessions.length,
    plainSessions: plainSessions.length,
    flows: w.flows.length,
    packets: P.count,
    packetBytes: P.bytes,
    batch: BATCH,
    secondsPerMeasure: SECONDS,
    setup: {
      workloadMs: Math.round(workloadMs),
      ribAnnounceMs: Math.round(ribMs),
      ribAnnouncesPerSec: Math.round((w.entries.length * 1000) / ribMs),
      engineStartMsMedian: Math.round(median(engineStartMs)),
      ribHeapMiB: memAfterRib.heapMiB - memBeforeRib.heapMiB,
      rssAfterRibMiB: memAfterRib.rssMiB,
    },
    classify: {
      classifierOnly,
      classifierWithFlowCache: classifierFlowCache,
      engineNullTarget: nullWithCache.result,
      engineNullTargetNoFlowCache: nullNoCache.result,
    },
    endToEnd: { vxlan, vxlanNoGso, vxlanTrunc, vxlanTruncNoGso, vxlanDgram, pcap, pcapBuffered },
    sendAlone: sendCost,
    updateBurst: burstAndChurn?.burst,
    routeChurn: burstAndChurn?.churn,
    tcpdump: vsTcpdump,
    memory: { ...mem(), peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) },
  }),
);

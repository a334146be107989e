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
import { buildWorkload, makeRandom } from './lib/tse-workload.mjs';

const dist = process.env.SHADOWNET_DIST
  ? pathToFileURL(resolve(process.env.SHADOWNET_DIST) + '/').href
  : new URL('../dist/', import.meta.url).href;
const load = (p) => import(new URL(p, dist).href);
const { RouteFactTable } = await load('shadow/fact-table.js');
const { Classifier } = await load('shadow/classifier.js');
const { IpSetRegistry } = await load('shadow/ipset.js');
const { PacketView, dissect } = await load('wire/dissect.js');
const { MirrorSessionSchema } = await load('vnet/config.js');
const { parsePrefix } = await load('core/index.js');

const N4 = Number(process.argv[2] ?? 1_000_000);
const N6 = Number(process.argv[3] ?? 100_000);
const BATCH = 256;

const t0 = performance.now();
const w = buildWorkload({ v4Prefixes: N4, v6Prefixes: N6 });
const { groups, entries, routed4, vnet } = w;
const { data, offsets, lengths } = w.packets;
const FLOWS = w.flows.length;
const PACKETS = w.packets.count;
const { rand, randInt } = makeRandom(w.seed ^ 0x5bd1e995);

const facts = new RouteFactTable({ vnet: vnet.name });
// The network's own CIDRs are local routes, as the engine sets them.
facts.setLocal(vnet.cidrs.map((c) => parsePrefix(c)));
const loadStart = performance.now();
facts.load(entries, Date.now() - 3_600_000);
facts.commit();
const loadMs = performance.now() - loadStart;

const ipSets = new IpSetRegistry();
for (const s of w.ipSets) ipSets.replace(s.name, s.entries);
const sessions = w.sessions.map((s) => MirrorSessionSchema.parse(s));
const classifier = Classifier.compile(sessions, {
  vnets: [vnet],
  facts: new Map([[vnet.name, facts]]),
  ipSets,
});
const buildMs = performance.now() - t0;

// ---- measurements ----
const view = new PacketView();
const vc = classifier.forVnet(vnet.name);
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
for (let i = 0; i < PACKETS; i++)
  if (dissect(data, offsets[i], lengths[i], 1, view) && view.ipVersion === 4) dests[nDests++] = view.dst4;
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
  updates.push({
    type: 'best-path-change',
    seq: i,
    time: now,
    vnet: vnet.name,
    prefix: text,
    best: i % 4 === 3 ? null : groups[randInt(groups.length)],
    previous: null,
    ecmp: 1,
  });
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

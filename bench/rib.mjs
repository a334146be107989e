// RIB micro-benchmark: one peer announcing N IPv4 /24s (default 1,000,000).
// Prints one JSON line: announces/s (quiet and with a listener), implicit
// replaces/s, LPM lookups/s and heap bytes per route (Adj-RIB-In + Loc-RIB +
// LPM index). Run after `npm run build`:  node --expose-gc bench/rib.mjs [N]
// SHADOWNET_DIST points at another build output folder.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const dist = process.env.SHADOWNET_DIST ? pathToFileURL(resolve(process.env.SHADOWNET_DIST) + '/').href : new URL('../dist/', import.meta.url).href;
const { VnetRib, AttributeStore } = await import(new URL('routing/rib/index.js', dist).href);
const { SimulatedClock } = await import(new URL('core/clock.js', dist).href);

const N = Number(process.argv[2] ?? 1_000_000);
const ATTR_SETS = 1000;
const gc = globalThis.gc;
if (!gc) {
  console.error('run with node --expose-gc');
  process.exit(2);
}

function attrs(i) {
  return {
    origin: 0,
    asPath: [{ type: 2, asns: [65001, 64512 + (i % 1000), 3356] }],
    nextHop: '10.0.0.1',
    nextHopLinkLocal: null,
    med: i,
    localPref: null,
    atomicAggregate: false,
    aggregator: null,
    communities: [65001 * 65536 + (i % 50)],
    extendedCommunities: [],
    largeCommunities: [],
    originatorId: null,
    clusterList: [],
    unknown: [],
  };
}

function setup(emit) {
  const store = new AttributeStore();
  const sets = [];
  for (let i = 0; i < ATTR_SETS; i++) sets.push(store.internValue(attrs(i)));
  const rib = new VnetRib({ vnet: 'bench', clock: new SimulatedClock(), store, emit });
  rib.addPeer({ id: 'r1|10.0.0.1', router: 'r1', address: '10.0.0.1', asn: 65001, bgpId: '10.0.0.1', ibgp: false });
  return { rib, sets };
}

// The RIB keeps nothing of the Prefix it is given, so one object is reused.
const address = new Uint8Array(4);
const prefix = { afi: 1, length: 24, address };
function fill(rib, sets, shift = 0) {
  for (let i = 0; i < N; i++) {
    const n = (0x01000000 + i * 256) >>> 0;
    address[0] = n >>> 24;
    address[1] = (n >>> 16) & 0xff;
    address[2] = (n >>> 8) & 0xff;
    rib.announce('r1|10.0.0.1', prefix, sets[(i + shift) % ATTR_SETS]);
  }
}

const rate = (count, t0) => Math.round(count / (Number(process.hrtime.bigint() - t0) / 1e9));

gc();
const heap0 = process.memoryUsage().heapUsed;
const quiet = setup(undefined);
let t0 = process.hrtime.bigint();
fill(quiet.rib, quiet.sets);
const announcePerSec = rate(N, t0);
gc();
const heap1 = process.memoryUsage().heapUsed;
const bytesPerRoute = Math.round((heap1 - heap0) / N);

t0 = process.hrtime.bigint();
fill(quiet.rib, quiet.sets, 1);
const replacePerSec = rate(N, t0);

const probe = new Uint8Array(4);
let found = 0;
t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) {
  const n = (0x01000000 + i * 256 + 7) >>> 0;
  probe[0] = n >>> 24;
  probe[1] = (n >>> 16) & 0xff;
  probe[2] = (n >>> 8) & 0xff;
  probe[3] = 7;
  if (quiet.rib.lookup(probe)) found++;
}
const lookupPerSec = rate(N, t0);
const stats = quiet.rib.stats();
quiet.rib.removePeer('r1|10.0.0.1');
const afterRemove = quiet.rib.stats();
quiet.rib = undefined;
gc();

let events = 0;
const loud = setup(() => events++);
t0 = process.hrtime.bigint();
fill(loud.rib, loud.sets);
const announceWithEventsPerSec = rate(N, t0);

console.log(
  JSON.stringify({
    bench: 'rib',
    routes: N,
    announcePerSec,
    announceWithEventsPerSec,
    replacePerSec,
    lookupPerSec,
    bytesPerRoute,
    prefixes: stats.prefixes,
    attributeSets: stats.attributeSets,
    lookupsMatched: found,
    attributeSetsAfterPeerRemoved: afterRemove.attributeSets,
    events,
    node: process.version,
  }),
);

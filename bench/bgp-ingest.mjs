#!/usr/bin/env node
/**
 * BGP ingest benchmark: how fast a shadownet virtual router takes in a full
 * table, and how that compares with BIRD fed the same table by the same
 * gobgpd.
 *
 *   npm run build && node bench/bgp-ingest.mjs [--count 1000000] [--sender gobgp|self]
 *        [--seed 1] [--skip-rii] [--skip-bird] [--keep]
 *
 * --sender gobgp (default): gobgpd is loaded from an MRT TABLE_DUMP_V2 file
 *   (`gobgp mrt inject global`), then peers with the RII and, in the same run,
 *   with BIRD; each is timed from session start until its table holds every
 *   prefix. --sender self: our own client sends pre-encoded UPDATEs to the RII
 *   (no BIRD comparison), run once without and once with a bus subscriber.
 * Prints one JSON line.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { benchHost, benchPort, findBinary, peakRssMiB, run, sleep, startBird, startGobgpd, stopAllDaemons, waitFor } from './lib/daemons.mjs';
import { appendPadding, PADDING_RANGE } from './lib/mrt-padding.mjs';
import { buildFeed, sendFeed } from './lib/feed.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Compiled project; SHADOWNET_DIST points elsewhere (e.g. a private build). */
const distDir = process.env.SHADOWNET_DIST ?? join(root, 'dist');
const dist = (p) => pathToFileURL(join(distDir, p)).href;

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
    sender: { type: 'string', default: 'gobgp' },
    'skip-rii': { type: 'boolean', default: false },
    'skip-bird': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '900' },
  },
});
const count = Number(args.count);
const seed = Number(args.seed);
const timeoutMs = Number(args.timeout) * 1000;
if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive integer, got ${args.count}`);

const VR = { address: benchHost(1), port: benchPort(1), asn: 65000, routerId: '10.255.9.1' };
const GOBGP = { address: benchHost(2), port: benchPort(2), apiPort: benchPort(12), asn: 65100, routerId: '10.255.9.2' };
const SELF = { address: benchHost(3), asn: 64512, routerId: '10.255.9.3' };
const BIRD = { address: benchHost(4), port: benchPort(4), asn: 65200, routerId: '10.255.9.4' };

/** Prefixes the receiving side must hold: `count`, plus padding routes when gobgpd sends. */
let target = count;

const mib = (bytes) => Math.round((bytes / 1048576) * 10) / 10;
const gc = () => globalThis.gc?.();

/** Samples this process's memory while `fn` runs. */
async function withMemory(fn) {
  gc();
  const idle = process.memoryUsage();
  let peak = idle.rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    gc();
    const after = process.memoryUsage();
    return { result, idle, after, peak };
  } finally {
    clearInterval(timer);
  }
}

function riiConfig(peer) {
  return {
    vnets: [
      {
        name: 'bench',
        cidrs: ['0.0.0.0/1', '128.0.0.0/1'],
        routers: [
          {
            name: 'vr1',
            asn: VR.asn,
            routerId: VR.routerId,
            listen: { address: VR.address, port: VR.port },
            peers: [{ holdTime: 240, connectRetry: 1, gracefulRestart: false, families: ['ipv4'], ...peer }],
          },
        ],
      },
    ],
  };
}

async function loadRii() {
  if (!existsSync(join(distDir, 'routing', 'index.js'))) throw new Error('dist/routing/index.js missing: run `npm run build` first');
  const routing = await import(dist('routing/index.js'));
  const vnet = await import(dist('vnet/index.js'));
  const yaml = await import('yaml');
  return { routing, vnet, yaml };
}

/**
 * Starts the RII peered with `peer`, runs `connect()` to make the routes
 * flow, and times until its Loc-RIB holds `count` prefixes.
 */
async function ingestIntoRii({ peer, connect, subscriber }) {
  const { routing, vnet, yaml } = await loadRii();
  const config = vnet.parseConfig(yaml.stringify(riiConfig(peer)), 'bench.yaml');
  let eventsDelivered = 0;
  const measured = await withMemory(async () => {
    const rii = new routing.RoutingInterceptor({ config });
    if (subscriber) rii.bus.subscribe('routing.events.>', () => void eventsDelivered++);
    await rii.start();
    try {
      const t0 = performance.now();
      const conn = await connect();
      await waitFor(`the RII to hold ${target} prefixes`, () => rii.stats().prefixes >= target, timeoutMs, 20);
      const seconds = (performance.now() - t0) / 1000;
      const prefixes = rii.stats().prefixes;
      conn?.socket?.destroy();
      return { seconds, prefixes, rii };
    } catch (err) {
      await rii.stop();
      throw err;
    }
  });
  const { seconds, prefixes, rii } = measured.result;
  const heapAbove = measured.after.heapUsed + measured.after.external - (measured.idle.heapUsed + measured.idle.external);
  const rssAbove = measured.after.rss - measured.idle.rss;
  await rii.stop();
  return {
    seconds,
    prefixes,
    prefixesPerSecond: Math.round(prefixes / seconds),
    peakRssMiB: mib(measured.peak),
    bytesPerRoute: Math.round(heapAbove / prefixes),
    rssBytesPerRoute: Math.round(rssAbove / prefixes),
    eventsDelivered,
  };
}

/**
 * gobgpd loaded with the `count` routes of an MRT file, plus up to 1,024
 * padding routes that absorb the CLI's lost tail. Returns how many it holds:
 * the target the RII and BIRD are timed against.
 */
async function loadGobgp(dir) {
  const mrtPath = join(dir, 'table.mrt');
  let writer;
  if (existsSync(join(distDir, 'routing', 'mrt', 'writer.js'))) writer = await import(dist('routing/mrt/writer.js'));
  if (!writer?.writeSyntheticTableDump) throw new Error('dist/routing/mrt/writer.js (writeSyntheticTableDump) missing: run `npm run build`');
  const t0 = performance.now();
  await writer.writeSyntheticTableDump(mrtPath, { count, seed });
  const padding = appendPadding(mrtPath);
  const writeSeconds = (performance.now() - t0) / 1000;
  const gobgp = await startGobgpd(dir, {
    ...GOBGP,
    neighbors: [
      { address: VR.address, asn: VR.asn },
      { address: BIRD.address, asn: BIRD.asn },
    ],
  });
  const t1 = performance.now();
  await run(findBinary('gobgp') ?? 'gobgp', ['-u', GOBGP.address, '-p', String(GOBGP.apiPort), 'mrt', 'inject', 'global', mrtPath], timeoutMs);
  // Wait for the count to settle.
  let have = await gobgp.ribCount();
  for (let last = -1; have !== last; ) {
    last = have;
    await sleep(500);
    have = await gobgp.ribCount();
  }
  if (have <= count) throw new Error(`gobgpd holds ${have} routes: fewer than the ${count} of the table plus padding (${padding} in ${PADDING_RANGE})`);
  return { gobgp, holds: have, padding: have - count, writeSeconds, injectSeconds: (performance.now() - t1) / 1000 };
}

async function ingestIntoBird(dir) {
  const t0 = performance.now();
  const bird = await startBird(dir, { ...BIRD, neighbor: { address: GOBGP.address, port: GOBGP.port, asn: GOBGP.asn } });
  try {
    await waitFor(`BIRD to hold ${target} routes`, async () => (await bird.routeCount()) >= target, timeoutMs, 100);
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, prefixesPerSecond: Math.round(target / seconds), peakRssMiB: bird.rssMiB() };
  } finally {
    await bird.stop();
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'shadownet-bench-ingest-'));
  const out = { bench: 'bgp-ingest', sender: args.sender, count, seed };
  try {
    if (args.sender === 'self') {
      const feed = buildFeed({ count, seed, firstAs: SELF.asn });
      out.updates = feed.updates.length;
      const connect = () =>
        sendFeed({ host: VR.address, port: VR.port, localAddress: SELF.address, asn: SELF.asn, routerId: SELF.routerId, updates: feed.updates });
      const peer = { address: SELF.address, asn: SELF.asn, passive: true };
      const bare = await ingestIntoRii({ peer, connect, subscriber: false });
      const withSub = await ingestIntoRii({ peer, connect, subscriber: true });
      Object.assign(out, withSub, {
        eventRateWithSubscriberRatio: Math.round((withSub.prefixesPerSecond / bare.prefixesPerSecond) * 1000) / 1000,
        withoutSubscriber: { seconds: bare.seconds, prefixesPerSecond: bare.prefixesPerSecond },
        bird: null,
        ratio: null,
      });
    } else if (args.sender === 'gobgp') {
      const { gobgp, holds, padding, writeSeconds, injectSeconds } = await loadGobgp(dir);
      target = holds;
      out.gobgp = { holds, padding, mrtWriteSeconds: writeSeconds, injectSeconds };
      try {
        if (!args['skip-rii']) {
          const r = await ingestIntoRii({
            peer: { address: GOBGP.address, asn: GOBGP.asn, port: GOBGP.port, passive: false },
            connect: async () => undefined,
            subscriber: true,
          });
          Object.assign(out, r, { eventRateWithSubscriberRatio: null });
        }
        if (!args['skip-bird']) out.bird = await ingestIntoBird(dir);
        out.gobgp.peakRssMiB = peakRssMiB(gobgp.proc.pid);
      } finally {
        await gobgp.stop();
      }
      out.ratio = out.seconds && out.bird ? Math.round((out.seconds / out.bird.seconds) * 100) / 100 : null;
    } else {
      throw new Error(`--sender must be gobgp or self, got ${args.sender}`);
    }
    console.log(JSON.stringify(out));
  } finally {
    await stopAllDaemons();
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
    else console.error(`run directory kept: ${dir}`);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});

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
import { spawn } from 'node:child_process';

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

/** Resident set of this process before anything was loaded: the idle baseline for bytes per route. */
const startRss = process.memoryUsage.rss();
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
 * Starts the RII peered with `peer`, tells the sender to go so the routes
 * flow, and times until its Loc-RIB holds `count` prefixes.
 */
/**
 * A feed sender in a child process (see lib/feed-sender.mjs), built and
 * waiting; `go()` starts the session and the sending.
 */
async function prepareSender(to) {
  const child = spawn(process.execPath, [join(root, 'bench', 'lib', 'feed-sender.mjs'), JSON.stringify({ ...to, localAddress: SELF.address, asn: SELF.asn, routerId: SELF.routerId, count, seed })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  await waitFor('the feed sender to build its UPDATEs', () => {
    if (child.exitCode !== null) throw new Error('the feed sender exited');
    return out.includes('ready');
  }, timeoutMs, 20);
  const updates = Number(/ready (\d+)/.exec(out)[1]);
  return {
    updates,
    go: () => child.stdin.write('go\n'),
    stop: () => {
      child.stdin.end();
      return new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    },
  };
}

async function ingestIntoRii({ peer, prepare, subscriber }) {
  const { routing, vnet, yaml } = await loadRii();
  const config = vnet.parseConfig(yaml.stringify(riiConfig(peer)), 'bench.yaml');
  let eventsDelivered = 0;
  const measured = await withMemory(async () => {
    const rii = new routing.RoutingInterceptor({ config });
    if (subscriber) rii.bus.subscribe('routing.events.>', () => void eventsDelivered++);
    await rii.start();
    const sender = await prepare();
    try {
      const t0 = performance.now();
      sender.go();
      await waitFor(`the RII to hold ${target} prefixes`, () => rii.stats().prefixes >= target, timeoutMs, 5);
      const seconds = (performance.now() - t0) / 1000;
      const prefixes = rii.stats().prefixes;
      // Events are delivered synchronously: every one for the table has arrived by now.
      const events = eventsDelivered;
      return { seconds, prefixes, rii, sender, events };
    } catch (err) {
      await sender.stop();
      await rii.stop();
      throw err;
    }
  });
  const { seconds, prefixes, rii, sender, events } = measured.result;
  await sender.stop();
  const heapAbove = measured.after.heapUsed + measured.after.external - (measured.idle.heapUsed + measured.idle.external);
  // Peak resident set above the idle process (measured at start): what the table costs the machine at its highest.
  const rssAbove = measured.peak - startRss;
  await rii.stop();
  return {
    seconds,
    prefixes,
    prefixesPerSecond: Math.round(prefixes / seconds),
    peakRssMiB: mib(measured.peak),
    bytesPerRoute: Math.round(heapAbove / prefixes),
    peakRssBytesPerRoute: Math.round(rssAbove / prefixes),
    eventsDelivered: events,
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

async function ingestIntoBird(dir, fromSelf = false) {
  let t0 = performance.now();
  const neighbor = fromSelf ? { address: SELF.address, port: 179, asn: SELF.asn, passive: true } : { address: GOBGP.address, port: GOBGP.port, asn: GOBGP.asn };
  const bird = await startBird(dir, { ...BIRD, neighbor });
  let sender;
  try {
    if (fromSelf) {
      sender = await prepareSender({ host: BIRD.address, port: BIRD.port });
      t0 = performance.now();
      sender.go();
    }
    await waitFor(`BIRD to hold ${target} routes`, async () => (await bird.routeCount()) >= target, timeoutMs, 100);
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, prefixesPerSecond: Math.round(target / seconds), peakRssMiB: bird.rssMiB() };
  } finally {
    await sender?.stop();
    await bird.stop();
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'shadownet-bench-ingest-'));
  const out = { bench: 'bgp-ingest', sender: args.sender, count, seed };
  try {
    if (args.sender === 'self') {
      const prepare = async () => {
        const s = await prepareSender({ host: VR.address, port: VR.port });
        out.updates = s.updates;
        return s;
      };
      const peer = { address: SELF.address, asn: SELF.asn, passive: true };
      // A first, unmeasured run warms the JIT so the two measured runs compare like with like.
      await ingestIntoRii({ peer, prepare, subscriber: false });
      const bare = await ingestIntoRii({ peer, prepare, subscriber: false });
      const withSub = await ingestIntoRii({ peer, prepare, subscriber: true });
      Object.assign(out, withSub, {
        eventRateWithSubscriberRatio: Math.round((withSub.prefixesPerSecond / bare.prefixesPerSecond) * 1000) / 1000,
        withoutSubscriber: { seconds: bare.seconds, prefixesPerSecond: bare.prefixesPerSecond, peakRssMiB: bare.peakRssMiB, bytesPerRoute: bare.bytesPerRoute },
      });
      out.bird = args['skip-bird'] ? null : await ingestIntoBird(dir, true);
      // Ratio of ingest times, RII (with a subscriber) over BIRD: below 1 means the RII was faster.
      out.ratio = out.bird ? Math.round((out.seconds / out.bird.seconds) * 100) / 100 : null;
    } else if (args.sender === 'gobgp') {
      const { gobgp, holds, padding, writeSeconds, injectSeconds } = await loadGobgp(dir);
      target = holds;
      out.gobgp = { holds, padding, mrtWriteSeconds: writeSeconds, injectSeconds };
      try {
        if (!args['skip-rii']) {
          const r = await ingestIntoRii({
            peer: { address: GOBGP.address, asn: GOBGP.asn, port: GOBGP.port, passive: false },
            prepare: async () => ({ go() {}, async stop() {} }),
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

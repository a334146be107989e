// Emulator benchmark (issue targets in brackets):
//  1. emulated packets per second per core into the TSE [≥ 500k]: the demo
//     network's traffic at 50× its configured rates into the shadowing engine,
//     (tse) as the emulator carries it: the engine decides once per flow and
//     only flows a session could copy become bytes, after 15 emulated minutes
//     (routes announced at the start are then no longer new); (tseFromStart)
//     the same from the first minute, when the demo's new-routes session
//     copies all traffic to the announced routes; (tseAllPackets) every flow
//     turned into bytes and run through the engine packet by packet;
//  2. memory for a network of 1,000 nodes and 50 applications [≤ 1 GB];
//  3. wall time of an emulated week of the example network with sampled
//     packet output [≤ 2 minutes].
//  (1a. the emulator's own share of 1: the same traffic into a sink that only counts.)
// Prints one JSON line.  npm run build && node --expose-gc bench/emulator.mjs [--skip-week] [--skip-tse]
//   [--sample-one-in N] [--snaplen BYTES] (the week's packet output; 100 and whole packets by default)
// (SHADOWNET_DIST=<folder> node ... runs another build of src/.)
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import YAML from 'yaml';

// SHADOWNET_DIST points at another build (a folder holding the compiled src/), e.g. a private tsc --outDir.
const dist = process.env.SHADOWNET_DIST ? pathToFileURL(process.env.SHADOWNET_DIST.replace(/\/?$/, '/')) : new URL('../dist/', import.meta.url);
const load = (p) => import(new URL(p, dist).href);
const { SimulatedClock } = await load('core/index.js');
const { parseConfig } = await load('vnet/index.js');
const { RoutingInterceptor } = await load('routing/index.js');
const { ShadowEngine, FlowFeed } = await load('shadow/index.js');
const { Emulator } = await load('vnet/emulator/emulator.js');
const { emulate } = await load('cli/commands/emulate.js');

const { values: args } = parseArgs({
  options: {
    'skip-week': { type: 'boolean', default: false },
    'skip-tse': { type: 'boolean', default: false },
    seconds: { type: 'string', default: '60' },
    // The week's packet output: 1 flow in N, whole or cut to a snap length (tcpdump -s).
    'sample-one-in': { type: 'string', default: '100' },
    snaplen: { type: 'string', default: '262144' },
  },
});
const demoText = readFileSync(new URL('../examples/demo.yaml', import.meta.url), 'utf8');
const out = { bench: 'emulator', node: process.version };

function withPorts(doc, base) {
  // Move the virtual routers to ports of their own so a running demo does not clash.
  doc.vnets.forEach((v, i) => v.routers.forEach((r, j) => (r.listen.port = base + i * 10 + j)));
  delete doc.shadow.receiver;
  delete doc.api;
  doc.log = { level: 'silent' };
  return doc;
}

// The demo's traffic at 50× its configured rates (the exfiltration left out: one 2 GB flow would dominate).
function tseConfig(base) {
  const doc = withPorts(YAML.parse(demoText), base);
  for (const v of doc.vnets) for (const a of v.applications ?? []) a.requestsPerSecond *= 50;
  doc.emulation.attacks = doc.emulation.attacks.filter((a) => a.kind !== 'exfiltration');
  return parseConfig(YAML.stringify(doc), 'bench.yaml');
}

// ---- 2. memory for 1,000 nodes and 50 applications ----
// Measured first: memory the other parts leave with the allocator would count here otherwise.
{
  globalThis.gc?.();
  const before = process.memoryUsage();
  const doc = withPorts(YAML.parse(demoText), 29700);
  const prod = doc.vnets[0];
  // The demo's subnets stay (its nodes name them); sixteen /16s are added for the thousand nodes.
  prod.subnets.push(...Array.from({ length: 16 }, (_, i) => ({ name: `s${i}`, cidr: `10.${100 + i}.0.0/16` })));
  const hosts = Array.from({ length: 40 }, (_, i) => ({ name: `h${i}` }));
  doc.substrate.hosts.push(...hosts);
  doc.substrate.links.push(...hosts.map((h) => ({ a: h.name, b: 'gw', capacity: '10Gbps' })));
  const apps = Array.from({ length: 50 }, (_, i) => ({
    name: `app${i}`,
    kind: 'api',
    protocol: ['http', 'tls', 'dns', 'bulk'][i % 4],
    port: [80, 443, 53, 9000][i % 4],
    hostname: `app${i}.example.com`,
    clients: [`10.${100 + (i % 16)}.0.0/16`],
    requestsPerSecond: 5,
  }));
  prod.applications.push(...apps);
  for (let n = 0; n < 1000; n++) {
    const s = n % 16;
    prod.nodes.push({ name: `n${n}`, host: `h${n % 40}`, address: `10.${100 + s}.${Math.floor(n / 16) >> 0}.${10 + (n % 200)}`.replace(/\.(\d+)\.(\d+)$/, (m, a, b) => `.${a % 256}.${b}`), subnet: `s${s}`, apps: n < 50 ? [`app${n}`] : [] });
  }
  // Unique addresses: n-th node gets 10.(100+s).(n>>4).(10 + (n & 15))
  prod.nodes.slice(-1000).forEach((node, n) => (node.address = `10.${100 + (n % 16)}.${n >> 4}.${10 + (n & 15)}`));
  const config = parseConfig(YAML.stringify(doc), 'bench-1000.yaml');
  const clock = new SimulatedClock(Date.parse(config.emulation.start));
  const rii = new RoutingInterceptor({ config, clock });
  await rii.start();
  const emulator = new Emulator({ config, clock, rii, materialize: { mode: 'none' } });
  await emulator.start({ waitEstablished: true });
  for (let s = 0; s < 360; s++) {
    clock.advance(10_000);
    await new Promise((r) => setImmediate(r));
    emulator.step();
  }
  globalThis.gc?.();
  const after = process.memoryUsage();
  out.scale = {
    nodes: config.vnets[0].nodes.length,
    applications: config.vnets[0].applications.length,
    simulatedHours: 1,
    flows: emulator.counters.flows,
    heapMiB: +((after.heapUsed - before.heapUsed) / 1048576).toFixed(1),
    rssMiB: +(after.rss / 1048576).toFixed(1),
  };
  await emulator.stop();
  await rii.stop();
}

// ---- 1a. the emulator's own share: every flow into frames, into a sink that only counts ----
if (!args['skip-tse']) {
  const config = tseConfig(29650);
  const clock = new SimulatedClock(Date.parse(config.emulation.start));
  const rii = new RoutingInterceptor({ config, clock });
  await rii.start();
  let frames = 0;
  let bytes = 0;
  const emulator = new Emulator({
    config,
    clock,
    rii,
    materialize: { mode: 'all' },
    reuseFrameMemory: true,
    onFrame: (frame, t, flow) => {
      if (flow.vnet !== 'prod') return;
      frames++;
      bytes += frame.length;
    },
  });
  await emulator.start({ waitEstablished: true });
  for (let i = 0; i < 200 && rii.stats().prefixes < 3; i++) await new Promise((r) => setTimeout(r, 10));
  const seconds = Number(args.seconds);
  let ms = 0;
  for (let s = 0; s < seconds; s++) {
    clock.advance(1000);
    await new Promise((r) => setImmediate(r));
    const e0 = performance.now();
    emulator.step();
    ms += performance.now() - e0;
  }
  out.emulatorOnly = { simulatedSeconds: seconds, packets: frames, bytes, packetsPerSecond: Math.round(frames / (ms / 1000)), flows: emulator.counters.flows };
  await emulator.stop();
  await rii.stop();
}

// ---- 1. packets per second into the TSE ----
// select: as the emulator carries traffic to the TSE (ShadowEngine.flowNeedsPackets decides once per
// flow; only the flows a session could copy become bytes, the others are counted as flows, exactly);
// all: every flow turned into bytes and run through the engine packet by packet.
// warmupMinutes: emulated time run first without the TSE (flows only), so routes announced at the
// start are no longer "new" (the demo's new-routes session copies traffic to routes announced within 10 minutes).
async function intoTse(port, mode, warmupMinutes) {
  const config = tseConfig(port);
  const clock = new SimulatedClock(Date.parse(config.emulation.start));
  const rii = new RoutingInterceptor({ config, clock });
  await rii.start();
  const engine = new ShadowEngine({ config, bus: rii.bus, clock, routing: rii });
  const feed = new FlowFeed(engine);
  let warm = warmupMinutes > 0;
  const emulator = new Emulator({
    config,
    clock,
    rii,
    // Nothing is built during the warm-up; then every flow (all) or what the engine needs (select).
    materialize: { mode: 'select', wants: (f) => (warm ? 0 : mode === 'all' ? 3 : feed.wants(f)) },
    // The feed copies each frame into its batch.
    reuseFrameMemory: true,
    onFrame: (frame, t, flow, toServer) => {
      if (!warm) feed.frame(flow.vnet, frame, t, toServer);
    },
    onFlow: (f) => {
      if (!warm) feed.flow(f);
    },
  });
  await emulator.start({ waitEstablished: true });
  for (let i = 0; i < 200 && rii.stats().prefixes < 3; i++) await new Promise((r) => setTimeout(r, 10));
  engine.start();
  for (let s = 0; s < warmupMinutes * 6; s++) {
    clock.advance(10_000);
    await new Promise((r) => setImmediate(r));
    emulator.step();
  }
  warm = false;
  const m0 = emulator.counters.materializedPackets;
  const seconds = Number(args.seconds);
  let emulatePhaseMs = 0;
  const t0 = performance.now();
  for (let s = 0; s < seconds; s++) {
    clock.advance(1000);
    await new Promise((r) => setImmediate(r));
    const e0 = performance.now();
    emulator.step();
    feed.flush();
    emulatePhaseMs += performance.now() - e0;
  }
  const wall = (performance.now() - t0) / 1000;
  const st = engine.stats();
  const result = {
    mode,
    warmupMinutes,
    simulatedSeconds: seconds,
    packets: st.engine.packets,
    packetsAsBytes: emulator.counters.materializedPackets - m0,
    packetsAsCounts: engine.counters.packetsCounted,
    copies: st.sessions.reduce((n, s) => n + s.copied, 0),
    packetsPerSecond: Math.round(st.engine.packets / (emulatePhaseMs / 1000)),
    wallSeconds: +wall.toFixed(2),
  };
  Object.defineProperty(result, 'sessions', { value: JSON.stringify(st.sessions), enumerable: false });
  await emulator.stop();
  await engine.stop();
  await rii.stop();
  return result;
}
if (!args['skip-tse']) {
  out.tse = await intoTse(29600, 'select', 15);
  out.tseFromStart = await intoTse(29610, 'select', 0);
  out.tseAllPackets = await intoTse(29620, 'all', 15);
  // Same seed, same emulated minutes: the sessions' counters must not depend on how the traffic was carried.
  out.tse.sameSessionCountersAsAllPackets = out.tse.sessions === out.tseAllPackets.sessions;
}

// ---- 3. an emulated week of the example network ----
if (!args['skip-week']) {
  const dir = mkdtempSync(join(tmpdir(), 'shadownet-bench-week-'));
  const cfgPath = join(dir, 'demo.yaml');
  const doc = withPorts(YAML.parse(demoText), 29800);
  (await import('node:fs')).writeFileSync(cfgPath, YAML.stringify(doc));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const summary = await emulate({ config: cfgPath, days: '7', out: dir, pcap: 'sample', sampleOneIn: args['sample-one-in'], snaplen: args.snaplen }, () => undefined);
  const cpu = process.cpuUsage(cpu0);
  out.week = {
    sampleOneIn: Number(args['sample-one-in']),
    snaplen: Number(args.snaplen),
    wallSeconds: +((performance.now() - t0) / 1000).toFixed(1),
    cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(1),
    pcapBytes: statSync(join(dir, 'packets.pcap')).size,
    flows: summary.flows,
    packets: summary.packets,
    materializedPackets: summary.materializedPackets,
    labels: summary.labels,
  };
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));

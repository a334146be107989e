/**
 * `shadownet emulate`: run the emulated network on the simulated clock for
 * days of traffic and write what it produced in formats other tools read:
 * packets as pcap (sampled or whole), routing as MRT, per-application load
 * and resources as CSV, attack labels as JSON. With `--shadow`, the config's
 * mirror sessions also run on the emulated traffic: copies go to capture
 * files, per-prefix traffic of every interval to traffic.jsonl. The engine
 * decides once per flow: only the directions of flows a session could copy
 * become packet bytes, the others reach it as exact counts.
 */
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createLogger, FlowDirection, nanosecondsOfMs, SimulatedClock } from '../../core/index.js';
import { loadConfig } from '../../vnet/index.js';
import { RoutingInterceptor } from '../../routing/index.js';
import { MrtWriter } from '../../routing/mrt/index.js';
import { Emulator, sampledFlow, type Materialize } from '../../vnet/emulator/emulator.js';
import { FlowFeed, PcapTarget, ShadowEngine, trafficStatsTopic } from '../../shadow/index.js';
import { PcapWriter } from '../../wire/pcap.js';
import { CliExit, ExitCode } from '../exit-codes.js';

/**
 * Buffered file output: bytes are written into large chunks (records are
 * built in place with {@link FileOut.reserve}), a full chunk goes to the
 * file at once, and the stream is waited for at step boundaries.
 */
class FileOut {
  static readonly CHUNK = 4 << 20;
  readonly #s: WriteStream;
  #buf: Buffer = Buffer.allocUnsafe(FileOut.CHUNK);
  readonly #free: Buffer[] = [];
  #used = 0;
  bytes = 0;
  constructor(path: string) {
    // Up to 64 MiB may wait for the disk before the emulator waits for it: the writes overlap the work.
    this.#s = createWriteStream(path, { highWaterMark: 64 << 20 });
  }
  /** Room for `n` bytes in {@link buffer}: the offset to write them at (they count as written). */
  reserve(n: number): number {
    if (this.#used + n > this.#buf.length) this.#flush(n);
    const offset = this.#used;
    this.#used += n;
    this.bytes += n;
    return offset;
  }
  /** The chunk {@link reserve} gave room in. */
  get buffer(): Buffer {
    return this.#buf;
  }
  write(b: Uint8Array | string): void {
    const u = typeof b === 'string' ? Buffer.from(b) : b;
    this.#buf.set(u, this.reserve(u.length));
  }
  #flush(need = 0): void {
    if (this.#used === 0 && need <= this.#buf.length) return;
    if (this.#used > 0) {
      // The stream holds on to the chunk until it is written; then it is free for reuse (fresh
      // memory for every chunk costs the kernel a page fault per 4 KiB).
      const written = this.#buf;
      this.#s.write(written.subarray(0, this.#used), () => {
        if (written.length === FileOut.CHUNK && this.#free.length < 16) this.#free.push(written);
      });
    }
    this.#buf = (need <= FileOut.CHUNK ? this.#free.pop() : undefined) ?? Buffer.allocUnsafe(Math.max(FileOut.CHUNK, need));
    this.#used = 0;
  }
  async drain(): Promise<void> {
    this.#flush();
    if (this.#s.writableNeedDrain) await new Promise<void>((r) => this.#s.once('drain', () => r()));
  }
  async close(): Promise<void> {
    await this.drain();
    await new Promise<void>((r, j) => this.#s.end((err?: Error | null) => (err ? j(err) : r())));
  }
}

export interface EmulateOptions {
  config: string;
  days: string;
  seed?: string;
  out: string;
  pcap: string;
  sampleOneIn: string;
  /** Bytes of each packet kept in the pcap (tcpdump -s); records keep the packet's wire length. Default 262144. */
  snaplen?: string;
  /** Also run the config's mirror sessions: copies as <target>.pcap, per-prefix traffic as traffic.jsonl. */
  shadow?: boolean;
  json?: boolean;
}

export async function emulate(o: EmulateOptions, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<Record<string, unknown>> {
  const days = Number(o.days);
  if (!(days > 0)) throw new CliExit(ExitCode.USAGE, '--days must be a positive number');
  if (!['sample', 'all', 'none'].includes(o.pcap)) throw new CliExit(ExitCode.USAGE, `--pcap must be sample, all or none, not ${JSON.stringify(o.pcap)}`);
  const oneIn = Number(o.sampleOneIn);
  if (!Number.isInteger(oneIn) || oneIn < 1) throw new CliExit(ExitCode.USAGE, '--sample-one-in must be a positive integer');
  const snaplen = o.snaplen === undefined ? 262144 : Number(o.snaplen);
  if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > 262144) throw new CliExit(ExitCode.USAGE, '--snaplen must be an integer from 1 to 262144');
  const config = loadConfig(o.config);
  if (!config.emulation) throw new CliExit(ExitCode.USAGE, `${o.config} has no emulation: section (see examples/demo.yaml)`);
  if (o.seed !== undefined) {
    const seed = Number(o.seed);
    if (!Number.isInteger(seed)) throw new CliExit(ExitCode.USAGE, '--seed must be an integer');
    config.emulation.seed = seed;
  }
  mkdirSync(o.out, { recursive: true });
  const logger = createLogger({ level: config.log.level === 'info' ? 'warn' : config.log.level });
  const clock = new SimulatedClock(Date.parse(config.emulation.start));
  const rii = new RoutingInterceptor({ config, clock, logger });
  const mrt = new MrtWriter(join(o.out, 'routing.mrt'));
  const pcapFile = o.pcap === 'none' ? undefined : new FileOut(join(o.out, 'packets.pcap'));
  const pcap = new PcapWriter({ nanosecond: false, snapLength: snaplen });
  pcapFile?.write(pcap.header());
  const csv = new FileOut(join(o.out, 'applications.csv'));
  csv.write('time,vnet,app,requests_per_second,bits_per_second,cpu_cores,memory_mib,allocated_cores,allocated_memory_mib,saturation\n');
  const writeFrame = pcapFile
    ? (frame: Uint8Array, t: number): void => {
        const at = pcapFile.reserve(pcap.recordLength(frame.length));
        pcap.recordInto(pcapFile.buffer, at, Math.floor(t / 1000), nanosecondsOfMs(t), frame);
      }
    : undefined;
  // With --shadow: the mirror sessions' engine, its copies as capture files, its per-prefix traffic as JSON lines.
  let engine: ShadowEngine | undefined;
  let feed: FlowFeed | undefined;
  let trafficFile: FileOut | undefined;
  if (o.shadow) {
    if (config.shadow.sessions.length === 0) log(`emulate: ${o.config} has no mirror sessions under shadow.sessions: nothing will be copied`);
    const targets = config.shadow.targets.map((t) => new PcapTarget({ name: t.name, path: join(o.out, `${t.name}.pcap`), logger }));
    engine = new ShadowEngine({ config, bus: rii.bus, clock, logger, routing: rii, targets });
    feed = new FlowFeed(engine);
    const out = (trafficFile = new FileOut(join(o.out, 'traffic.jsonl')));
    for (const v of config.vnets) rii.bus.subscribe(trafficStatsTopic(v.name), (m) => out.write(JSON.stringify(m) + '\n'));
  }
  // The packets file's flows: all, 1 in N, or none.
  const inPcap = (id: number): boolean => pcapFile !== undefined && (o.pcap === 'all' || sampledFlow(id, oneIn));
  const materialize: Materialize = feed
    ? { mode: 'select', wants: (f) => (inPcap(f.id) ? FlowDirection.BOTH : feed.wants(f)) }
    : o.pcap === 'all'
      ? { mode: 'all' }
      : o.pcap === 'sample'
        ? { mode: 'sample', oneIn }
        : { mode: 'none' };
  const emulator = new Emulator({
    config,
    clock,
    rii,
    logger,
    mrt,
    materialize,
    // Each frame is copied (into the pcap chunk, into the engine's batch) before onFrame returns.
    reuseFrameMemory: true,
    onFrame: feed
      ? (frame, t, flow, toServer) => {
          feed.frame(flow.vnet, frame, t, toServer);
          if (writeFrame && inPcap(flow.id)) writeFrame(frame, t);
        }
      : writeFrame,
    onFlow: feed?.flow,
    onSample: (s) =>
      csv.write(
        `${new Date(s.time).toISOString()},${s.vnet},${s.app},${s.requestsPerSecond.toFixed(3)},${Math.round(s.bitsPerSecond)},${s.cpuCores.toFixed(4)},${s.memoryMiB.toFixed(1)},${s.allocatedCores},${s.allocatedMemoryMiB},${s.saturation.toFixed(4)}\n`,
      ),
  });
  const started = Date.now();
  await rii.start();
  try {
    // The appliances' BGP sessions run over loopback TCP while the clock is simulated:
    // let real time pass for the handshake, then keep the simulated clock still until routes are in.
    const ready = emulator.start({ waitEstablished: true });
    await ready;
    for (let i = 0; i < 200 && rii.stats().prefixes < emulator.fleet.initialAnnouncements(); i++) await new Promise((r) => setTimeout(r, 10));
    engine?.start();
    const totalMs = days * 86_400_000;
    const steps = Math.ceil(totalMs / emulator.stepMs);
    let lastPct = -1;
    for (let s = 1; s <= steps; s++) {
      clock.advance(emulator.stepMs);
      // Routing changes made by the script travel over TCP: give them a turn of the event loop.
      await new Promise((r) => setImmediate(r));
      emulator.step();
      if (feed) {
        feed.flush();
        // The capture files are written behind: wait when too much is queued for the disk.
        const wait = engine!.drain();
        if (wait) await wait;
      }
      if (s % 32 === 0 || s === steps) {
        await Promise.all([pcapFile?.drain(), csv.drain(), trafficFile?.drain()]);
        const pct = Math.floor((s / steps) * 100);
        if (pct >= lastPct + 5 || s === steps) {
          lastPct = pct;
          const c = emulator.counters;
          const copies = engine ? `, ${engine.stats().sessions.reduce((n, x) => n + x.copied, 0)} copies` : '';
          log(`emulate: ${pct}% — ${new Date(clock.now()).toISOString()}, ${c.flows} flows, ${c.packets} packets${copies}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
        }
      }
    }
  } finally {
    await emulator.stop();
    // Publishes the last interval's traffic and closes the capture files.
    await engine?.stop();
    await rii.stop();
    await Promise.all([pcapFile?.close(), csv.close(), mrt.close(), trafficFile?.close()]);
  }
  writeFileSync(join(o.out, 'labels.json'), JSON.stringify(emulator.labels(), null, 2) + '\n');
  const c = emulator.counters;
  const summary = {
    config: o.config,
    days,
    seed: config.emulation.seed,
    snaplen,
    seconds: (Date.now() - started) / 1000,
    ...c,
    droppedFlows: { ...c.droppedFlows },
    droppedPackets: { ...c.droppedPackets },
    labels: emulator.labels().length,
    files: {
      pcap: pcapFile ? 'packets.pcap' : null,
      mrt: 'routing.mrt',
      csv: 'applications.csv',
      labels: 'labels.json',
      ...(engine ? { traffic: 'traffic.jsonl', copies: config.shadow.targets.map((t) => `${t.name}.pcap`) } : {}),
    },
    ...(engine ? { shadow: engine.stats() } : {}),
  };
  writeFileSync(join(o.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

export function registerEmulateCommand(program: Command): void {
  program
    .command('emulate')
    .description('run the emulated network for days of simulated time and write packets (pcap), routing (MRT), load (CSV) and attack labels (JSON)')
    .requiredOption('-c, --config <file>', 'configuration file with an emulation: section')
    .option('--days <n>', 'simulated days to run', '7')
    .option('--seed <n>', 'random seed (default: the config\'s); the same seed gives the same output')
    .requiredOption('--out <dir>', 'folder for packets.pcap, routing.mrt, applications.csv, labels.json, summary.json')
    .option('--pcap <mode>', 'sample (1 in N flows), all, or none', 'sample')
    .option('--sample-one-in <n>', 'with --pcap sample: keep 1 flow in N, whole', '100')
    .option('--snaplen <bytes>', 'bytes of each packet kept in the pcap, as tcpdump -s (records keep the wire length)', '262144')
    .option('--shadow', "also run the config's mirror sessions on the traffic: copies as <target>.pcap, per-prefix traffic as traffic.jsonl")
    .option('--json', 'print the summary as JSON')
    .action(async (o: EmulateOptions) => {
      const summary = await emulate(o);
      if (o.json) process.stdout.write(JSON.stringify(summary) + '\n');
      else
        process.stdout.write(
          `emulated ${o.days} day(s) in ${(summary.seconds as number).toFixed(1)} s: ${summary.flows} flows, ${summary.packets} packets, ` +
            `${summary.labels} attack labels` +
            (summary.shadow ? `, ${(summary.shadow as ReturnType<ShadowEngine['stats']>).sessions.reduce((n, x) => n + x.copied, 0)} copies by the mirror sessions` : '') +
            `; files in ${o.out}\n`,
        );
    });
}

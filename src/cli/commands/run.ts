/**
 * `shadownet run` and `shadownet demo`: start the virtual routers of a config
 * and the API, print a live summary, stop cleanly on Ctrl-C / SIGTERM.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createLogger, RealClock } from '../../core/index.js';
import { loadConfig, type ShadownetConfig } from '../../vnet/index.js';
import { RoutingInterceptor } from '../../routing/index.js';
import { startApiServer } from '../../api/index.js';
import { ProgrammaticSource, ShadowEngine, VxlanReceiver } from '../../shadow/index.js';
import { Emulator } from '../../vnet/emulator/emulator.js';
import { nanosecondsOfMs, PacketDirection } from '../../core/index.js';

export const EXAMPLES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples');

export interface RunOptions {
  config: string;
  api?: string | false;
  summaryEvery?: number;
  json?: boolean;
  /** Run the emulated network of the config's emulation: section in real time. */
  emulate?: boolean;
}

function parseListen(text: string): { address: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  if (!m) throw new Error(`expected ADDRESS:PORT for --api-listen, got ${JSON.stringify(text)}`);
  return { address: m[1], port: Number(m[2]) };
}

function howToPeer(cfg: ShadownetConfig): string {
  const lines: string[] = [];
  for (const v of cfg.vnets)
    for (const r of v.routers) {
      lines.push(`  virtual router ${v.name}/${r.name}: AS ${r.asn}, listening on ${r.listen.address} port ${r.listen.port}`);
      for (const p of r.peers)
        lines.push(
          `    expects ${p.address} (AS ${p.asn})${p.passive ? '' : `, and connects to it on port ${p.port}`}; in BIRD: ` +
            `neighbor ${r.listen.address} port ${r.listen.port} as ${r.asn}; source address ${p.address};`,
        );
    }
  return lines.join('\n');
}

export async function runInterceptor(opts: RunOptions): Promise<void> {
  const config = loadConfig(opts.config);
  const logger = createLogger({ level: config.log.level });
  const clock = new RealClock();
  const rii = new RoutingInterceptor({ config, clock, logger });
  await rii.start();
  // The shadowing engine runs when the config has mirror sessions or a VXLAN receiver.
  let shadow: ShadowEngine | undefined;
  let receiver: VxlanReceiver | undefined;
  let receiving: Promise<void> | undefined;
  const emulate = opts.emulate === true && config.emulation !== undefined;
  if (config.shadow.sessions.length > 0 || config.shadow.receiver || emulate) {
    shadow = new ShadowEngine({ config, bus: rii.bus, clock, logger: logger.child({ component: 'tse' }), routing: rii });
    shadow.start();
    if (config.shadow.receiver) {
      const vniToVnet = new Map(config.vnets.filter((v) => v.vni !== undefined).map((v) => [v.vni!, v.name] as const));
      receiver = new VxlanReceiver({ address: config.shadow.receiver.address, port: config.shadow.receiver.port, vniToVnet, clock, logger });
      receiving = shadow.run(receiver).catch((err: unknown) => logger.error({ err }, 'VXLAN receiver failed'));
    }
  }
  // The emulated network, in real time: its packets go to the shadowing engine.
  let emulator: Emulator | undefined;
  let emulating: Promise<void>[] = [];
  let emulatorSources: ProgrammaticSource[] = [];
  let stepTimer: { cancel(): void } | undefined;
  if (emulate) {
    config.emulation!.step = 1;
    const sources = new Map(config.vnets.map((v) => [v.name, new ProgrammaticSource(`emulator:${v.name}`, 1, v.name)] as const));
    emulator = new Emulator({
      config,
      clock,
      rii,
      logger: logger.child({ component: 'emulator' }),
      materialize: { mode: 'all' },
      onFrame: (frame, t, flow, toServer) =>
        sources.get(flow.vnet)?.push(frame, frame.length, Math.floor(t / 1000), nanosecondsOfMs(t), toServer ? PacketDirection.INGRESS : PacketDirection.EGRESS),
    });
    emulatorSources = [...sources.values()];
    emulating = emulatorSources.map((src) => shadow!.run(src));
    await emulator.start({ waitEstablished: false });
    stepTimer = clock.setRepeating(emulator.stepMs, () => {
      emulator!.step();
      for (const src of sources.values()) void src.flush();
    });
  }
  let api: Awaited<ReturnType<typeof startApiServer>> | undefined;
  if (opts.api !== false) {
    const listen = opts.api ? parseListen(opts.api) : config.api.listen;
    api = await startApiServer({ rii, address: listen.address, port: listen.port, logger, shadow });
  }
  const out = process.stdout;
  out.write(`shadownet: ${config.vnets.length} virtual network(s) from ${opts.config}\n${howToPeer(config)}\n`);
  if (emulator)
    out.write(
      `  emulated network: ${config.vnets.reduce((n, v) => n + v.nodes.length, 0)} nodes, ${config.vnets.reduce((n, v) => n + v.applications.length, 0)} applications, ${config.substrate.hosts.length} substrate hosts, ${emulator.labels().length} scheduled attacks\n`,
    );
  if (receiver) out.write(`  VXLAN mirror receiver: ${config.shadow.receiver!.address} UDP ${config.shadow.receiver!.port} (VNI → network: ${config.vnets.filter((v) => v.vni !== undefined).map((v) => `${v.vni}→${v.name}`).join(', ')})\n`);
  if (shadow) out.write(`  mirror sessions: ${config.shadow.sessions.map((x) => `${x.name} → ${x.target}`).join(', ') || 'none yet'}\n`);
  if (api) out.write(`  API: ${api.url}  (try: shadownet peers --api ${api.url}; shadownet routes --api ${api.url})\n`);
  out.write('Ctrl-C stops.\n');
  const summary = (): void => {
    const s = rii.stats();
    const t = shadow?.stats();
    const copies = t ? t.sessions.reduce((n, x) => n + x.copied, 0) : 0;
    const line =
      `[${new Date(clock.now()).toISOString()}] peers up ${s.established}/${s.peers}, prefixes ${s.prefixes}, paths ${s.paths}, attribute sets ${s.attributeSets}, refused connections ${s.refused}` +
      (emulator ? `; flows ${emulator.counters.flows}, dropped ${Object.values(emulator.counters.droppedFlows).reduce((a, b) => a + b, 0)}, attacks active ${emulator.labels().filter((l) => l.start <= clock.now() && clock.now() < l.end).length}` : '') +
      (t ? `; packets ${t.engine.packets}, copies ${copies}` : '');
    out.write((opts.json ? JSON.stringify({ time: clock.now(), ...s, ...(t ? { packets: t.engine.packets, copies } : {}) }) : line) + '\n');
  };
  const timer = clock.setRepeating((opts.summaryEvery ?? 10) * 1000, summary);
  await new Promise<void>((resolveStop) => {
    // Timers are unref'd; this keeps the process up until a signal arrives.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const stop = (): void => {
      clearInterval(keepAlive);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolveStop();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  timer.cancel();
  out.write('stopping: closing BGP sessions (Cease, administrative shutdown)…\n');
  await api?.close();
  stepTimer?.cancel();
  await emulator?.stop();
  await receiver?.stop();
  await receiving;
  await Promise.allSettled(emulatorSources.map((src) => src.stop()));
  await Promise.allSettled(emulating);
  await shadow?.stop();
  await rii.stop();
  summary();
}

export function registerRunCommands(program: Command): void {
  program
    .command('run')
    .description('run the virtual routers of a config and the API until stopped')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .option('--api-listen <address:port>', 'where the API listens (default from the config, 127.0.0.1:8179)')
    .option('--no-api', 'do not start the API')
    .option('--summary-every <seconds>', 'print a summary line this often', '10')
    .option('--json', 'print summary lines as JSON')
    .action(async (o: { config: string; apiListen?: string; api: boolean; summaryEvery: string; json?: boolean }) => {
      await runInterceptor({ config: o.config, api: o.api === false ? false : o.apiListen, summaryEvery: Number(o.summaryEvery), json: o.json });
    });

  program
    .command('demo')
    .description('run the demo: the emulated network of examples/demo.yaml in real time, with the virtual routers, traffic shadowing and the API')
    .option('-c, --config <file>', 'configuration file', join(EXAMPLES_DIR, 'demo.yaml'))
    .option('--api-listen <address:port>', 'where the API listens')
    .option('--summary-every <seconds>', 'print a summary line this often', '5')
    .action(async (o: { config: string; apiListen?: string; summaryEvery: string }) => {
      await runInterceptor({ config: o.config, api: o.apiListen, summaryEvery: Number(o.summaryEvery), emulate: true });
    });
}

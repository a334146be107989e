/**
 * `shadownet shadow`: run a capture file through the mirror sessions of a
 * config, with the routing table from an MRT file if given, and write the
 * copies to a folder (one capture file per target) with a summary.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createLogger, RealClock } from '../../core/index.js';
import { loadConfig } from '../../vnet/index.js';
import { RoutingInterceptor } from '../../routing/index.js';
import { mrtRoutes } from '../../routing/mrt/index.js';
import { PcapFileSource, PcapTarget, ShadowEngine, type TrafficStatsMessage } from '../../shadow/index.js';
import { CliExit, ExitCode } from '../exit-codes.js';
import { formatTable } from '../table.js';

interface ShadowOptions {
  config: string;
  pcap: string;
  out?: string;
  vnet?: string;
  mrt?: string;
  mrtVnet?: string;
  pace: string;
  speed: string;
  pcapng?: boolean;
  json?: boolean;
}

export function registerShadowCommand(program: Command): void {
  program
    .command('shadow')
    .description('run a capture file through the mirror sessions of a config and write the copies')
    .requiredOption('-c, --config <file>', 'configuration file with a shadow: section')
    .requiredOption('--pcap <file>', 'capture file to run (pcap or pcapng)')
    .option('--out <dir>', 'write each target as DIR/<target>.pcap, plus DIR/summary.json and DIR/traffic.jsonl (default: the configured targets)')
    .option('--vnet <name>', 'virtual network the packets belong to (default: by address, from the networks\' CIDRs)')
    .option('--mrt <file>', 'load the routing table from this MRT file first (RIB dump or updates)')
    .option('--mrt-vnet <name>', 'virtual network the MRT routes go to (default: --vnet, or the first network)')
    .option('--pace <pace>', 'fast, or recorded (keep the capture\'s timing)', 'fast')
    .option('--speed <factor>', 'with --pace recorded: this many times faster', '1')
    .option('--pcapng', 'with --out: write pcapng instead of pcap')
    .option('--json', 'print the summary as JSON')
    .action(async (o: ShadowOptions) => {
      if (o.pace !== 'fast' && o.pace !== 'recorded') throw new CliExit(ExitCode.USAGE, `--pace must be fast or recorded, not ${JSON.stringify(o.pace)}`);
      const speed = Number(o.speed);
      if (!(speed > 0)) throw new CliExit(ExitCode.USAGE, '--speed must be a positive number');
      const config = loadConfig(o.config);
      const known = config.vnets.map((v) => v.name);
      for (const [flag, name] of [['--vnet', o.vnet], ['--mrt-vnet', o.mrtVnet]] as const)
        if (name !== undefined && !known.includes(name)) throw new CliExit(ExitCode.USAGE, `${flag}: no virtual network "${name}" (known: ${known.join(', ')})`);
      if (config.shadow.sessions.length === 0) process.stderr.write(`${o.config}: no mirror sessions under shadow.sessions: nothing will be copied\n`);
      const logger = createLogger({ level: config.log.level });
      const clock = new RealClock();
      const rii = new RoutingInterceptor({ config, clock, logger });
      if (o.mrt) {
        const vnet = o.mrtVnet ?? o.vnet ?? known[0];
        const r = await rii.replay(vnet, mrtRoutes(o.mrt), { acceptAny: false });
        process.stderr.write(`${o.mrt}: ${r.announced} routes installed in ${vnet} (${r.rejectedOutOfRange} outside its CIDRs)\n`);
      }
      let targets: PcapTarget[] | undefined;
      if (o.out) {
        mkdirSync(o.out, { recursive: true });
        const format = o.pcapng ? 'pcapng' : 'pcap';
        targets = config.shadow.targets.map((t) => new PcapTarget({ name: t.name, path: join(o.out!, `${t.name}.${format}`), format, logger }));
      }
      const engine = new ShadowEngine({ config, bus: rii.bus, clock, logger, routing: rii, targets });
      const traffic: TrafficStatsMessage[] = [];
      rii.bus.subscribe<TrafficStatsMessage>('shadow.stats.>', (m) => traffic.push(m));
      const source = new PcapFileSource(o.pcap, { pace: o.pace, speed, clock, vnet: o.vnet, logger });
      const started = Date.now();
      try {
        await engine.run(source);
      } catch (err) {
        await engine.stop();
        throw new CliExit(ExitCode.FAILURE, `${o.pcap}: ${(err as Error).message}`);
      }
      await engine.stop();
      const st = engine.stats();
      const summary = {
        pcap: o.pcap,
        seconds: (Date.now() - started) / 1000,
        source: { ...source.stats, format: source.format },
        ...st,
      };
      if (o.out) {
        writeFileSync(join(o.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
        writeFileSync(join(o.out, 'traffic.jsonl'), traffic.map((m) => JSON.stringify(m)).join('\n') + (traffic.length ? '\n' : ''));
      }
      if (o.json) {
        process.stdout.write(JSON.stringify(summary) + '\n');
        return;
      }
      const drops = Object.entries({ ...source.stats.dropped, ...st.engine.dropped }).map(([k, v]) => `${k} ${v}`);
      process.stdout.write(
        `${o.pcap}: ${st.engine.packets} packets (${source.format ?? '?'}), ${drops.length ? `dropped: ${drops.join(', ')}` : 'none dropped'}\n` +
          formatTable([
            ['SESSION', 'PRIORITY', 'TARGET', 'VNI', 'MATCHED', 'COPIED', 'TRUNCATED', 'SAMPLED OUT', 'SHED'],
            ...st.sessions.map((s) => [
              s.name,
              String(s.priority),
              s.target,
              String(s.vni),
              String(s.matched),
              String(s.copied),
              String(s.truncated),
              String(s.sampledOut),
              Object.entries(s.shed).map(([k, v]) => `${k} ${v}`).join(', ') || '0',
            ]),
          ]) +
          '\n' +
          (o.out ? `copies and summary.json in ${o.out}\n` : ''),
      );
    });
}

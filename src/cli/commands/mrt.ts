import type { Command } from 'commander';
import { formatPrefix } from '../../core/prefix.js';
import { bgpdumpLines, mrtRoutes, newMrtReadStats, type MrtReadStats } from '../../routing/mrt/index.js';
import { MrtDecodeError } from '../../wire/mrt.js';
import { CliExit, ExitCode } from '../exit-codes.js';
import { createLogger } from '../../core/log.js';
import { loadConfig } from '../../vnet/index.js';
import { RoutingInterceptor, type ReplaySummary } from '../../routing/index.js';
import { startApiServer } from '../../api/index.js';

/** Writes lines to stdout in large batches, waiting when the pipe is full; stops quietly on a closed pipe. */
class LineOut {
  #batch: string[] = [];
  #size = 0;
  closed = false;

  readonly #onError = (err: NodeJS.ErrnoException): void => {
    if (err.code === 'EPIPE') this.closed = true;
  };

  constructor() {
    process.stdout.on('error', this.#onError);
  }

  dispose(): void {
    process.stdout.off('error', this.#onError);
  }

  async push(line: string): Promise<void> {
    this.#batch.push(line);
    this.#size += line.length + 1;
    if (this.#size >= 64 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#batch.length === 0 || this.closed) return;
    const text = this.#batch.join('\n') + '\n';
    this.#batch = [];
    this.#size = 0;
    if (!process.stdout.write(text)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          process.stdout.off('drain', done);
          process.stdout.off('error', done);
          resolve();
        };
        process.stdout.once('drain', done);
        process.stdout.once('error', done);
      });
    }
  }
}

/**
 * `shadownet mrt dump FILE [--json]`: every route in an MRT file (gzip or
 * plain), one line each as `bgpdump -m` prints it, or one JSON object each.
 * Exit 1 with a count on stderr when the file holds records that cannot be read.
 */
export function registerMrtCommands(program: Command): void {
  const mrt = program.command('mrt').description('read and write MRT routing dumps (RFC 6396)');
  mrt
    .command('dump <file>')
    .description('print every route in an MRT file (gzip or plain), one line each as `bgpdump -m` does')
    .option('--json', 'print one JSON object per route or session state change instead')
    .action(async (file: string, o: { json?: boolean }) => {
      const stats = newMrtReadStats();
      let firstError: MrtDecodeError | undefined;
      const onBadRecord = (err: MrtDecodeError): void => {
        firstError ??= err;
      };
      const out = new LineOut();
      try {
        if (o.json) {
          for await (const r of mrtRoutes(file, { stats, onBadRecord })) {
            if (out.closed) break;
            await out.push(JSON.stringify(r.type === 'route' ? { ...r, prefix: formatPrefix(r.prefix) } : r));
          }
        } else {
          for await (const line of bgpdumpLines(file, { stats, onBadRecord })) {
            if (out.closed) break;
            await out.push(line);
          }
        }
        await out.flush();
      } catch (err) {
        await out.flush();
        throw new CliExit(ExitCode.FAILURE, `${file}: ${describe(err)}`);
      } finally {
        out.dispose();
      }
      if (stats.badRecords > 0) throw new CliExit(ExitCode.FAILURE, badSummary(file, stats, firstError));
    });

  mrt
    .command('replay <file>')
    .description("feed an MRT file's routes into a virtual network's RIBs as if its peers had sent them")
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .requiredOption('--vnet <name>', 'virtual network to feed')
    .option('--router <name>', 'router name the recorded peers appear under', 'mrt')
    .option('--pace <pace>', 'fast (as fast as possible) or recorded (keep the recorded gaps)', 'fast')
    .option('--speed <factor>', 'with --pace recorded: play this many times faster', '1')
    .option('--accept-any', "install routes outside the virtual network's CIDRs too (e.g. Internet dumps)")
    .option('--serve', 'then keep running with the API so the table can be queried (Ctrl-C stops)')
    .option('--json', 'print the summary as JSON')
    .action(
      async (
        file: string,
        o: { config: string; vnet: string; router: string; pace: string; speed: string; acceptAny?: boolean; serve?: boolean; json?: boolean },
      ) => {
        if (o.pace !== 'fast' && o.pace !== 'recorded') throw new CliExit(ExitCode.USAGE, `--pace must be fast or recorded, not ${JSON.stringify(o.pace)}`);
        const speed = Number(o.speed);
        if (!(speed > 0)) throw new CliExit(ExitCode.USAGE, '--speed must be a positive number');
        const config = loadConfig(o.config);
        if (!config.vnets.some((v) => v.name === o.vnet))
          throw new CliExit(ExitCode.USAGE, `no virtual network "${o.vnet}" in ${o.config} (known: ${config.vnets.map((v) => v.name).join(', ')})`);
        const logger = createLogger({ level: config.log.level });
        const rii = new RoutingInterceptor({ config, logger });
        const stats = newMrtReadStats();
        let firstError: MrtDecodeError | undefined;
        const started = Date.now();
        const progress = (s: ReplaySummary): void => {
          process.stderr.write(
            `replay: ${s.routes} routes (${s.announced} announced, ${s.withdrawn} withdrawn, ${s.rejectedOutOfRange} outside the CIDRs), ` +
              `${(stats.bytesRead / 1048576).toFixed(1)} MiB read, ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
          );
        };
        let summary: ReplaySummary;
        try {
          summary = await rii.replay(o.vnet, mrtRoutes(file, { stats, onBadRecord: (err) => void (firstError ??= err) }), {
            router: o.router,
            pace: o.pace,
            speed,
            acceptAny: o.acceptAny,
            onProgress: progress,
          });
        } catch (err) {
          throw new CliExit(ExitCode.FAILURE, `${file}: ${describe(err)}`);
        }
        const table = rii.rib(o.vnet).stats();
        const result = { file, vnet: o.vnet, ...summary, prefixes: table.prefixes, paths: table.paths, attributeSets: rii.attributes.size, badRecords: stats.badRecords, seconds: (Date.now() - started) / 1000 };
        if (o.json) process.stdout.write(JSON.stringify(result) + '\n');
        else
          process.stdout.write(
            `${file} → ${o.vnet}: ${summary.routes} routes from ${summary.peers} peers; ${summary.announced} announced, ${summary.withdrawn} withdrawn` +
              `; Loc-RIB now ${table.prefixes} prefixes, ${table.paths} paths\n` +
              (summary.rejectedOutOfRange > 0 ? `${summary.rejectedOutOfRange} routes lay outside ${o.vnet}'s CIDRs and were not installed (--accept-any installs them)\n` : ''),
          );
        if (stats.badRecords > 0) process.stderr.write(badSummary(file, stats, firstError) + '\n');
        if (o.serve) {
          const api = await startApiServer({ rii, address: config.api.listen.address, port: config.api.listen.port, logger });
          process.stdout.write(`API: ${api.url} (shadownet routes --api ${api.url}); Ctrl-C stops\n`);
          await new Promise<void>((resolve) => {
            const keepAlive = setInterval(() => undefined, 1 << 30);
            const stop = (): void => {
              clearInterval(keepAlive);
              resolve();
            };
            process.once('SIGINT', stop);
            process.once('SIGTERM', stop);
          });
          await api.close();
        }
        if (stats.badRecords > 0) process.exitCode = ExitCode.FAILURE;
      },
    );
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file';
  if (e.code === 'EACCES') return 'permission denied';
  if (e.code === 'EISDIR') return 'is a directory';
  if (err instanceof MrtDecodeError) return `${err.message} [${err.code}]`;
  return e.message ?? String(err);
}

function badSummary(file: string, stats: MrtReadStats, first: MrtDecodeError | undefined): string {
  const what = stats.truncated ? ' (file ends inside a record or its compression is damaged)' : '';
  return (
    `${file}: ${stats.badRecords} bad record${stats.badRecords === 1 ? '' : 's'} skipped${what}; ` +
    `${stats.records} read. First: ${first ? first.message : 'unknown'}`
  );
}

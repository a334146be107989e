/**
 * A live interface as a packet source: `tcpdump -i IFACE -U -w - [filter]`
 * runs as a child process and its pcap stream is read from stdout as it
 * comes. tcpdump's own messages (stderr) go to the log; when it cannot
 * capture (no such interface, no permission, a bad filter) its words become
 * the error.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { RealClock, type Clock } from '../../core/clock.js';
import { silentLogger, type Logger } from '../../core/log.js';
import {
  PacketBatchBuilder,
  countDrop,
  newPacketSourceStats,
  type PacketSink,
  type PacketSource,
  type PacketSourceStats,
} from '../../core/packet.js';
import { CaptureStreamReader } from './capture-stream.js';
import { PacketIoError, PacketIoErrorCode } from './errors.js';

export interface TcpdumpSourceOptions {
  /** Interface to capture on (`lo`, `eth0`, `any`). */
  readonly interface: string;
  /** BPF filter expression (tcpdump syntax). */
  readonly filter?: string;
  /** Bytes kept of each packet (tcpdump -s; default tcpdump's own, 262144). */
  readonly snaplen?: number;
  /** tcpdump binary (default `tcpdump` on the PATH). */
  readonly tcpdumpPath?: string;
  /** Source name (default `tcpdump:IFACE`). */
  readonly name?: string;
  readonly vnet?: string;
  readonly batchSize?: number;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** How long stop() waits for tcpdump to exit before killing it (ms, default 3000). */
  readonly stopGraceMs?: number;
}

export class TcpdumpSource implements PacketSource {
  readonly name: string;
  readonly stats: PacketSourceStats = newPacketSourceStats();
  readonly #opts: TcpdumpSourceOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  #child: ChildProcessByStdio<null, Readable, Readable> | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stopped = false;
  #stderr: string[] = [];
  #ready: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void };

  constructor(options: TcpdumpSourceOptions) {
    this.#opts = options;
    this.name = options.name ?? `tcpdump:${options.interface}`;
    this.#log = options.logger ?? silentLogger();
    this.#clock = options.clock ?? new RealClock();
    if (!options.interface || /^-/.test(options.interface))
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `interface must be a name such as lo or eth0, not ${JSON.stringify(options.interface)}`,
        'interface',
      );
    if (
      options.snaplen !== undefined &&
      (!Number.isInteger(options.snaplen) || options.snaplen < 1 || options.snaplen > 262144)
    )
      throw new PacketIoError(
        PacketIoErrorCode.INVALID_OPTION,
        `snaplen must be 1..262144, not ${options.snaplen}`,
        'snaplen',
      );
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => {});
    this.#ready = { promise, resolve, reject };
  }

  /** The argument list given to tcpdump. */
  get args(): string[] {
    const a = ['-i', this.#opts.interface, '-U', '--immediate-mode', '-w', '-'];
    if (this.#opts.snaplen !== undefined) a.push('-s', String(this.#opts.snaplen));
    if (this.#opts.filter) a.push(this.#opts.filter);
    return a;
  }

  /** Resolves once tcpdump says it is listening (traffic sent after it is seen); rejects if it could not start. */
  ready(): Promise<void> {
    return this.#ready.promise;
  }

  async run(sink: PacketSink): Promise<void> {
    const bin = this.#opts.tcpdumpPath ?? 'tcpdump';
    const child = spawn(bin, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let spawnError: NodeJS.ErrnoException | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    this.#exited = new Promise<void>((resolve) => {
      child.once('error', (err: NodeJS.ErrnoException) => {
        spawnError = err;
        resolve();
      });
      child.once('close', (code, signal) => {
        exit = { code, signal };
        resolve();
      });
    });
    let partial = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.#stderrLine(line);
    });

    const reader = new CaptureStreamReader((reason, message) => {
      countDrop(this.stats, reason);
      this.#log.warn({ source: this.name, reason }, message);
    });
    const batchSize = this.#opts.batchSize ?? 256;
    let batch: PacketBatchBuilder | undefined;
    const deliver = async (): Promise<void> => {
      if (!batch || batch.count === 0) return;
      this.stats.batches++;
      await sink(batch);
      batch.reset();
    };
    let readError: unknown;
    try {
      for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
        reader.write(chunk);
        this.#ready.resolve();
        while (reader.next()) {
          const r = reader.record;
          batch ??= new PacketBatchBuilder(
            this.name,
            r.linkType,
            batchSize,
            Math.max(batchSize * 2048, 65536),
            this.#opts.vnet,
          );
          if (batch.linkType !== r.linkType) {
            await deliver();
            batch.linkType = r.linkType;
          }
          const bytes = r.data.subarray(r.offset, r.offset + r.length);
          if (!batch.push(bytes, r.wireLength, r.tsSec, r.tsNsec)) {
            await deliver();
            batch.push(bytes, r.wireLength, r.tsSec, r.tsNsec);
          }
          this.stats.packets++;
          this.stats.bytes += r.length;
          if (batch.full()) await deliver();
        }
        // A live source delivers what it has at the end of every read: latency over batch size.
        await deliver();
      }
    } catch (err) {
      readError = err;
      child.kill('SIGTERM');
    }
    await this.#exited;
    if (partial) this.#stderrLine(partial);
    this.#child = undefined;
    if (spawnError) {
      const err =
        spawnError.code === 'ENOENT'
          ? new PacketIoError(
              PacketIoErrorCode.TCPDUMP_NOT_FOUND,
              `tcpdump not found (${bin}): install the tcpdump package or give tcpdumpPath`,
              'tcpdumpPath',
              undefined,
              { cause: spawnError },
            )
          : new PacketIoError(
              PacketIoErrorCode.TCPDUMP_FAILED,
              `cannot run ${bin}: ${spawnError.message}`,
              'tcpdumpPath',
              undefined,
              { cause: spawnError },
            );
      this.#ready.reject(err);
      throw err;
    }
    if (readError) throw readError;
    if (!this.#stopped && (!reader.started || (exit && exit.code !== 0))) {
      const said = this.#stderr.filter((l) => !/^(listening on|\d+ packets? )/.test(l)).join('; ');
      const err = new PacketIoError(
        PacketIoErrorCode.TCPDUMP_FAILED,
        `tcpdump on ${this.#opts.interface} ${exit?.signal ? `was ended by ${exit.signal}` : `exited with code ${exit?.code}`}${said ? `: ${said}` : ''}`,
        'interface',
      );
      this.#ready.reject(err);
      throw err;
    }
    if (reader.started) {
      reader.end();
      while (reader.next()) {
        // Records completed only by the end of the stream: none in a well-formed stream.
      }
    }
  }

  #stderrLine(line: string): void {
    if (!line.trim()) return;
    this.#stderr.push(line);
    if (this.#stderr.length > 20) this.#stderr.shift();
    if (line.startsWith('listening on')) this.#ready.resolve();
    this.#log.info({ source: this.name }, `tcpdump: ${line}`);
  }

  /** End the capture: tcpdump is asked to exit (SIGTERM), and killed if it has not within the grace period. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = this.#clock.setTimer(this.#opts.stopGraceMs ?? 3000, () => child.kill('SIGKILL'));
    await this.#exited;
    timer.cancel();
  }
}

/**
 * Starting and stopping real daemons for interop tests. Every daemon runs in
 * its own process group inside a per-file temporary directory, with its
 * output captured to a log file there; stopping kills the whole group, and a
 * process exit handler kills whatever is still running, so no daemon outlives
 * its test file even when a test fails or times out.
 */
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const liveGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  });
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

/** Where a binary is found on PATH (plus the sbin folders daemons live in), or undefined. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin', '/usr/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Checks that every named binary is installed. Returns a skip message naming
 * the missing ones and the Debian package to install, or undefined when all
 * are present. Use as `describe.skipIf(missing)(...)` after printing it.
 */
export function requireBinary(...names: string[]): string | undefined {
  const packages: Record<string, string> = {
    bird: 'bird2',
    birdc: 'bird2',
    gobgpd: 'gobgpd',
    gobgp: 'gobgpd',
    exabgp: 'exabgp',
    tshark: 'tshark',
    bgpdump: 'bgpdump',
    python3: 'python3',
  };
  const missing = names.filter((n) => findBinary(n) === undefined);
  if (missing.length === 0) return undefined;
  const pkgs = [...new Set(missing.map((n) => packages[n] ?? n))];
  const msg = `skipped: ${missing.join(', ')} not installed (apt-get install ${pkgs.join(' ')})`;
  console.warn(msg);
  return msg;
}

export interface DaemonSpec {
  /** Label used in logs and errors. */
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env?: Record<string, string>;
  /** File that receives the daemon's stdout and stderr (appended across restarts). */
  logPath: string;
}

/** A running daemon, owned by a {@link InteropLab}. */
export class DaemonProcess {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #exitCode: number | null = null;
  #exitSignal: NodeJS.Signals | null = null;

  constructor(readonly spec: DaemonSpec) {}

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#exitCode === null && this.#exitSignal === null;
  }

  /** How the last run ended, e.g. `code 1` or `signal SIGTERM`. */
  get exitStatus(): string | undefined {
    if (this.running || !this.#child) return undefined;
    return this.#exitCode !== null ? `code ${this.#exitCode}` : `signal ${this.#exitSignal}`;
  }

  start(): void {
    if (this.running) throw new Error(`${this.spec.name} is already running`);
    installExitHook();
    const fd = openSync(this.spec.logPath, 'a');
    this.#exitCode = null;
    this.#exitSignal = null;
    const child = spawn(this.spec.command, this.spec.args, {
      cwd: this.spec.cwd,
      env: { ...process.env, ...this.spec.env },
      // A new process group: stop() signals the daemon and every helper it started.
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.#child = child;
    const pgid = child.pid;
    if (pgid !== undefined) liveGroups.add(pgid);
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exitCode = code;
        this.#exitSignal = signal;
        resolve();
      });
      child.once('error', (err) => {
        this.#exitCode = -1;
        console.error(`${this.spec.name}: ${err.message}`);
        resolve();
      });
    });
  }

  /** Signals the process group (TERM, then KILL after `graceMs`) and waits for the exit. */
  async stop(graceMs = 3000): Promise<void> {
    const child = this.#child;
    const pgid = child?.pid;
    if (!child || pgid === undefined) return;
    if (this.running) {
      killGroup(pgid, 'SIGTERM');
      const timedOut = await Promise.race([this.#exited.then(() => false), sleep(graceMs).then(() => true)]);
      if (timedOut) killGroup(pgid, 'SIGKILL');
      await this.#exited;
    }
    // Helpers in the group may outlive the leader.
    killGroup(pgid, 'SIGKILL');
    liveGroups.delete(pgid);
  }

  /** Kills the group at once, without letting the daemon say goodbye to its peers. */
  async kill(): Promise<void> {
    const pgid = this.#child?.pid;
    if (pgid === undefined) return;
    killGroup(pgid, 'SIGKILL');
    await this.#exited;
    liveGroups.delete(pgid);
  }

  logText(): string {
    return existsSync(this.spec.logPath) ? readFileSync(this.spec.logPath, 'utf8') : '';
  }
}

/**
 * The daemons of one test file: a temp directory holding their configs and
 * logs, and the means to stop them all and show their logs on failure.
 */
export class InteropLab {
  readonly dir: string;
  readonly daemons: DaemonProcess[] = [];
  failed = false;

  constructor(readonly name: string) {
    this.dir = mkdtempSync(join(tmpdir(), `shadownet-interop-${name}-`));
  }

  spawn(spec: Omit<DaemonSpec, 'cwd' | 'logPath'> & { cwd?: string; logPath?: string }): DaemonProcess {
    const d = new DaemonProcess({
      ...spec,
      cwd: spec.cwd ?? this.dir,
      logPath: spec.logPath ?? join(this.dir, `${spec.name}.out`),
    });
    this.daemons.push(d);
    d.start();
    return d;
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled(this.daemons.map((d) => d.stop()));
    if (!this.failed && process.env.SHADOWNET_KEEP_INTEROP !== '1') rmSync(this.dir, { recursive: true, force: true });
  }

  /** Every log file in the lab directory, each under a header. */
  logText(): string {
    if (!existsSync(this.dir)) return '';
    const parts: string[] = [];
    for (const f of readdirSync(this.dir).sort()) {
      if (!/\.(out|log|jsonl)$/.test(f)) continue;
      const text = readFileSync(join(this.dir, f), 'utf8');
      const tail = text.length > 20_000 ? `…(${text.length - 20_000} bytes cut)\n${text.slice(-20_000)}` : text;
      parts.push(`===== ${join(this.dir, f)} =====\n${tail}`);
    }
    return parts.join('\n');
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  while (true) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/** Runs a command and resolves with its stdout; rejects with stderr on a non-zero exit. */
export function run(command: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: opts.cwd, timeout: opts.timeoutMs ?? 15_000, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

/** Synchronous variant for one-off probes. */
export function runSync(command: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

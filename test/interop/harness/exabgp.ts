/**
 * ExaBGP instances for interop tests. Commands reach ExaBGP through its API
 * process: a small Python helper that copies lines from a FIFO to ExaBGP and
 * writes every JSON message ExaBGP sends it (session changes, UPDATEs,
 * NOTIFICATIONs) to a file the test reads.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { findBinary, runSync, waitFor, type DaemonProcess, type InteropLab } from './proc.js';

export interface ExabgpNeighbor {
  address: string;
  asn: number;
  /** The neighbour's port, for active connects. */
  port: number;
  /** ExaBGP waits for the neighbour; it listens on `listenPort`. */
  passive?: boolean;
  holdTime?: number;
  families?: ('ipv4' | 'ipv6')[];
}

export interface ExabgpOptions {
  label?: string;
  routerId: string;
  address: string;
  asn: number;
  /** Port ExaBGP listens on (needed by passive neighbours). */
  listenPort: number;
  neighbors: ExabgpNeighbor[];
}

/** One JSON message from ExaBGP's API (`encoder json`). */
export type ExabgpMessage = Record<string, unknown> & { type?: string };

export interface ExabgpInstance {
  readonly options: ExabgpOptions;
  readonly daemon: DaemonProcess;
  /**
   * Sends one API command, e.g. `announce route 10.0.0.0/24 next-hop 198.51.100.4`
   * or a raw `... attribute [ 0xf0 0xc0 0xdeadbeef ]`. Prefix with
   * `neighbor ADDR ` to aim at one neighbour.
   */
  announce(line: string): Promise<void>;
  /** Every JSON message ExaBGP has passed to the API process so far. */
  messages(): ExabgpMessage[];
  /** Latest session state ExaBGP reported for a neighbour (`up`, `down`, `connected`), if any. */
  neighborState(address: string): string | undefined;
  waitUp(address: string, timeoutMs?: number): Promise<void>;
  logText(): string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const API_HELPER = `
import os, sys, threading
fifo, out = sys.argv[1], sys.argv[2]
def drain():
    with open(out, 'a', buffering=1) as f:
        for line in sys.stdin:
            f.write(line)
threading.Thread(target=drain, daemon=True).start()
fd = os.open(fifo, os.O_RDWR)
with os.fdopen(fd, 'r', buffering=1) as commands:
    for line in commands:
        sys.stdout.write(line)
        sys.stdout.flush()
`;

export function exabgpConfig(opts: ExabgpOptions, apiCommand: string): string {
  const lines = ['process api {', `  run ${apiCommand};`, '  encoder json;', '}', ''];
  for (const n of opts.neighbors) {
    lines.push(
      `neighbor ${n.address} {`,
      `  router-id ${opts.routerId};`,
      `  local-address ${opts.address};`,
      `  local-as ${opts.asn};`,
      `  peer-as ${n.asn};`,
      `  hold-time ${n.holdTime ?? 90};`,
      `  passive ${n.passive ? 'true' : 'false'};`,
      `  connect ${n.port};`,
      `  listen ${opts.listenPort};`,
      '  family {',
      ...(n.families ?? ['ipv4', 'ipv6']).map((f) => `    ${f} unicast;`),
      '  }',
      '  api {',
      '    processes [ api ];',
      '    neighbor-changes;',
      '    receive { parsed; update; notification; }',
      '  }',
      '}',
      '',
    );
  }
  return lines.join('\n');
}

export async function startExabgp(lab: InteropLab, opts: ExabgpOptions): Promise<ExabgpInstance> {
  const exabgp = findBinary('exabgp') ?? 'exabgp';
  const python = findBinary('python3') ?? 'python3';
  const label = opts.label ?? `exabgp-${opts.address}`;
  const fifo = join(lab.dir, `${label}.cmd`);
  const received = join(lab.dir, `${label}.jsonl`);
  const helper = join(lab.dir, `${label}-api.py`);
  const configPath = join(lab.dir, `${label}.conf`);
  writeFileSync(helper, API_HELPER);
  if (!existsSync(fifo)) {
    const r = runSync('mkfifo', [fifo]);
    if (r.status !== 0) throw new Error(`mkfifo ${fifo}: ${r.stderr}`);
  }
  writeFileSync(configPath, exabgpConfig(opts, `${python} ${helper} ${fifo} ${received}`));
  const env: Record<string, string> = {
    'exabgp.daemon.user': process.getuid?.() === 0 ? 'root' : (process.env.USER ?? 'nobody'),
    'exabgp.daemon.daemonize': 'false',
    'exabgp.log.destination': 'stdout',
    'exabgp.log.level': 'INFO',
    'exabgp.api.ack': 'false',
    'exabgp.tcp.bind': opts.address,
    'exabgp.tcp.port': String(opts.listenPort),
    // Pipes of a system-wide exabgpcli are not used.
    'exabgp.api.cli': 'false',
  };
  const daemon = lab.spawn({ name: label, command: exabgp, args: [configPath], env });

  const messages = (): ExabgpMessage[] => {
    if (!existsSync(received)) return [];
    const out: ExabgpMessage[] = [];
    for (const line of readFileSync(received, 'utf8').split('\n')) {
      const t = line.trim();
      if (!t.startsWith('{')) continue;
      try {
        out.push(JSON.parse(t) as ExabgpMessage);
      } catch {
        // a line ExaBGP was still writing
      }
    }
    return out;
  };

  const neighborState = (address: string): string | undefined => {
    let state: string | undefined;
    for (const m of messages()) {
      if (m.type !== 'state') continue;
      const n = m.neighbor as { address?: { peer?: string }; state?: string } | undefined;
      if (n?.address?.peer === address) state = n.state;
    }
    return state;
  };

  const instance: ExabgpInstance = {
    options: opts,
    daemon,
    async announce(line: string) {
      if (!daemon.running) throw new Error(`${label} is not running (${daemon.exitStatus}):\n${daemon.logText()}`);
      // The helper holds the FIFO open read-write, so opening it never blocks.
      const fh = await open(fifo, 'a');
      try {
        await fh.write(line.endsWith('\n') ? line : `${line}\n`);
      } finally {
        await fh.close();
      }
    },
    messages,
    neighborState,
    async waitUp(address, timeoutMs = 20_000) {
      await waitFor(`${label} neighbor ${address} up`, () => {
        if (!daemon.running) throw new Error(`${label} exited (${daemon.exitStatus})`);
        return neighborState(address) === 'up';
      }, timeoutMs);
    },
    logText: () => daemon.logText(),
    async restart() {
      await daemon.stop();
      // Session states reported before the restart no longer apply.
      writeFileSync(received, '');
      daemon.start();
    },
    stop: () => daemon.stop(),
  };
  return instance;
}

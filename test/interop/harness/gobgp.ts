/**
 * gobgpd instances for interop tests: TOML config generated per instance, its
 * own loopback address, gRPC API on that address and a per-test port.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary, run, waitFor, type DaemonProcess, type InteropLab } from './proc.js';

export interface GobgpNeighbor {
  address: string;
  asn: number;
  /** The neighbour's port, for active connects. */
  port: number;
  /** gobgpd waits for the neighbour to connect. */
  passive?: boolean;
  holdTime?: number;
  /** Advertise graceful restart (RFC 4724) for the families. */
  gracefulRestart?: boolean;
  /** Families to negotiate; default both. */
  families?: ('ipv4' | 'ipv6')[];
}

export interface GobgpOptions {
  label?: string;
  routerId: string;
  address: string;
  asn: number;
  /** BGP listen port; -1 = do not listen. */
  listenPort: number;
  /** gRPC API port on `address`. */
  apiPort: number;
  neighbors: GobgpNeighbor[];
  /** Record received UPDATEs to this MRT file (relative to the lab dir). */
  mrtDump?: string;
}

export interface GobgpRouteAttributes {
  /** Default 198.51.100.2 / 2001:db8::2 (GoBGP itself drops 127/8 next hops). */
  nextHop?: string;
  asPath?: number[];
  med?: number;
  localPref?: number;
  communities?: [number, number][];
  largeCommunities?: [number, number, number][];
  origin?: 'igp' | 'egp' | 'incomplete';
}

const FAMILY = { ipv4: 'ipv4-unicast', ipv6: 'ipv6-unicast' } as const;
/** gobgp's JSON session_state values (FSM states of its API). */
const SESSION_STATES: Record<string, string> = {
  '0': 'unknown',
  '1': 'idle',
  '2': 'connect',
  '3': 'active',
  '4': 'opensent',
  '5': 'openconfirm',
  '6': 'established',
};

export function gobgpConfig(opts: GobgpOptions, mrtPath?: string): string {
  const lines = [
    '[global.config]',
    `  as = ${opts.asn}`,
    `  router-id = "${opts.routerId}"`,
    `  port = ${opts.listenPort}`,
    `  local-address-list = ["${opts.address}"]`,
  ];
  for (const n of opts.neighbors) {
    lines.push(
      '',
      '[[neighbors]]',
      '  [neighbors.config]',
      `    neighbor-address = "${n.address}"`,
      `    peer-as = ${n.asn}`,
      '  [neighbors.transport.config]',
      `    local-address = "${opts.address}"`,
      `    remote-port = ${n.port}`,
      `    passive-mode = ${n.passive ? 'true' : 'false'}`,
      '  [neighbors.timers.config]',
      '    connect-retry = 1',
      `    hold-time = ${n.holdTime ?? 90}`,
      `    keepalive-interval = ${Math.max(1, Math.floor((n.holdTime ?? 90) / 3))}`,
      '  [neighbors.ebgp-multihop.config]',
      '    enabled = true',
      '    multihop-ttl = 8',
    );
    if (n.gracefulRestart)
      lines.push('  [neighbors.graceful-restart.config]', '    enabled = true', '    restart-time = 120');
    for (const f of n.families ?? ['ipv4', 'ipv6']) {
      lines.push('  [[neighbors.afi-safis]]', '    [neighbors.afi-safis.config]', `      afi-safi-name = "${FAMILY[f]}"`);
      if (n.gracefulRestart) lines.push('    [neighbors.afi-safis.mp-graceful-restart.config]', '      enabled = true');
    }
  }
  if (mrtPath)
    lines.push('', '[[mrt-dump]]', '  [mrt-dump.config]', '    dump-type = "updates"', `    file-name = "${mrtPath}"`);
  return lines.join('\n') + '\n';
}

export interface GobgpInstance {
  readonly options: GobgpOptions;
  readonly daemon: DaemonProcess;
  readonly configPath: string;
  /** Runs `gobgp <args>` against this instance's API. */
  cli(...args: string[]): Promise<string>;
  addRoute(prefix: string, attrs?: GobgpRouteAttributes): Promise<void>;
  deleteRoute(prefix: string): Promise<void>;
  /** FSM state of a neighbour in GoBGP's words: idle, active, opensent, established… */
  neighborState(address: string): Promise<string>;
  waitEstablished(address: string, timeoutMs?: number): Promise<void>;
  /** The neighbour's record as `gobgp neighbor ADDR -j` prints it. */
  neighbor(address: string): Promise<Record<string, unknown>>;
  /** Routes GoBGP received from a neighbour (`adj-in`, JSON). */
  adjIn(address: string, family?: 'ipv4' | 'ipv6'): Promise<Record<string, unknown[]>>;
  /** Number of prefixes in the global RIB for a family. */
  ribCount(family?: 'ipv4' | 'ipv6'): Promise<number>;
  logText(): string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function routeArgs(prefix: string, a: GobgpRouteAttributes): string[] {
  const v6 = prefix.includes(':');
  const args = [prefix, 'nexthop', a.nextHop ?? (v6 ? '2001:db8::2' : '198.51.100.2'), 'origin', a.origin ?? 'igp'];
  if (a.asPath?.length) args.push('aspath', a.asPath.join(' '));
  if (a.med !== undefined) args.push('med', String(a.med));
  if (a.localPref !== undefined) args.push('local-pref', String(a.localPref));
  if (a.communities?.length) args.push('community', a.communities.map(([x, y]) => `${x}:${y}`).join(','));
  if (a.largeCommunities?.length) args.push('large-community', a.largeCommunities.map((l) => l.join(':')).join(','));
  args.push('-a', v6 ? 'ipv6' : 'ipv4');
  return args;
}

export async function startGobgp(lab: InteropLab, opts: GobgpOptions): Promise<GobgpInstance> {
  const gobgpd = findBinary('gobgpd') ?? 'gobgpd';
  const gobgp = findBinary('gobgp') ?? 'gobgp';
  const label = opts.label ?? `gobgpd-${opts.address}`;
  const configPath = join(lab.dir, `${label}.toml`);
  writeFileSync(configPath, gobgpConfig(opts, opts.mrtDump ? join(lab.dir, opts.mrtDump) : undefined));
  const api = `${opts.address}:${opts.apiPort}`;
  const daemon = lab.spawn({
    name: label,
    command: gobgpd,
    args: ['-f', configPath, '-t', 'toml', '--api-hosts', api, '--pprof-disable', '-l', 'debug'],
  });
  const cli = (...args: string[]): Promise<string> =>
    run(gobgp, ['-u', opts.address, '-p', String(opts.apiPort), ...args], { timeoutMs: 120_000 });

  const neighbor = async (address: string): Promise<Record<string, unknown>> =>
    JSON.parse(await cli('neighbor', address, '-j')) as Record<string, unknown>;

  const neighborState = async (address: string): Promise<string> => {
    const n = await neighbor(address);
    const state = (n.state as Record<string, unknown> | undefined)?.session_state;
    return SESSION_STATES[String(state)] ?? String(state ?? 'unknown').toLowerCase();
  };

  const waitReady = (): Promise<unknown> =>
    waitFor(`${label} API`, async () => {
      if (!daemon.running) throw new Error(`${label} exited (${daemon.exitStatus}):\n${daemon.logText()}`);
      await cli('global');
      return true;
    }, 10_000, 100);

  const instance: GobgpInstance = {
    options: opts,
    daemon,
    configPath,
    cli,
    async addRoute(prefix, attrs = {}) {
      await cli('global', 'rib', 'add', ...routeArgs(prefix, attrs));
    },
    async deleteRoute(prefix) {
      await cli('global', 'rib', 'del', prefix, '-a', prefix.includes(':') ? 'ipv6' : 'ipv4');
    },
    neighborState,
    neighbor,
    async waitEstablished(address, timeoutMs = 15_000) {
      await waitFor(`${label} neighbor ${address} established`, async () => (await neighborState(address)) === 'established', timeoutMs);
    },
    async adjIn(address, family = 'ipv4') {
      const out = await cli('neighbor', address, 'adj-in', '-a', family, '-j');
      return (out.trim() ? JSON.parse(out) : {}) as Record<string, unknown[]>;
    },
    async ribCount(family = 'ipv4') {
      const out = await cli('global', 'rib', 'summary', '-a', family);
      const m = /Destination:\s*(\d+)/.exec(out);
      return m ? Number(m[1]) : 0;
    },
    logText: () => daemon.logText(),
    async restart() {
      await daemon.stop();
      daemon.start();
      await waitReady();
    },
    stop: () => daemon.stop(),
  };
  await waitReady();
  return instance;
}

/**
 * BIRD 2 instances for interop tests: generated config, own loopback address,
 * `strict bind` so several instances share a port number, no `protocol kernel`
 * so the host's routing table is never touched.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary, run, waitFor, type DaemonProcess, type InteropLab } from './proc.js';

export interface BirdNeighbor {
  /** Protocol name in BIRD (identifier); default derived from the address. */
  name?: string;
  address: string;
  port: number;
  asn: number;
  /** BIRD waits for the peer to connect. */
  passive?: boolean;
  holdTime?: number;
  /** Negotiate IPv6 unicast as well as IPv4 (default true). */
  ipv6?: boolean;
  /** Announce graceful restart (BIRD's default is aware-only). */
  gracefulRestart?: boolean;
}

export interface BirdStaticRoute {
  prefix: string;
  /** Next hop sent for this route; default the instance's `nextHopV4`/`nextHopV6`. */
  nextHop?: string;
  /** AS numbers to put in front of BIRD's own ASN, first = nearest. */
  bgpPath?: number[];
  med?: number;
  communities?: [number, number][];
  largeCommunities?: [number, number, number][];
}

export interface BirdOptions {
  /** Label for logs and the temp files (default `bird-<address>`). */
  label?: string;
  routerId: string;
  address: string;
  asn: number;
  /** BIRD listens on `address:listenPort` (strict bind). */
  listenPort: number;
  neighbors: BirdNeighbor[];
  staticRoutes?: BirdStaticRoute[];
  /** Next hops BIRD puts on exported routes (loopback next hops are refused by peers). */
  nextHopV4?: string;
  nextHopV6?: string;
}

export interface ProtocolState {
  /** BIRD's protocol state: up, start, down… */
  state: string;
  /** The BGP state or the last error, e.g. `Established`, `Active`, `Error: Hold timer expired`. */
  info: string;
}

const isV6 = (prefix: string): boolean => prefix.includes(':');

export const birdNeighborName = (n: BirdNeighbor): string => n.name ?? `peer_${n.address.replace(/[.:]/g, '_')}`;

function routeLine(r: BirdStaticRoute): string {
  const cmds: string[] = [];
  // prepend puts its argument first, so add the farthest ASN first.
  for (const asn of [...(r.bgpPath ?? [])].reverse()) cmds.push(`bgp_path.prepend(${asn});`);
  if (r.med !== undefined) cmds.push(`bgp_med = ${r.med};`);
  for (const [a, b] of r.communities ?? []) cmds.push(`bgp_community.add((${a},${b}));`);
  for (const [a, b, c] of r.largeCommunities ?? []) cmds.push(`bgp_large_community.add((${a},${b},${c}));`);
  if (r.nextHop !== undefined) cmds.push(`bgp_next_hop = ${r.nextHop};`);
  return `  route ${r.prefix} blackhole${cmds.length ? ` { ${cmds.join(' ')} }` : ''};`;
}

/** The BIRD configuration for `opts` (exported so docs and tests can show it). */
export function birdConfig(opts: BirdOptions, logFile: string): string {
  const nh4 = opts.nextHopV4 ?? '198.51.100.1';
  const nh6 = opts.nextHopV6 ?? '2001:db8::1';
  const routes = opts.staticRoutes ?? [];
  const v4 = routes.filter((r) => !isV6(r.prefix));
  const v6 = routes.filter((r) => isV6(r.prefix));
  const lines = [
    `router id ${opts.routerId};`,
    `log "${logFile}" all;`,
    'protocol device { scan time 10; }',
    // Next hops of BGP routes resolve through these tables only: a default via lo.
    'ipv4 table igp4;',
    'ipv6 table igp6;',
    'protocol static igp_v4 { ipv4 { table igp4; }; route 0.0.0.0/0 via "lo"; }',
    'protocol static igp_v6 { ipv6 { table igp6; }; route ::/0 via "lo"; }',
    'protocol static routes_v4 {',
    '  ipv4;',
    ...v4.map(routeLine),
    '}',
    'protocol static routes_v6 {',
    '  ipv6;',
    ...v6.map(routeLine),
    '}',
    // BIRD drops MED towards eBGP peers unless the export filter sets it.
    'filter export_bgp { if defined(bgp_med) then bgp_med = bgp_med; accept; }',
  ];
  for (const n of opts.neighbors) {
    const keepNh = routes.some((r) => r.nextHop !== undefined);
    lines.push(
      `protocol bgp ${birdNeighborName(n)} {`,
      `  local ${opts.address} port ${opts.listenPort} as ${opts.asn};`,
      `  neighbor ${n.address} port ${n.port} as ${n.asn};`,
      '  multihop;',
      '  strict bind yes;',
      `  passive ${n.passive ? 'yes' : 'no'};`,
      `  hold time ${n.holdTime ?? 90};`,
      '  connect delay time 1;',
      '  connect retry time 2;',
      '  error wait time 1, 4;',
      n.gracefulRestart ? '  graceful restart on;' : '  graceful restart aware;',
      `  ipv4 { import all; export filter export_bgp; igp table igp4; ${keepNh ? 'next hop keep;' : `next hop address ${nh4};`} };`,
    );
    if (n.ipv6 !== false)
      lines.push(`  ipv6 { import all; export filter export_bgp; igp table igp6; ${keepNh ? 'next hop keep;' : `next hop address ${nh6};`} };`);
    lines.push('}');
  }
  return lines.join('\n') + '\n';
}

export interface BirdInstance {
  readonly options: BirdOptions;
  readonly daemon: DaemonProcess;
  readonly configPath: string;
  readonly socketPath: string;
  readonly logPath: string;
  /** Runs one birdc command (`show route count`), returns its output without the banner. */
  birdc(command: string): Promise<string>;
  /** State of every BGP protocol, keyed by protocol name. */
  protocols(): Promise<Record<string, ProtocolState>>;
  /** Name of the protocol for a neighbour address. */
  protocolName(address: string): string;
  waitEstablished(name: string, timeoutMs?: number): Promise<void>;
  /** Number of routes in a table (master4, master6). */
  routeCount(table?: string): Promise<number>;
  /** `show route <prefix> all` output. */
  showRoute(prefix: string, table?: string): Promise<string>;
  /** Adds static routes and reconfigures the running BIRD. */
  addRoute(...routes: BirdStaticRoute[]): Promise<void>;
  /** Removes static routes (by prefix) and reconfigures. */
  removeRoute(...prefixes: string[]): Promise<void>;
  /** BIRD's own log file plus its stdout/stderr. */
  logText(): string;
  /**
   * Stops BIRD (SIGTERM: it sends Cease to its peers; `kill`: SIGKILL, the
   * peers see the TCP connection drop), optionally changes its static routes
   * while it is down, and starts it again.
   */
  restart(opts?: { kill?: boolean; staticRoutes?: BirdStaticRoute[] }): Promise<void>;
  stop(): Promise<void>;
}

export async function startBird(lab: InteropLab, opts: BirdOptions): Promise<BirdInstance> {
  const bird = findBinary('bird') ?? 'bird';
  const birdc = findBinary('birdc') ?? 'birdc';
  const label = opts.label ?? `bird-${opts.address}`;
  const configPath = join(lab.dir, `${label}.conf`);
  const socketPath = join(lab.dir, `${label}.ctl`);
  const logPath = join(lab.dir, `${label}.log`);
  const current: BirdOptions = { ...opts, staticRoutes: [...(opts.staticRoutes ?? [])] };
  const writeConfig = (): void => writeFileSync(configPath, birdConfig(current, logPath));
  writeConfig();

  const daemon = lab.spawn({
    name: label,
    command: bird,
    // -f: stay in the foreground so the process group can be stopped.
    args: ['-f', '-c', configPath, '-s', socketPath, '-P', join(lab.dir, `${label}.pid`)],
  });

  const birdcRun = async (command: string): Promise<string> => {
    const out = await run(birdc, ['-s', socketPath, ...command.split(/\s+/).filter(Boolean)]);
    return out.replace(/^BIRD [^\n]* ready\.\n/, '');
  };

  const protocols = async (): Promise<Record<string, ProtocolState>> => {
    const out = await birdcRun('show protocols');
    const result: Record<string, ProtocolState> = {};
    for (const line of out.split('\n')) {
      // name  proto  table  state  since(date time)  info
      const m = /^(\S+)\s+BGP\s+\S+\s+(\S+)\s+\S+(?: \S+)?\s*(.*)$/.exec(line);
      if (m) result[m[1]] = { state: m[2], info: m[3].trim() };
    }
    return result;
  };

  const instance: BirdInstance = {
    options: current,
    daemon,
    configPath,
    socketPath,
    logPath,
    birdc: birdcRun,
    protocols,
    protocolName(address: string): string {
      const n = current.neighbors.find((x) => x.address === address);
      if (!n) throw new Error(`${label} has no neighbor ${address}`);
      return birdNeighborName(n);
    },
    async waitEstablished(name: string, timeoutMs = 15_000): Promise<void> {
      await waitFor(`${label} protocol ${name} Established`, async () => (await protocols())[name]?.info === 'Established', timeoutMs);
    },
    async routeCount(table = 'master4'): Promise<number> {
      const out = await birdcRun(`show route count table ${table}`);
      const m = /(\d+) of (\d+) routes/.exec(out);
      return m ? Number(m[1]) : 0;
    },
    showRoute(prefix: string, table?: string): Promise<string> {
      return birdcRun(`show route ${prefix}${table ? ` table ${table}` : ''} all`);
    },
    async addRoute(...routes: BirdStaticRoute[]): Promise<void> {
      const drop = new Set(routes.map((r) => r.prefix));
      current.staticRoutes = [...current.staticRoutes!.filter((r) => !drop.has(r.prefix)), ...routes];
      writeConfig();
      await birdcRun('configure');
    },
    async removeRoute(...prefixes: string[]): Promise<void> {
      const drop = new Set(prefixes);
      current.staticRoutes = current.staticRoutes!.filter((r) => !drop.has(r.prefix));
      writeConfig();
      await birdcRun('configure');
    },
    logText(): string {
      return daemon.logText() + (daemon.spec.logPath === logPath ? '' : readOr(logPath));
    },
    async restart(o: { kill?: boolean; staticRoutes?: BirdStaticRoute[] } = {}): Promise<void> {
      if (o.kill) await daemon.kill();
      else await daemon.stop();
      if (o.staticRoutes) {
        current.staticRoutes = [...o.staticRoutes];
        writeConfig();
      }
      daemon.start();
      await waitReady();
    },
    stop: () => daemon.stop(),
  };

  const waitReady = (): Promise<unknown> =>
    waitFor(`${label} control socket`, async () => {
      if (!daemon.running) throw new Error(`${label} exited (${daemon.exitStatus}):\n${instance.logText()}`);
      await birdcRun('show status');
      return true;
    }, 10_000, 50);
  await waitReady();
  return instance;
}

function readOr(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/**
 * `shadownet routes` and `shadownet peers`: ask a running shadownet over its
 * HTTP API and print a table, or JSON with `--json`.
 */
import type { Command } from 'commander';
import type { PeerView, RouteView } from '../../routing/index.js';
import { CliExit, ExitCode } from '../exit-codes.js';
import { formatTable } from '../table.js';

export const DEFAULT_API = process.env.SHADOWNET_API ?? 'http://127.0.0.1:8179';

export async function apiGet<T>(base: string, path: string, query: Record<string, string | undefined>): Promise<T> {
  const url = new URL(path, base.endsWith('/') ? base : base + '/');
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new CliExit(
      ExitCode.UNAVAILABLE,
      `cannot reach shadownet at ${base} (${(err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message}); is \`shadownet run\` going? Use --api to point elsewhere.`,
    );
  }
  const body = (await res.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined;
  if (!res.ok) {
    const msg = body?.error?.message ?? `HTTP ${res.status}`;
    throw new CliExit(res.status === 404 ? ExitCode.NOT_FOUND : res.status === 400 ? ExitCode.USAGE : ExitCode.FAILURE, msg);
  }
  return body as T;
}

export function formatRoutes(routes: RouteView[]): string {
  const rows = [['VNET', 'PREFIX', 'NEXT HOP', 'PEER', 'AS PATH', 'ORIGIN', 'MED', 'LP', 'COMMUNITIES', 'PATHS']];
  for (const r of routes) {
    const a = r.best.attributes;
    const comms = [...(a.communities ?? []), ...(a.largeCommunities ?? [])].join(' ');
    rows.push([
      r.vnet,
      r.prefix,
      a.nextHop ?? '-',
      `${r.best.peer} (AS${r.best.peerAs})${r.best.stale ? ' stale' : ''}`,
      a.asPath || '(empty)',
      a.origin,
      a.med === undefined ? '-' : String(a.med),
      a.localPref === undefined ? '-' : String(a.localPref),
      comms || '-',
      r.ecmp > 1 ? `${r.paths.length} (ecmp ${r.ecmp})` : String(r.paths.length),
    ]);
  }
  return formatTable(rows);
}

export function formatPeers(peers: PeerView[]): string {
  const rows = [['VNET', 'ROUTER', 'PEER', 'AS', 'STATE', 'PREFIXES', 'REJECTED', 'LAST ERROR']];
  for (const p of peers) {
    const lastError = (p.session.lastError as string | undefined) ?? '-';
    rows.push([p.vnet, p.router, p.address, String(p.asn), p.state, String(p.prefixes), String(p.routes.rejectedOutOfRange), lastError]);
  }
  return formatTable(rows);
}

export function registerQueryCommands(program: Command): void {
  program
    .command('routes')
    .description('show the routing table of the virtual networks (the Loc-RIB: best path first)')
    .option('--vnet <name>', 'only this virtual network')
    .option('--prefix <prefix>', 'exactly this prefix, e.g. 10.1.0.0/16')
    .option('--lookup <ip>', 'longest-prefix match for an address')
    .option('--within <prefix>', 'this prefix and its more-specifics')
    .option('--limit <n>', 'at most this many routes')
    .option('--api <url>', 'API of the running shadownet', DEFAULT_API)
    .option('--json', 'print JSON (one array)')
    .action(async (o: { vnet?: string; prefix?: string; lookup?: string; within?: string; limit?: string; api: string; json?: boolean }) => {
      if (o.prefix && o.lookup) throw new CliExit(ExitCode.USAGE, 'give either --prefix or --lookup, not both');
      const routes = await apiGet<RouteView[]>(o.api, 'api/v1/routes', { vnet: o.vnet, prefix: o.prefix, lookup: o.lookup, within: o.within, limit: o.limit });
      if (o.json) process.stdout.write(JSON.stringify(routes, null, 2) + '\n');
      else if (routes.length > 0) process.stdout.write(formatRoutes(routes) + '\n');
      if (routes.length === 0) {
        if (!o.json) process.stderr.write('no matching route\n');
        if (o.prefix || o.lookup) process.exitCode = ExitCode.NOT_FOUND;
      }
    });

  program
    .command('peers')
    .description('show the BGP peers of every virtual router and their sessions')
    .option('--vnet <name>', 'only this virtual network')
    .option('--api <url>', 'API of the running shadownet', DEFAULT_API)
    .option('--json', 'print JSON (one array)')
    .action(async (o: { vnet?: string; api: string; json?: boolean }) => {
      const peers = await apiGet<PeerView[]>(o.api, 'api/v1/peers', { vnet: o.vnet });
      if (o.json) process.stdout.write(JSON.stringify(peers, null, 2) + '\n');
      else process.stdout.write(formatPeers(peers) + '\n');
    });
}

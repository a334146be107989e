/**
 * Runs shadownet's routing interceptor (RII) in the test process, configured
 * from YAML exactly as a user would write it, and records every RouteEvent it
 * publishes so tests can assert on the trace.
 */
import type { RouteEvent } from '../../../src/core/index.js';
import { RoutingInterceptor, type PeerView, type RouteView } from '../../../src/routing/index.js';
import { parseConfig } from '../../../src/vnet/index.js';
import { waitFor } from './proc.js';

export interface RiiPeerSpec {
  address: string;
  asn: number;
  /** The peer's port, for active connects. */
  port?: number;
  passive?: boolean;
  holdTime?: number;
  connectRetry?: number;
  maxPrefix?: { limit: number; restartAfter?: number };
  acceptedPrefixes?: string[];
  gracefulRestart?: boolean;
}

export interface RiiSpec {
  vnet?: string;
  cidrs: string[];
  router: { name: string; asn: number; routerId: string; address: string; port: number };
  peers: RiiPeerSpec[];
}

/** The YAML a user would write for `spec` (printed with failures, used by docs). */
export function riiYaml(spec: RiiSpec): string {
  const peer = (p: RiiPeerSpec): string[] => {
    const lines = [`            - address: ${p.address}`, `              asn: ${p.asn}`];
    if (p.port !== undefined) lines.push(`              port: ${p.port}`);
    lines.push(`              passive: ${p.passive ?? true}`);
    if (p.holdTime !== undefined) lines.push(`              holdTime: ${p.holdTime}`);
    lines.push(`              connectRetry: ${p.connectRetry ?? 1}`);
    if (p.maxPrefix)
      lines.push(
        `              maxPrefix: { limit: ${p.maxPrefix.limit}${p.maxPrefix.restartAfter !== undefined ? `, restartAfter: ${p.maxPrefix.restartAfter}` : ''} }`,
      );
    if (p.acceptedPrefixes) lines.push(`              acceptedPrefixes: [${p.acceptedPrefixes.join(', ')}]`);
    if (p.gracefulRestart !== undefined) lines.push(`              gracefulRestart: ${p.gracefulRestart}`);
    return lines;
  };
  return [
    'vnets:',
    `  - name: ${spec.vnet ?? 'prod'}`,
    `    cidrs: [${spec.cidrs.join(', ')}]`,
    '    routers:',
    `      - name: ${spec.router.name}`,
    `        asn: ${spec.router.asn}`,
    `        routerId: ${spec.router.routerId}`,
    `        listen: { address: ${spec.router.address}, port: ${spec.router.port} }`,
    '        peers:',
    ...spec.peers.flatMap(peer),
    '',
  ].join('\n');
}

export interface RiiUnderTest {
  readonly rii: RoutingInterceptor;
  readonly yaml: string;
  /** Every RouteEvent published so far, in order. */
  readonly events: RouteEvent[];
  peer(address: string): PeerView;
  route(prefix: string): RouteView | undefined;
  waitPeerState(address: string, state: PeerView['state'], timeoutMs?: number): Promise<PeerView>;
  waitRoute(prefix: string, timeoutMs?: number): Promise<RouteView>;
  waitNoRoute(prefix: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startRii(spec: RiiSpec): Promise<RiiUnderTest> {
  const yaml = riiYaml(spec);
  const config = parseConfig(yaml, 'interop.yaml');
  const rii = new RoutingInterceptor({ config });
  const events: RouteEvent[] = [];
  rii.bus.subscribe<RouteEvent>('routing.events.>', (e) => {
    events.push(e);
  });
  await rii.start();
  const vnet = spec.vnet ?? 'prod';
  const peer = (address: string): PeerView => {
    const p = rii.peers({ vnet }).find((x) => x.address === address);
    if (!p) throw new Error(`no peer ${address} in the RII`);
    return p;
  };
  const route = (prefix: string): RouteView | undefined => rii.routes({ vnet, prefix })[0];
  return {
    rii,
    yaml,
    events,
    peer,
    route,
    waitPeerState: (address, state, timeoutMs = 15_000) =>
      waitFor(`RII peer ${address} ${state}`, () => {
        const p = peer(address);
        return p.state === state && p;
      }, timeoutMs),
    waitRoute: (prefix, timeoutMs = 10_000) => waitFor(`${prefix} in the RII Loc-RIB`, () => route(prefix), timeoutMs),
    waitNoRoute: async (prefix, timeoutMs = 10_000) => {
      await waitFor(`${prefix} gone from the RII Loc-RIB`, () => route(prefix) === undefined, timeoutMs);
    },
    stop: () => rii.stop(),
  };
}

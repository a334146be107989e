/**
 * The HTTP API: routing queries for the CLI and scripts, and Prometheus
 * metrics. Listens on loopback by default.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { ShadownetError, InvalidArgumentError, routeEventTopic, type Logger } from '../core/index.js';
import type { RoutingInterceptor } from '../routing/index.js';
import type { ShadowEngine } from '../shadow/index.js';
import { httpStatusFor } from './errors.js';

export interface ApiServerOptions {
  rii: RoutingInterceptor;
  address: string;
  port: number;
  logger?: Logger;
  /** The shadowing engine, when one runs: adds /api/v1/shadow routes. */
  shadow?: ShadowEngine;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

export async function startApiServer(opts: ApiServerOptions): Promise<{ app: FastifyInstance; url: string; close(): Promise<void> }> {
  const app = Fastify({ logger: false });
  const { rii } = opts;
  let requestErrors = 0;

  app.setErrorHandler((err, _req, reply) => {
    requestErrors++;
    const code = err instanceof ShadownetError ? err.code : (err as { code?: string }).code;
    const status = err instanceof ShadownetError ? httpStatusFor(code) : ((err as { statusCode?: number }).statusCode ?? 500);
    if (status >= 500) opts.logger?.error({ err }, 'API request failed');
    void reply.status(status).send({ error: { code: code ?? 'SHADOWNET_ERR_INTERNAL', message: (err as Error).message } });
  });

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/api/v1/vnets', async () => rii.config.vnets.map((v) => ({ name: v.name, cidrs: v.cidrs, routers: v.routers.map((r) => r.name) })));

  app.get('/api/v1/routes', async (req) => {
    const q = req.query as Record<string, unknown>;
    const prefix = str(q.prefix);
    const lookup = str(q.lookup);
    if (prefix && lookup) throw new InvalidArgumentError('give either prefix or lookup, not both');
    const limitText = str(q.limit);
    const limit = limitText === undefined ? undefined : Number(limitText);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new InvalidArgumentError('limit must be a positive integer');
    return rii.routes({ vnet: str(q.vnet), prefix, lookup, within: str(q.within), limit });
  });

  app.get('/api/v1/peers', async (req) => rii.peers({ vnet: str((req.query as Record<string, unknown>).vnet) }));

  app.get('/api/v1/stats', async () => ({ ...rii.stats(), refusedRecent: rii.refused.slice(-10) }));

  app.get('/metrics', async (_req, reply) => {
    const s = rii.stats();
    const lines: string[] = [
      '# HELP shadownet_rii_prefixes Prefixes in the Loc-RIBs.',
      '# TYPE shadownet_rii_prefixes gauge',
      `shadownet_rii_prefixes ${s.prefixes}`,
      '# HELP shadownet_rii_paths Paths held in the Adj-RIBs-In.',
      '# TYPE shadownet_rii_paths gauge',
      `shadownet_rii_paths ${s.paths}`,
      '# HELP shadownet_rii_attribute_sets Interned path attribute sets.',
      '# TYPE shadownet_rii_attribute_sets gauge',
      `shadownet_rii_attribute_sets ${s.attributeSets}`,
      '# HELP shadownet_rii_refused_connections_total Connections refused from unconfigured peers.',
      '# TYPE shadownet_rii_refused_connections_total counter',
      `shadownet_rii_refused_connections_total ${s.refused}`,
      '# HELP shadownet_api_request_errors_total API requests that failed.',
      '# TYPE shadownet_api_request_errors_total counter',
      `shadownet_api_request_errors_total ${requestErrors}`,
      '# HELP shadownet_rii_peer_up 1 when the BGP session is established.',
      '# TYPE shadownet_rii_peer_up gauge',
    ];
    const peers = rii.peers();
    for (const p of peers) lines.push(`shadownet_rii_peer_up{vnet="${p.vnet}",router="${p.router}",peer="${p.address}"} ${p.state === 'established' ? 1 : 0}`);
    lines.push('# HELP shadownet_rii_peer_prefixes Prefixes in the peer\'s Adj-RIB-In.', '# TYPE shadownet_rii_peer_prefixes gauge');
    for (const p of peers) lines.push(`shadownet_rii_peer_prefixes{vnet="${p.vnet}",router="${p.router}",peer="${p.address}"} ${p.prefixes}`);
    lines.push('# HELP shadownet_rii_routes_rejected_total Routes refused for lying outside the accepted ranges.', '# TYPE shadownet_rii_routes_rejected_total counter');
    for (const p of peers) lines.push(`shadownet_rii_routes_rejected_total{vnet="${p.vnet}",router="${p.router}",peer="${p.address}"} ${p.routes.rejectedOutOfRange}`);
    void reply.header('content-type', 'text/plain; version=0.0.4');
    return lines.join('\n') + '\n';
  });

  const shadow = opts.shadow;
  if (shadow) {
    app.get('/api/v1/shadow', async () => shadow.stats());
    app.get('/api/v1/shadow/sessions', async () => shadow.sessions());
    /** Add or replace one mirror session (same fields as in the config file). */
    app.put('/api/v1/shadow/sessions/:name', async (req) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const name = (req.params as { name: string }).name;
      if (body.name !== undefined && body.name !== name) throw new InvalidArgumentError(`body name "${String(body.name)}" differs from the URL's "${name}"`);
      shadow.upsertSession({ ...body, name });
      return shadow.sessions().find((s) => s.name === name);
    });
    app.delete('/api/v1/shadow/sessions/:name', async (_req, reply) => {
      shadow.removeSession((_req.params as { name: string }).name);
      return reply.status(204).send();
    });
    /** Replace a named IP set: body { entries: ["192.0.2.0/24", "198.51.100.7", …] }. */
    app.put('/api/v1/shadow/ipsets/:name', async (req) => {
      const entries = (req.body as { entries?: unknown } | undefined)?.entries;
      if (!Array.isArray(entries) || entries.some((e) => typeof e !== 'string')) throw new InvalidArgumentError('body must be { "entries": [ "prefix or address", … ] }');
      return shadow.setIpSet((req.params as { name: string }).name, entries as string[]);
    });
  }

  /** Server-sent events: the live RouteEvent stream (`?vnet=` to narrow). */
  app.get('/api/v1/events', (req, reply) => {
    const vnet = str((req.query as Record<string, unknown>).vnet);
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const sub = rii.bus.subscribe(vnet ? routeEventTopic(vnet) : 'routing.events.>', (e) => {
      reply.raw.write(`data: ${JSON.stringify(e, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))}\n\n`);
    });
    req.raw.on('close', () => sub.unsubscribe());
  });

  await app.listen({ host: opts.address, port: opts.port });
  const host = opts.address.includes(':') ? `[${opts.address}]` : opts.address;
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return { app, url: `http://${host}:${port}`, close: () => app.close() };
}

/**
 * Graceful restart (RFC 4724) as the RII applies it: a peer that negotiated it
 * and whose TCP connection dies without a NOTIFICATION keeps its routes in the
 * Loc-RIB, marked stale, until it comes back and sends End-of-RIB (routes it
 * did not re-announce are then withdrawn) — or until its restart time runs out.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrefix, type RouteEvent } from '../src/core/index.js';
import { RoutingInterceptor } from '../src/routing/index.js';
import { waitFor } from '../src/routing/session/test-support.js';
import { BgpFrameReader, decodeMessage, encodeMessage, type BgpMessage, type PathAttribute } from '../src/wire/bgp/index.js';
import { parseConfig } from '../src/vnet/index.js';

const PORT = 23190;
const config = parseConfig(`
vnets:
  - name: prod
    cidrs: [10.0.0.0/8]
    routers:
      - name: vr1
        asn: 65000
        routerId: 10.255.0.1
        listen: { address: 127.0.0.1, port: ${PORT} }
        peers:
          - { address: 127.0.0.5, asn: 65005 }
`);

const ctx = { fourOctetAs: true };
const attrs: PathAttribute[] = [
  { type: 'origin', flags: 0x40, value: 0 },
  { type: 'as-path', flags: 0x40, segments: [{ type: 2, asns: [65005] }], asnBytes: 4 },
  { type: 'next-hop', flags: 0x40, nextHop: '198.51.100.5' },
];

/** A hand-driven session: OPEN with graceful restart (restart time 2 s), then whatever the test sends. */
async function session(restarting: boolean): Promise<{ socket: Socket; send(m: BgpMessage): void }> {
  const socket = connect({ host: '127.0.0.1', port: PORT, localAddress: '127.0.0.5' });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const reader = new BgpFrameReader();
  const got: BgpMessage[] = [];
  socket.on('data', (chunk) => {
    reader.push(chunk);
    for (let m = reader.next(); m; m = reader.next()) got.push(decodeMessage(m, 0, ctx).value);
  });
  const send = (m: BgpMessage): void => void socket.write(encodeMessage(m, undefined, 0, ctx));
  send({
    type: 'open',
    version: 4,
    myAs: 65005,
    holdTime: 90,
    bgpId: '10.0.0.5',
    capabilities: [
      { type: 'multiprotocol', afi: 1, safi: 1 },
      { type: 'four-octet-as', asn: 65005 },
      { type: 'graceful-restart', restarting, notification: false, restartTime: 2, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] },
    ],
  });
  await waitFor(() => got.some((m) => m.type === 'open'), 'OPEN from the virtual router');
  send({ type: 'keepalive' });
  await waitFor(() => got.some((m) => m.type === 'keepalive'), 'KEEPALIVE from the virtual router');
  return { socket, send };
}

const announce = (...ps: string[]): BgpMessage => ({ type: 'update', withdrawn: [], attributes: attrs, nlri: ps.map((p) => parsePrefix(p)), issues: [] });
const endOfRib: BgpMessage = { type: 'update', withdrawn: [], attributes: [], nlri: [], issues: [] };

describe('graceful restart in the RII', () => {
  const rii = new RoutingInterceptor({ config });
  const events: RouteEvent[] = [];
  rii.bus.subscribe<RouteEvent>('routing.events.>', (e) => events.push(e));
  beforeAll(() => rii.start());
  afterAll(() => rii.stop());
  const peer = () => rii.peers()[0];

  it('keeps routes stale across a restart and sweeps what was not re-announced at End-of-RIB', async () => {
    const first = await session(false);
    first.send(announce('10.1.0.0/16', '10.2.0.0/16'));
    first.send(endOfRib);
    await waitFor(() => rii.routes().length === 2, 'two routes');

    first.socket.destroy(); // no NOTIFICATION: the peer "restarts"
    await waitFor(() => peer().state !== 'established', 'session down');
    const held = rii.routes();
    expect(held.map((r) => r.prefix).sort()).toEqual(['10.1.0.0/16', '10.2.0.0/16']);
    expect(held.every((r) => r.best.stale)).toBe(true);
    expect(events.some((e) => e.type === 'route-withdraw')).toBe(false);

    const second = await session(true);
    await waitFor(() => peer().state === 'established', 'session back');
    second.send(announce('10.1.0.0/16'));
    second.send(endOfRib);
    await waitFor(() => rii.routes().length === 1, 'stale route swept at End-of-RIB');
    const [r] = rii.routes();
    expect(r.prefix).toBe('10.1.0.0/16');
    expect(r.best.stale).toBeUndefined();
    const w = events.filter((e) => e.type === 'route-withdraw');
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ prefix: '10.2.0.0/16' });
    second.socket.destroy();
    await waitFor(() => peer().state !== 'established', 'session down again');
  });

  it('withdraws stale routes when the peer does not come back within its restart time', async () => {
    await waitFor(() => rii.routes().length === 0, 'stale routes expired after 2 s', 8_000);
    expect(events.filter((e) => e.type === 'route-withdraw').at(-1)).toMatchObject({ prefix: '10.1.0.0/16', reason: 'stale-expired' });
  });
});

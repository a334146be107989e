import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { formatPrefix, parsePrefix } from '../../core/prefix.js';
import { decodeMessage, type UpdateMessage } from '../../wire/bgp/index.js';
import type { BgpSpeaker } from './speaker.js';
import { recordingSpeaker, waitFor } from './test-support.js';

// Ports 21000-21099 belong to this file.
const running: BgpSpeaker[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

function make(...args: Parameters<typeof recordingSpeaker>) {
  const r = recordingSpeaker(...args);
  running.push(r.speaker);
  return r;
}

function ipv4Update(prefix: string, nextHop: string, asPath: number[]): UpdateMessage {
  return {
    type: 'update',
    withdrawn: [],
    attributes: [
      { type: 'origin', flags: 0x40, value: 0 },
      { type: 'as-path', flags: 0x40, segments: [{ type: 2, asns: asPath }], asnBytes: 4 },
      { type: 'next-hop', flags: 0x40, nextHop },
    ],
    nlri: [parsePrefix(prefix)],
    issues: [],
  };
}

function ipv6Update(prefix: string, asPath: number[]): UpdateMessage {
  const nh = new Uint8Array(16);
  nh[15] = 1;
  return {
    type: 'update',
    withdrawn: [],
    attributes: [
      { type: 'origin', flags: 0x40, value: 0 },
      { type: 'as-path', flags: 0x40, segments: [{ type: 2, asns: asPath }], asnBytes: 4 },
      { type: 'mp-reach', flags: 0x80, afi: 2, safi: 1, nextHop: nh, nlri: [parsePrefix(prefix)] },
    ],
    nlri: [],
    issues: [],
  };
}

const announced = (u: UpdateMessage): string[] => [
  ...u.nlri.map(formatPrefix),
  ...u.attributes.flatMap((a) => (a.type === 'mp-reach' ? a.nlri.map(formatPrefix) : [])),
];

describe('BgpSpeaker over loopback TCP', () => {
  it('peers 127.0.0.1 ↔ 127.0.0.2 and exchanges UPDATEs in both directions', async () => {
    const a = make({
      name: 'a',
      localAs: 65001,
      routerId: '10.0.0.1',
      listen: { address: '127.0.0.1', port: 21001 },
      peers: [{ address: '127.0.0.2', asn: 65002, passive: true }],
    });
    const b = make({
      name: 'b',
      localAs: 65002,
      routerId: '10.0.0.2',
      listen: { address: '127.0.0.2', port: 21002 },
      peers: [{ address: '127.0.0.1', port: 21001, asn: 65001 }],
    });
    await a.speaker.start();
    await b.speaker.start();
    const pa = a.speaker.peer('127.0.0.2')!;
    const pb = b.speaker.peer('127.0.0.1')!;
    await waitFor(() => pa.state === 'established' && pb.state === 'established', 'established');

    expect(a.rec.states.map((s) => `${s.from}>${s.to}:${s.reason}`)).toEqual([
      'idle>active:manual-start',
      'active>open-sent:tcp-connection-established',
      'open-sent>open-confirm:open-received',
      'open-confirm>established:keepalive-received',
    ]);
    expect(b.rec.states.map((s) => s.to)).toEqual(['connect', 'open-sent', 'open-confirm', 'established']);
    // B bound 127.0.0.2 before connecting, which is how A recognised it.
    expect(a.rec.refused).toEqual([]);
    expect(pa.remoteBgpId).toBe('10.0.0.2');
    expect(pa.negotiated).toMatchObject({
      peerAs: 65002,
      fourOctetAs: true,
      holdTime: 90,
      keepalive: 30,
      routeRefresh: true,
      families: [
        { afi: 1, safi: 1 },
        { afi: 2, safi: 1 },
      ],
      gracefulRestart: { restartTime: 120 },
    });
    expect(pa.negotiated!.addPathReceive.size).toBe(0);

    pb.sendUpdate(ipv4Update('192.0.2.0/24', '127.0.0.2', [65002, 4200000000]));
    pb.sendUpdate(ipv6Update('2001:db8::/32', [65002]));
    pb.sendEndOfRib(1, 1);
    pb.sendEndOfRib(2, 1);
    pa.sendUpdate(ipv4Update('198.51.100.0/24', '127.0.0.1', [65001]));
    await waitFor(() => a.rec.eor.length === 2 && b.rec.updates.length === 1, 'updates');

    expect(a.rec.updates.map((u) => announced(u.update))).toEqual([['192.0.2.0/24'], ['2001:db8::/32']]);
    const asPath = a.rec.updates[0].update.attributes.find((x) => x.type === 'as-path');
    expect(asPath).toMatchObject({ segments: [{ type: 2, asns: [65002, 4200000000] }] });
    expect(a.rec.eor).toEqual([
      { peer: '127.0.0.2', afi: 1, safi: 1 },
      { peer: '127.0.0.2', afi: 2, safi: 1 },
    ]);
    expect(b.rec.updates.map((u) => announced(u.update))).toEqual([['198.51.100.0/24']]);
    expect(pa.counters.prefixesReceived).toBe(2);
    expect(pa.counters.updatesIn).toBe(4);
    expect(pa.counters.endOfRibReceived).toBe(2);
    expect(pa.counters.messagesIn.update).toBe(4);
    expect(pb.counters.updatesOut).toBe(2);

    pa.requestRouteRefresh(1, 1);
    await waitFor(() => b.rec.refresh.length === 1, 'route refresh');
    expect(b.rec.refresh[0]).toEqual({ peer: '127.0.0.1', afi: 1, safi: 1 });

    // stop(): Cease/2 to the established peer.
    await a.speaker.stop();
    await waitFor(() => pb.state !== 'established', 'peer down');
    const down = b.rec.states.find((s) => s.from === 'established')!;
    expect(down.reason).toBe('notification-received');
    expect(down.notification).toMatchObject({ code: 6, subcode: 2, direction: 'received' });
    expect(pb.counters.flaps).toBe(1);
  });

  it('peers over ::1 with the active side on the listening end', async () => {
    const a = make({
      name: 'a6',
      localAs: 65001,
      routerId: '10.0.0.1',
      listen: { address: '::1', port: 21011 },
      peers: [{ address: '::1', port: 21012, asn: 65002 }],
    });
    const b = make({
      name: 'b6',
      localAs: 65002,
      routerId: '10.0.0.2',
      listen: { address: '::1', port: 21012 },
      peers: [{ address: '0:0:0:0:0:0:0:1', asn: 65001, passive: true }],
    });
    await b.speaker.start();
    await a.speaker.start();
    const pa = a.speaker.peer('::1')!;
    const pb = b.speaker.peer('::1')!;
    await waitFor(() => pa.state === 'established' && pb.state === 'established', 'established');
    pa.sendUpdate(ipv6Update('2001:db8:1::/48', [65001]));
    pb.sendUpdate(ipv6Update('2001:db8:2::/48', [65002]));
    await waitFor(() => a.rec.updates.length === 1 && b.rec.updates.length === 1, 'updates');
    expect(announced(b.rec.updates[0].update)).toEqual(['2001:db8:1::/48']);
    expect(announced(a.rec.updates[0].update)).toEqual(['2001:db8:2::/48']);
  });

  it('negotiates the smaller hold time and a 4-octet ASN behind AS_TRANS', async () => {
    const a = make({
      name: 'a',
      localAs: 4200000001,
      routerId: '10.0.0.1',
      listen: { address: '127.0.0.1', port: 21021 },
      peers: [{ address: '127.0.0.2', asn: 65002, passive: true, holdTime: 30 }],
    });
    const b = make({
      name: 'b',
      localAs: 65002,
      routerId: '10.0.0.2',
      listen: { address: '127.0.0.2', port: 21022 },
      peers: [
        {
          address: '127.0.0.1',
          port: 21021,
          asn: 4200000001,
          holdTime: 9,
          gracefulRestart: false,
          families: ['ipv4'],
        },
      ],
    });
    await a.speaker.start();
    await b.speaker.start();
    const pa = a.speaker.peer('127.0.0.2')!;
    const pb = b.speaker.peer('127.0.0.1')!;
    await waitFor(() => pa.state === 'established' && pb.state === 'established', 'established');
    for (const p of [pa, pb]) {
      expect(p.negotiated!.holdTime).toBe(9);
      expect(p.negotiated!.keepalive).toBe(3);
      expect(p.negotiated!.gracefulRestart).toBeNull();
      expect(p.negotiated!.families).toEqual([{ afi: 1, safi: 1 }]);
    }
    expect(pb.negotiated!.peerAs).toBe(4200000001);
  });

  it('refuses a wrong peer AS with OPEN error (2,2)', async () => {
    const a = make({
      name: 'a',
      localAs: 65001,
      routerId: '10.0.0.1',
      listen: { address: '127.0.0.1', port: 21031 },
      peers: [{ address: '127.0.0.2', asn: 65099, passive: true }],
    });
    const b = make({
      name: 'b',
      localAs: 65002,
      routerId: '10.0.0.2',
      listen: { address: '127.0.0.2', port: 21032 },
      peers: [{ address: '127.0.0.1', port: 21031, asn: 65001, connectRetryTime: 60 }],
    });
    await a.speaker.start();
    await b.speaker.start();
    await waitFor(() => b.rec.states.some((s) => s.reason === 'notification-received'), 'notification');
    const pa = a.speaker.peer('127.0.0.2')!;
    expect(pa.counters.notificationsSent).toEqual({ '2/2': 1 });
    expect(pa.counters.errors['open-error']).toBe(1);
    expect(pa.counters.lastError).toMatch(/peer AS 65002.*expected 65099/);
    expect(a.rec.states.at(-1)).toMatchObject({
      to: 'idle',
      reason: 'open-error',
      notification: { code: 2, subcode: 2, direction: 'sent' },
    });
    expect(b.rec.states.find((s) => s.reason === 'notification-received')!.notification).toMatchObject({
      code: 2,
      subcode: 2,
    });
  });

  it('refuses an unconfigured address with Cease/5 and reports it', async () => {
    const a = make({
      name: 'a',
      localAs: 65001,
      routerId: '10.0.0.1',
      listen: { address: '127.0.0.1', port: 21041 },
      peers: [{ address: '127.0.0.2', asn: 65002, passive: true }],
    });
    await a.speaker.start();
    const received = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = net.connect({ host: '127.0.0.1', port: 21041, localAddress: '127.0.0.9' });
      s.on('data', (c) => chunks.push(c));
      s.on('error', reject);
      s.on('close', () => resolve(Buffer.concat(chunks)));
    });
    const msg = decodeMessage(received).value;
    expect(msg).toMatchObject({ type: 'notification', code: 6, subcode: 5 });
    expect(a.rec.refused).toEqual([
      { address: '127.0.0.9', port: expect.any(Number), reason: 'unknown-peer' },
    ]);
    expect(a.speaker.counters.refused['unknown-peer']).toBe(1);
    expect(a.speaker.peer('127.0.0.2')!.state).toBe('active');
  });

  it('resolves a connection collision to exactly one session', async () => {
    const a = make({
      name: 'a',
      localAs: 65001,
      routerId: '10.0.0.1',
      listen: { address: '127.0.0.1', port: 21051 },
      peers: [{ address: '127.0.0.2', port: 21052, asn: 65002 }],
    });
    const b = make({
      name: 'b',
      localAs: 65002,
      routerId: '10.0.0.2',
      listen: { address: '127.0.0.2', port: 21052 },
      peers: [{ address: '127.0.0.1', port: 21051, asn: 65001 }],
    });
    await Promise.all([a.speaker.start(), b.speaker.start()]);
    const pa = a.speaker.peer('127.0.0.2')!;
    const pb = b.speaker.peer('127.0.0.1')!;
    await waitFor(() => pa.state === 'established' && pb.state === 'established', 'established', 5000).catch(
      (e) => {
        console.log(
          JSON.stringify(a.rec.states),
          JSON.stringify(b.rec.states),
          a.speaker.counters,
          b.speaker.counters,
          pa.counters,
          pb.counters,
        );
        throw e;
      },
    );
    pb.sendUpdate(ipv4Update('192.0.2.0/24', '127.0.0.2', [65002]));
    await waitFor(() => a.rec.updates.length === 1, 'update across the surviving connection');
    expect(pa.state).toBe('established');
    expect(pb.state).toBe('established');
  });

  it('max-prefix shutdown sends Cease/1 with its data and restarts after the delay', async () => {
    const a = make({
      name: 'a',
      localAs: 65001,
      routerId: '10.0.0.1',
      listen: { address: '127.0.0.1', port: 21061 },
      peers: [{ address: '127.0.0.2', asn: 65002, passive: true }],
    });
    const b = make({
      name: 'b',
      localAs: 65002,
      routerId: '10.0.0.2',
      listen: { address: '127.0.0.2', port: 21062 },
      peers: [{ address: '127.0.0.1', port: 21061, asn: 65001, idleHoldTime: 0.05 }],
    });
    await a.speaker.start();
    await b.speaker.start();
    const pa = a.speaker.peer('127.0.0.2')!;
    const pb = b.speaker.peer('127.0.0.1')!;
    await waitFor(() => pa.state === 'established' && pb.state === 'established', 'established');
    const data = Uint8Array.of(0, 1, 1, 0, 0, 0, 100);
    pa.shutdown({ code: 6, subcode: 1, data }, { restartAfterMs: 200 });
    expect(pa.state).toBe('idle');
    expect(a.rec.states.at(-1)).toMatchObject({
      from: 'established',
      to: 'idle',
      reason: 'max-prefix-exceeded',
    });
    await waitFor(() => b.rec.states.some((s) => s.reason === 'notification-received'), 'notification at b');
    const n = b.rec.states.find((s) => s.reason === 'notification-received')!.notification!;
    expect({ code: n.code, subcode: n.subcode, data: [...n.data] }).toEqual({
      code: 6,
      subcode: 1,
      data: [...data],
    });
    await waitFor(() => pa.state === 'established' && pb.state === 'established', 're-established');
    expect(pa.counters.flaps).toBe(1);
    // While A held the peer down, B's attempts were refused with Cease/5.
    expect(a.speaker.counters.refused['peer-administratively-down']).toBeGreaterThan(0);
  });
});

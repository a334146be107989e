/**
 * A hand-driven TCP client opens a BGP session with one of our speakers and
 * then misbehaves. Each case asserts the exact NOTIFICATION bytes it gets
 * back, and that a second peer of the same speaker stays Established.
 * Ports 22000-22099 belong to this file.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../src/core/clock.js';
import { encodeMessage, type OpenMessage } from '../src/wire/bgp/index.js';
import type { BgpPeer, BgpSpeaker } from '../src/routing/session/index.js';
import { recordingSpeaker, waitFor, type Recorded } from '../src/routing/session/test-support.js';

const SPEAKER = { address: '127.0.0.1', port: 22001 };
const RAW_ADDRESS = '127.0.0.2';
const OTHER = { address: '127.0.0.3', port: 22003 };

const MARKER = 'ff'.repeat(16);
/** The NOTIFICATION a peer must receive, as hex. */
const notificationHex = (code: number, subcode: number, data = ''): string =>
  MARKER +
  (21 + data.length / 2).toString(16).padStart(4, '0') +
  '03' +
  code.toString(16).padStart(2, '0') +
  subcode.toString(16).padStart(2, '0') +
  data;

function header(length: number, type: number): Buffer {
  const b = Buffer.alloc(19, 0xff);
  b.writeUInt16BE(length, 16);
  b[18] = type;
  return b;
}

const KEEPALIVE = header(19, 4);

const goodOpen: OpenMessage = {
  type: 'open',
  version: 4,
  myAs: 65002,
  holdTime: 90,
  bgpId: '10.0.0.2',
  capabilities: [
    { type: 'multiprotocol', afi: 1, safi: 1 },
    { type: 'four-octet-as', asn: 65002 },
  ],
};

/** UPDATE with the given raw body after the header. */
const update = (body: Buffer): Buffer => Buffer.concat([header(19 + body.length, 2), body]);

/** A raw client: collects every byte the speaker sends. */
class RawPeer {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  closed = false;

  constructor() {
    this.socket = net.connect({ host: SPEAKER.address, port: SPEAKER.port, localAddress: RAW_ADDRESS });
    this.socket.on('data', (c: Buffer) => (this.received = Buffer.concat([this.received, c])));
    this.socket.on('error', () => {});
    this.socket.on('close', () => (this.closed = true));
  }

  /** Whole messages received so far, as hex. */
  messages(): string[] {
    const out: string[] = [];
    let o = 0;
    while (o + 19 <= this.received.length) {
      const len = this.received.readUInt16BE(o + 16);
      if (len < 19 || o + len > this.received.length) break;
      out.push(this.received.subarray(o, o + len).toString('hex'));
      o += len;
    }
    return out;
  }

  types(): number[] {
    return this.messages().map((m) => parseInt(m.slice(36, 38), 16));
  }

  send(b: Uint8Array): void {
    this.socket.write(b);
  }
}

describe('malformed input on a live session', () => {
  let speaker: BgpSpeaker;
  let rec: Recorded;
  let other: BgpSpeaker;
  let rawPeer: BgpPeer;
  let otherPeer: BgpPeer;

  beforeAll(async () => {
    ({ speaker, rec } = recordingSpeaker({
      name: 'vr1',
      localAs: 65001,
      routerId: '10.0.0.1',
      listen: SPEAKER,
      peers: [
        { address: RAW_ADDRESS, asn: 65002, passive: true, idleHoldTime: 0 },
        { address: OTHER.address, asn: 65003, passive: true },
      ],
    }));
    ({ speaker: other } = recordingSpeaker({
      name: 'other',
      localAs: 65003,
      routerId: '10.0.0.3',
      listen: OTHER,
      peers: [{ address: SPEAKER.address, port: SPEAKER.port, asn: 65001 }],
    }));
    await speaker.start();
    await other.start();
    rawPeer = speaker.peer(RAW_ADDRESS)!;
    otherPeer = speaker.peer(OTHER.address)!;
    await waitFor(() => otherPeer.state === 'established', 'second peer established');
  });

  afterAll(async () => {
    await Promise.all([speaker?.stop(), other?.stop()]);
  });

  /** The raw peer's last transition out of Established. */
  const lastDown = () => rec.states.filter((s) => s.peer === RAW_ADDRESS && s.from === 'established').at(-1);

  /** Open a session by hand: OPEN, then KEEPALIVE once the speaker's OPEN and KEEPALIVE arrived. */
  async function openSession(): Promise<RawPeer> {
    await waitFor(() => rawPeer.state === 'active', 'raw peer waiting for a connection');
    const raw = new RawPeer();
    raw.send(encodeMessage(goodOpen));
    await waitFor(() => raw.types().join() === '1,4', "speaker's OPEN and KEEPALIVE");
    raw.send(KEEPALIVE);
    await waitFor(() => rawPeer.state === 'established', 'raw session established');
    raw.received = Buffer.alloc(0);
    return raw;
  }

  /** Send `bytes` on an established session; return the NOTIFICATION (hex) the speaker answered with. */
  async function answerTo(bytes: Buffer): Promise<string> {
    const raw = await openSession();
    const flapsBefore = rawPeer.counters.flaps;
    raw.send(bytes);
    await waitFor(() => raw.closed, 'speaker closes the connection');
    expect(rawPeer.counters.flaps).toBe(flapsBefore + 1);
    expect(otherPeer.state).toBe('established');
    expect(otherPeer.counters.flaps).toBe(0);
    const msgs = raw.messages();
    expect(msgs).toHaveLength(1);
    return msgs[0];
  }

  /** Send an OPEN with `changes` instead of a good one; return what the speaker answered. */
  async function answerToOpen(changes: Partial<OpenMessage>): Promise<string[]> {
    await waitFor(() => rawPeer.state === 'active', 'raw peer waiting for a connection');
    const raw = new RawPeer();
    raw.send(encodeMessage({ ...goodOpen, ...changes }));
    await waitFor(() => raw.closed, 'speaker closes the connection');
    expect(otherPeer.state).toBe('established');
    return raw.messages();
  }

  it('OPEN with version 3: Unsupported Version (2,1) naming version 4', async () => {
    const msgs = await answerToOpen({ version: 3 });
    expect(msgs.at(-1)).toBe(notificationHex(2, 1, '0004'));
  });

  it('OPEN with hold time 2: Unacceptable Hold Time (2,6)', async () => {
    const msgs = await answerToOpen({ holdTime: 2 });
    expect(msgs.at(-1)).toBe(notificationHex(2, 6));
  });

  it('OPEN with BGP identifier 0.0.0.0: Bad BGP Identifier (2,3)', async () => {
    const msgs = await answerToOpen({ bgpId: '0.0.0.0' });
    expect(msgs.at(-1)).toBe(notificationHex(2, 3));
  });

  it('OPEN whose 4-octet AS capability names another AS: Bad Peer AS (2,2)', async () => {
    const msgs = await answerToOpen({
      myAs: 23456,
      capabilities: [{ type: 'four-octet-as', asn: 4200000002 }],
    });
    expect(msgs.at(-1)).toBe(notificationHex(2, 2));
    expect(rawPeer.counters.lastError).toMatch(/4200000002/);
  });

  it('random bytes after the handshake never crash the speaker or touch the other peer', async () => {
    // mulberry32: a small seeded generator, so a failure can be replayed.
    let seed = 0x5eed;
    const rand = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    for (let i = 0; i < 12; i++) {
      const raw = await openSession();
      const body = Buffer.from(
        Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)),
      );
      // Half the cases start with a valid marker so that length, type and body checks are reached.
      const bytes = i % 2 === 0 ? Buffer.concat([Buffer.alloc(16, 0xff), body]) : body;
      raw.send(bytes);
      raw.socket.end();
      await waitFor(() => rawPeer.state !== 'established', `session ${i} down`);
      expect(otherPeer.state).toBe('established');
      const msgs = raw.messages();
      // Whatever came back is at most one NOTIFICATION.
      expect(msgs.filter((m) => m.slice(36, 38) !== '04').every((m) => m.slice(36, 38) === '03')).toBe(true);
    }
    expect(otherPeer.counters.flaps).toBe(0);
  });

  it('garbage: Connection Not Synchronized (1,1)', async () => {
    const before = rawPeer.counters.errors['header-error'] ?? 0;
    expect(await answerTo(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe(notificationHex(1, 1));
    expect(rawPeer.counters.errors['header-error']).toBe(before + 1);
    expect(lastDown()).toMatchObject({
      to: 'idle',
      reason: 'header-error',
      notification: { code: 1, subcode: 1, direction: 'sent' },
    });
  });

  it('wrong marker: (1,1)', async () => {
    const b = header(19, 4);
    b[7] = 0xfe;
    expect(await answerTo(b)).toBe(notificationHex(1, 1));
  });

  it('length below 19: Bad Message Length (1,2) with the length as data', async () => {
    expect(await answerTo(header(18, 4))).toBe(notificationHex(1, 2, '0012'));
  });

  it('length above 4096: (1,2) with the length as data', async () => {
    expect(await answerTo(Buffer.concat([header(4097, 2), Buffer.alloc(100)]))).toBe(
      notificationHex(1, 2, '1001'),
    );
  });

  it('unknown message type: Bad Message Type (1,3) with the type as data', async () => {
    expect(await answerTo(header(19, 9))).toBe(notificationHex(1, 3, '09'));
  });

  it('UPDATE with a malformed withdrawn routes length: (3,1), session reset', async () => {
    // Withdrawn Routes Length 100 in a 4-byte body.
    const body = Buffer.from([0x00, 0x64, 0x00, 0x00]);
    const before = rawPeer.counters.errors['update-error'] ?? 0;
    expect(await answerTo(update(body))).toBe(notificationHex(3, 1));
    expect(rawPeer.counters.errors['update-error']).toBe(before + 1);
    expect(rawPeer.counters.notificationsSent['3/1']).toBeGreaterThanOrEqual(1);
    expect(lastDown()).toMatchObject({
      to: 'idle',
      reason: 'update-error',
      notification: { code: 3, subcode: 1 },
    });
  });

  it('truncated message then close: no NOTIFICATION possible, counted, session Idle', async () => {
    const raw = await openSession();
    const before = rawPeer.counters.errors['truncated-message'] ?? 0;
    raw.send(Buffer.concat([header(100, 2), Buffer.alloc(11)]));
    raw.socket.end();
    await waitFor(() => rawPeer.state !== 'established', 'session down');
    expect(lastDown()).toMatchObject({
      to: 'idle',
      reason: 'tcp-connection-failed',
    });
    expect(rawPeer.counters.errors['truncated-message']).toBe(before + 1);
    expect(otherPeer.state).toBe('established');
  });

  it('UPDATE with a bad ORIGIN flag: treat-as-withdraw (RFC 7606), session stays up', async () => {
    const raw = await openSession();
    const updatesBefore = rec.updates.length;
    const attrs = Buffer.from([
      // ORIGIN with the optional bit set: Attribute Flags Error → treat-as-withdraw.
      0xc0, 0x01, 0x01, 0x00,
      // AS_PATH: one AS_SEQUENCE of 65002 (4-octet ASNs negotiated).
      0x40, 0x02, 0x06, 0x02, 0x01, 0x00, 0x00, 0xfd, 0xea,
      // NEXT_HOP 127.0.0.2
      0x40, 0x03, 0x04, 127, 0, 0, 2,
    ]);
    const nlri = Buffer.from([24, 192, 0, 2]);
    const body = Buffer.concat([Buffer.from([0, 0]), Buffer.from([0, attrs.length]), attrs, nlri]);
    raw.send(update(body));
    raw.send(KEEPALIVE);
    await waitFor(() => rec.updates.length === updatesBefore + 1, 'update handed to the handler');
    const u = rec.updates.at(-1)!.update;
    expect(u.issues.map((i) => i.action)).toEqual(['treat-as-withdraw']);
    expect(u.nlri).toHaveLength(1);
    // Still established, and nothing was sent back except (possibly) keepalives.
    await new Promise((r) => setTimeout(r, 50));
    expect(rawPeer.state).toBe('established');
    expect(raw.closed).toBe(false);
    expect(raw.types().every((t) => t === 4)).toBe(true);
    expect(Object.values(rawPeer.counters.updateIssues).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    raw.socket.destroy();
    await waitFor(() => rawPeer.state !== 'established', 'raw session closed');
    expect(otherPeer.state).toBe('established');
  });
});

/** A raw "router" at 127.0.0.4: listens for the speaker's connection and can connect to it too. */
describe('connection collisions and restarts (RFC 4271 §6.8, RFC 4724 §4.2)', () => {
  const REMOTE = '127.0.0.4';
  const cleanup: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  const openFrom = (bgpId: string, gracefulRestart = false): OpenMessage => ({
    ...goodOpen,
    myAs: 65004,
    bgpId,
    capabilities: [
      { type: 'multiprotocol', afi: 1, safi: 1 },
      { type: 'four-octet-as', asn: 65004 },
      ...(gracefulRestart
        ? [
            {
              type: 'graceful-restart' as const,
              restarting: false,
              notification: false,
              restartTime: 60,
              families: [{ afi: 1, safi: 1, forwardingPreserved: false }],
            },
          ]
        : []),
    ],
  });

  /** Wrap an accepted socket like RawPeer does. */
  function collect(socket: net.Socket) {
    const c = { socket, received: Buffer.alloc(0), closed: false };
    socket.on('data', (d: Buffer) => (c.received = Buffer.concat([c.received, d])));
    socket.on('error', () => {});
    socket.on('close', () => (c.closed = true));
    return c;
  }
  const msgs = (b: Buffer): string[] => {
    const out: string[] = [];
    for (let o = 0; o + 19 <= b.length;) {
      const len = b.readUInt16BE(o + 16);
      if (len < 19 || o + len > b.length) break;
      out.push(b.subarray(o, o + len).toString('hex'));
      o += len;
    }
    return out;
  };
  const typeOf = (m: string) => parseInt(m.slice(36, 38), 16);

  /** Our speaker (router id 10.0.0.9) connecting out to the raw router, which is also listening. */
  async function collisionSetup(port: number) {
    const accepted: ReturnType<typeof collect>[] = [];
    const server = net.createServer((s) => accepted.push(collect(s)));
    await new Promise<void>((r) => server.listen({ host: REMOTE, port: port + 1 }, r));
    const { speaker, rec } = recordingSpeaker({
      name: 'vr9',
      localAs: 65001,
      routerId: '10.0.0.9',
      listen: { address: '127.0.0.1', port },
      peers: [{ address: REMOTE, port: port + 1, asn: 65004 }],
    });
    cleanup.push(
      () => speaker.stop(),
      () => new Promise<void>((r) => server.close(() => r())),
    );
    await speaker.start();
    const peer = speaker.peer(REMOTE)!;
    // The speaker's own connection: it has sent its OPEN and waits in OpenSent.
    await waitFor(
      () => accepted.length === 1 && msgs(accepted[0].received).length === 1,
      "speaker's OPEN on its own connection",
    );
    expect(peer.state).toBe('open-sent');
    const outgoing = accepted[0];
    const incoming = collect(net.connect({ host: '127.0.0.1', port, localAddress: REMOTE }));
    return { speaker, rec, peer, outgoing, incoming };
  }

  it('keeps our own connection when our identifier is higher, refusing the other with Cease/7', async () => {
    const { peer, outgoing, incoming } = await collisionSetup(22011);
    incoming.socket.write(encodeMessage(openFrom('10.0.0.4')));
    await waitFor(() => incoming.closed, 'second connection closed');
    expect(msgs(incoming.received)).toEqual([notificationHex(6, 7)]);
    expect(outgoing.closed).toBe(false);
    outgoing.socket.write(Buffer.concat([encodeMessage(openFrom('10.0.0.4')), KEEPALIVE]));
    await waitFor(() => peer.state === 'established', 'established on our connection');
    expect(peer.remoteBgpId).toBe('10.0.0.4');
  });

  it("yields to the peer's connection when its identifier is higher", async () => {
    const { rec, peer, outgoing, incoming } = await collisionSetup(22021);
    incoming.socket.write(encodeMessage(openFrom('10.0.0.99')));
    await waitFor(() => outgoing.closed, 'our connection dumped');
    expect(msgs(outgoing.received).map(typeOf)).toEqual([1, 3]);
    expect(msgs(outgoing.received)[1]).toBe(notificationHex(6, 7));
    await waitFor(
      () => msgs(incoming.received).map(typeOf).join() === '1,4',
      'OPEN and KEEPALIVE on the new connection',
    );
    incoming.socket.write(KEEPALIVE);
    await waitFor(() => peer.state === 'established', 'established on their connection');
    expect(rec.states.map((s) => `${s.from}>${s.to}:${s.reason}`)).toEqual([
      'idle>connect:manual-start',
      'connect>open-sent:tcp-connection-established',
      'open-sent>idle:connection-collision',
      'idle>active:automatic-start',
      'active>open-sent:tcp-connection-established',
      'open-sent>open-confirm:open-received',
      'open-confirm>established:keepalive-received',
    ]);
  });

  /** Establish a session by hand from the raw router to a passive peer of a fresh speaker. */
  async function establishedRaw(port: number, gracefulRestart: boolean) {
    const { speaker, rec } = recordingSpeaker({
      name: 'vr10',
      localAs: 65001,
      routerId: '10.0.0.10',
      listen: { address: '127.0.0.1', port },
      peers: [{ address: REMOTE, asn: 65004, passive: true }],
    });
    cleanup.push(() => speaker.stop());
    await speaker.start();
    const peer = speaker.peer(REMOTE)!;
    const first = collect(net.connect({ host: '127.0.0.1', port, localAddress: REMOTE }));
    first.socket.write(encodeMessage(openFrom('10.0.0.4', gracefulRestart)));
    await waitFor(() => msgs(first.received).length === 2, 'OPEN and KEEPALIVE');
    first.socket.write(KEEPALIVE);
    await waitFor(() => peer.state === 'established', 'established');
    return { rec, peer, first };
  }

  it('a graceful-restart peer that reconnects while Established replaces its old session', async () => {
    const { rec, peer, first } = await establishedRaw(22031, true);
    expect(peer.negotiated!.gracefulRestart).toMatchObject({ restartTime: 60 });
    const second = collect(net.connect({ host: '127.0.0.1', port: 22031, localAddress: REMOTE }));
    second.socket.write(encodeMessage(openFrom('10.0.0.4', true)));
    await waitFor(
      () => msgs(second.received).map(typeOf).join() === '1,4',
      'OPEN and KEEPALIVE on the new connection',
    );
    await waitFor(() => first.closed, 'old connection closed');
    // The old session ended without a NOTIFICATION, as a restart.
    expect(
      msgs(first.received)
        .map(typeOf)
        .filter((t) => t === 3),
    ).toEqual([]);
    const down = rec.states.find((s) => s.from === 'established')!;
    expect(down).toMatchObject({ to: 'idle', reason: 'peer-restarted' });
    second.socket.write(KEEPALIVE);
    await waitFor(() => peer.state === 'established', 're-established');
    second.socket.destroy();
  });

  it('without graceful restart, a second connection to an Established peer gets Cease/7', async () => {
    const { peer, first } = await establishedRaw(22041, false);
    const second = collect(net.connect({ host: '127.0.0.1', port: 22041, localAddress: REMOTE }));
    second.socket.write(encodeMessage(openFrom('10.0.0.4')));
    await waitFor(() => second.closed, 'second connection refused');
    expect(msgs(second.received)).toEqual([notificationHex(6, 7)]);
    expect(peer.state).toBe('established');
    expect(first.closed).toBe(false);
    first.socket.destroy();
  });
});

describe('timers on a live session, driven by a simulated clock', () => {
  it('sends KEEPALIVE every hold/3 and NOTIFICATION (4,0) when the peer falls silent', async () => {
    const clock = new SimulatedClock();
    const { speaker, rec } = recordingSpeaker({
      name: 'vr11',
      localAs: 65001,
      routerId: '10.0.0.11',
      listen: { address: '127.0.0.1', port: 22051 },
      peers: [{ address: '127.0.0.6', asn: 65002, passive: true, holdTime: 30 }],
      clock,
    });
    await speaker.start();
    try {
      const peer = speaker.peer('127.0.0.6')!;
      const raw = { received: Buffer.alloc(0), closed: false };
      const socket = net.connect({ host: '127.0.0.1', port: 22051, localAddress: '127.0.0.6' });
      socket.on('data', (d: Buffer) => (raw.received = Buffer.concat([raw.received, d])));
      socket.on('error', () => {});
      socket.on('close', () => (raw.closed = true));
      const count = () => {
        const types: number[] = [];
        for (let o = 0; o + 19 <= raw.received.length; o += raw.received.readUInt16BE(o + 16))
          types.push(raw.received[o + 18]);
        return types;
      };
      socket.write(encodeMessage({ ...goodOpen, holdTime: 9 }));
      await waitFor(() => count().join() === '1,4', 'OPEN and KEEPALIVE');
      socket.write(KEEPALIVE);
      await waitFor(() => peer.state === 'established', 'established');
      expect(peer.negotiated).toMatchObject({ holdTime: 9, keepalive: 3 });
      clock.advance(3_000);
      await waitFor(() => count().length === 3, 'first keepalive');
      clock.advance(3_000);
      await waitFor(() => count().length === 4, 'second keepalive');
      expect(count()).toEqual([1, 4, 4, 4]);
      clock.advance(3_000);
      await waitFor(() => raw.closed, 'speaker closes after the hold time');
      const bytes = raw.received.toString('hex');
      expect(bytes.endsWith(notificationHex(4, 0))).toBe(true);
      expect(rec.states.at(-1)).toMatchObject({
        from: 'established',
        to: 'idle',
        reason: 'hold-timer-expired',
      });
    } finally {
      await speaker.stop();
    }
  });
});

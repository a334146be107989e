/**
 * The VXLAN target's UDP GSO path (native sender): runs of equal-length
 * copies leave as one GSO message and arrive at a plain UDP receiver as the
 * same separate datagrams, in order, decoded by tshark; a kernel that refuses
 * GSO (a network namespace whose loopback MTU is smaller than the copies)
 * gets every copy one by one instead, and the target stops asking.
 */
import { spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CopyRecord } from '../src/shadow/types.js';
import { udpBatch } from '../src/shadow/targets/udp-batch.js';
import { VxlanTarget } from '../src/shadow/targets/vxlan.js';
import { encodePcap } from '../src/wire/pcap.js';
import { frame } from './helpers/packets.js';
import { requireTshark, tsharkFields } from './helpers/tshark.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(join(tmpdir(), 'shadownet-vxlan-gso-'));
const native = udpBatch() !== null;
if (!native)
  console.warn(
    'skipped: the native sender is not built (npm run build:native); the UDP GSO tests did not run',
  );

/** One copy to send: an Ethernet/IPv4/TCP frame (source port `sport`), cut to `length` bytes. */
interface Copy {
  vni: number;
  sport: number;
  /** Bytes of the inner frame that are copied (the datagram is 8 bytes more). */
  length: number;
}

/** The full inner frame of a copy: 1400 bytes, so any `length` up to that is a truncation of it. */
function innerFrame(c: Copy): Uint8Array {
  const f = frame({ src: '10.1.0.5', dst: '10.2.0.9', srcPort: c.sport, dstPort: 443, payload: 1400 - 54 });
  for (let i = 54; i < f.length; i++) f[i] = (c.sport + i) & 0xff;
  return f;
}

function record(c: Copy): CopyRecord {
  const data = innerFrame(c);
  return {
    session: `s${c.vni}`,
    vni: c.vni,
    data,
    offset: 0,
    length: c.length,
    wireLength: data.length,
    tsSec: 1_700_000_000,
    tsNsec: 0,
    linkType: 1,
  };
}

/** The datagram a copy must arrive as: the VXLAN header (I flag, VNI) and the cut frame. */
function expectedDatagram(c: Copy): Buffer {
  const d = Buffer.alloc(8 + c.length);
  d[0] = 0x08;
  d.writeUIntBE(c.vni, 4, 3);
  d.set(innerFrame(c).subarray(0, c.length), 8);
  return d;
}

/** Copies numbered from `first`: `n` of inner length `length`, VNIs alternating. */
function run(first: number, n: number, length: number): Copy[] {
  return Array.from({ length: n }, (_, i) => ({
    vni: 5000 + ((first + i) % 3),
    sport: 20000 + first + i,
    length,
  }));
}

/** A plain UDP receiver on loopback; `recvBufferSize` for sends larger than the default socket buffer holds. */
async function receiver(recvBufferSize?: number): Promise<{ rx: Socket; port: number; got: Buffer[] }> {
  const rx = createSocket({ type: 'udp4', recvBufferSize });
  const got: Buffer[] = [];
  rx.on('message', (m) => got.push(m));
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
  return { rx, port: rx.address().port, got };
}

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
}

/** Send each batch (one endBatch each) and wait until it has arrived, so the receiver's buffer never overflows. */
async function sendBatches(t: VxlanTarget, got: Buffer[], batches: Copy[][]): Promise<void> {
  let want = 0;
  for (const b of batches) {
    for (const c of b) t.write(record(c));
    t.endBatch();
    want += b.length;
    await until(() => got.length >= want);
  }
}

/** tshark's view of received datagrams, each put back in an outer Ethernet/IPv4/UDP frame to port 4789. */
function tsharkView(name: string, got: Buffer[]): string[][] {
  const frames = got.map((d) => {
    const f = frame({
      src: '127.0.0.1',
      dst: '127.0.0.1',
      protocol: 'udp',
      srcPort: 40000,
      dstPort: 4789,
      payload: d.length,
    });
    f.set(d, 14 + 20 + 8);
    return { seconds: 1_700_000_000, nanoseconds: 0, data: f };
  });
  const file = join(tmp, `${name}.pcap`);
  writeFileSync(file, encodePcap(frames));
  return tsharkFields(file, ['vxlan.vni', 'ip.src', 'ip.dst', 'tcp.srcport', 'tcp.dstport', 'frame.len'], {
    occurrence: 'l',
  });
}

function expectArrived(got: Buffer[], sent: Copy[], name: string): void {
  expect(got.map((d) => d.length)).toEqual(sent.map((c) => 8 + c.length));
  got.forEach((d, i) => expect(d.equals(expectedDatagram(sent[i])), `datagram ${i}`).toBe(true));
  if (!requireTshark()) return;
  const rows = tsharkView(name, got);
  expect(rows).toEqual(
    sent.map((c) => [
      String(c.vni),
      '10.1.0.5',
      '10.2.0.9',
      String(c.sport),
      '443',
      String(14 + 20 + 8 + 8 + c.length),
    ]),
  );
}

describe.skipIf(!native)('VxlanTarget with UDP GSO', () => {
  it('sends copies truncated to one length as GSO messages; they arrive as separate datagrams, in order', async () => {
    const { rx, port, got } = await receiver();
    const t = new VxlanTarget({ name: 'v', address: '127.0.0.1', port, sender: 'batch' });
    expect(t.gso).toBe(true);
    // 200 copies of a session truncating to 128 bytes: 64 + 64 + 64 + 8 per message.
    const sent = run(0, 200, 128);
    await sendBatches(t, got, [sent]);
    expectArrived(got, sent, 'trunc');
    expect(t.stats).toMatchObject({ packets: 200, gsoDatagrams: 200, shed: {}, errors: {} });
    await t.close();
    rx.close();
  });

  it('sends a mix of lengths complete and in order, counting what left in GSO messages', async () => {
    const { rx, port, got } = await receiver();
    const t = new VxlanTarget({ name: 'v', address: '127.0.0.1', port, sender: 'batch' });
    const a = [...run(0, 10, 300), ...run(10, 1, 120)]; // a run with a shorter tail: one message of 11
    const b = [
      ...run(11, 1, 500), // alone: a longer length follows
      ...run(12, 70, 600), // 64 segments at most: 64 + 6
      ...run(82, 1, 700), // a longer one breaks the run, and is alone
      ...run(83, 3, 800), // 3
    ];
    const c = run(86, 50, 1400); // 65,000 bytes at most a message: 1408-byte datagrams go 46 + 4
    await sendBatches(t, got, [a, b, c]);
    expectArrived(got, [...a, ...b, ...c], 'mix');
    expect(t.stats.packets).toBe(136);
    expect(t.stats.gsoDatagrams).toBe(11 + 64 + 6 + 3 + 46 + 4);
    expect(t.stats.errors).toEqual({});
    await t.close();
    rx.close();
  });

  it('groups equal lengths across conversations, and keeps each conversation in the order its copies were made', async () => {
    // 240 copies of 12 conversations, four lengths drawn in turn: in the order made, neighbours rarely share a length.
    const lengths = [64, 1400, 128, 600];
    const sent = Array.from({ length: 240 }, (_, i) => ({
      vni: 6000 + (i % 3),
      sport: 30000 + i,
      length: lengths[(i * 7 + Math.floor(i / 5)) % 4],
      conversation: (i % 12) + 1,
    }));
    const send = async (order: 'conversation' | 'arrival') => {
      // All 240 arrive while the test's event loop is busy sending: a socket buffer of 4 MiB holds them.
      const { rx, port, got } = await receiver(4 << 20);
      const t = new VxlanTarget({ name: 'v', address: '127.0.0.1', port, sender: 'batch', order });
      for (const c of sent) t.write({ ...record(c), conversation: c.conversation });
      t.endBatch();
      await until(() => got.length >= sent.length);
      const stats = { ...t.stats };
      await t.close();
      rx.close();
      return { got, stats };
    };
    const grouped = await send('conversation');
    // Every copy arrived once, unchanged; the source port names it.
    const bySport = new Map(sent.map((c) => [c.sport, c]));
    const arrived = grouped.got.map((d) => {
      const c = bySport.get(d.readUInt16BE(8 + 34));
      expect(c, 'a copy that was sent').toBeDefined();
      expect(d.equals(expectedDatagram(c!))).toBe(true);
      return c!;
    });
    expect(new Set(arrived.map((c) => c.sport)).size).toBe(sent.length);
    // Each conversation's copies arrived in the order they were made.
    for (let conv = 1; conv <= 12; conv++) {
      const made = sent.filter((c) => c.conversation === conv).map((c) => c.sport);
      expect(arrived.filter((c) => c.conversation === conv).map((c) => c.sport), `conversation ${conv}`).toEqual(made);
    }
    // And copies did change places across conversations, into runs of one length that left as GSO messages.
    const runs = (xs: { length: number }[]) => xs.filter((c, i) => i === 0 || c.length !== xs[i - 1].length).length;
    expect(runs(arrived)).toBeLessThan(runs(sent) / 3);
    expect(grouped.stats.gsoDatagrams).toBeGreaterThan(200);
    expect(grouped.stats).toMatchObject({ packets: 240, shed: {}, errors: {} });
    // In the order made (`arrival`), the same copies leave as they came.
    const strict = await send('arrival');
    expect(strict.got.map((d) => d.readUInt16BE(8 + 34))).toEqual(sent.map((c) => c.sport));
    expect(strict.stats).toMatchObject({ packets: 240, shed: {}, errors: {} });
  });

  it('copies the bytes out of a batch buffer before the batch ends, so the buffer can be reused at once', async () => {
    const { rx, port, got } = await receiver();
    const t = new VxlanTarget({ name: 'v', address: '127.0.0.1', port, sender: 'batch' });
    // Two engine-like batches in one reused buffer: three frames side by side, then three others over them.
    const buffer = new Uint8Array(3 * 1400);
    const batches = [run(0, 3, 300), run(3, 3, 700)];
    const sent: Copy[] = [];
    for (const b of batches) {
      b.forEach((c, i) => buffer.set(innerFrame(c), i * 1400));
      b.forEach((c, i) => t.write({ ...record(c), data: buffer, offset: i * 1400 }));
      t.endBatch();
      sent.push(...b);
      // The bytes the copies were made from are gone at once; the copies leave later (fewer than half a send wait).
      buffer.fill(0xee);
    }
    await until(() => got.length >= sent.length);
    expectArrived(got, sent, 'reused');
    await t.close();
    rx.close();
  });

  it('sends one datagram per message with gso: false', async () => {
    const { rx, port, got } = await receiver();
    const t = new VxlanTarget({ name: 'v', address: '127.0.0.1', port, sender: 'batch', gso: false });
    expect(t.gso).toBe(false);
    const sent = run(0, 100, 128);
    await sendBatches(t, got, [sent]);
    expectArrived(got, sent, 'nogso');
    expect(t.stats).toMatchObject({ packets: 100, gsoDatagrams: 0 });
    await t.close();
    rx.close();
  });

  it('counts every copy of a refused GSO message by errno', async () => {
    // The loopback broadcast address: without SO_BROADCAST the kernel refuses with EACCES.
    const t = new VxlanTarget({ name: 'v', address: '127.255.255.255', port: 24251, sender: 'batch' });
    for (const c of run(0, 150, 128)) t.write(record(c));
    t.endBatch();
    expect(t.stats.errors).toEqual({ 'send-eacces': 150 });
    expect(t.stats.gsoDatagrams).toBe(0);
    expect(t.gso).toBe(true);
    await t.close();
  });
});

/**
 * Runs in the namespace (a child process: a namespace is a process's): a
 * receiver and a VxlanTarget (loaded from source through Vite, as the tests
 * are), the batches from stdin, one endBatch each; prints what arrived, the
 * counters and the log lines.
 */
const CHILD = `
import { readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'vite';
import { pino } from 'pino';
const batches = JSON.parse(readFileSync(0, 'utf8'));
const server = await createServer({ configFile: false, root: process.cwd(), logLevel: 'silent', appType: 'custom',
  server: { middlewareMode: true, hmr: false, ws: false }, optimizeDeps: { noDiscovery: true, include: [] } });
const { VxlanTarget } = await server.ssrLoadModule('/src/shadow/targets/vxlan.ts');
const logs = [];
const logger = pino({ level: 'info', base: undefined }, { write: (s) => logs.push(JSON.parse(s)) });
const rx = createSocket('udp4');
const got = [];
rx.on('message', (m) => got.push(m.toString('base64')));
await new Promise((r) => rx.bind(0, '127.0.0.1', r));
const t = new VxlanTarget({ name: 'v', address: '127.0.0.1', port: rx.address().port, sender: 'batch', logger });
const gsoAfter = [];
let want = 0;
for (const b of batches) {
  for (const c of b) t.write({ ...c, data: Buffer.from(c.data, 'base64'), offset: 0 });
  t.endBatch();
  want += b.length;
  // Fewer than half a send wait for more (about a millisecond) before they leave.
  for (let i = 0; i < 400 && got.length < want; i++) await new Promise((r) => setTimeout(r, 5));
  gsoAfter.push(t.stats.gsoDatagrams);
}
await t.close();
rx.close();
await server.close();
process.stdout.write(JSON.stringify({ got, stats: t.stats, gso: t.gso, gsoMax: t.gsoMaxDatagram, gsoAfter, logs }));
`;

describe.skipIf(!native)('VxlanTarget when the kernel refuses UDP GSO', () => {
  it('sends the copies it refused one by one, groups only smaller ones from then on, and says why once', (ctx) => {
    const ns = `shadownet-gso-${process.pid}`;
    const made = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
    if (made.status !== 0) {
      const why = made.error?.message ?? made.stderr.trim();
      console.warn(`skipped: cannot create a network namespace (${why}); the GSO fallback test did not run`);
      return ctx.skip();
    }
    try {
      // Copies of 1,200 bytes are more than the route's MTU allows one GSO segment to be; alone, IP fragments them.
      const lo = spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up', 'mtu', '1000'], { encoding: 'utf8' });
      expect(lo.stderr).toBe('');
      const first = [...run(0, 5, 200), ...run(5, 1, 250), ...run(6, 10, 1200), ...run(16, 5, 300)];
      const second = run(21, 30, 128);
      const wire = (b: Copy[]) =>
        b.map((c) => {
          const r = record(c);
          return { ...r, data: Buffer.from(r.data).toString('base64') };
        });
      const child = spawnSync(
        'ip',
        ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', CHILD],
        {
          cwd: root,
          input: JSON.stringify([wire(first), wire(second)]),
          encoding: 'utf8',
          timeout: 60_000,
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      expect(child.stderr).toBe('');
      expect(child.status).toBe(0);
      const out = JSON.parse(child.stdout) as {
        got: string[];
        stats: {
          packets: number;
          gsoDatagrams: number;
          errors: Record<string, number>;
          shed: Record<string, number>;
        };
        gso: boolean;
        gsoMax: number;
        gsoAfter: number[];
        logs: { level: number; msg: string; reason: string }[];
      };
      const sent = [...first, ...second];
      expectArrived(
        out.got.map((s) => Buffer.from(s, 'base64')),
        sent,
        'fallback',
      );
      // The first five left as one GSO message, the 1,200-byte run (1,208-byte datagrams) was refused and left one by
      // one, and the smaller runs after it (300 bytes; the 30 copies of 128 in the next batch) still left grouped.
      expect(out.gsoAfter).toEqual([10, 40]);
      expect(out.stats).toMatchObject({ packets: 51, gsoDatagrams: 40, errors: {}, shed: {} });
      expect(out.gso).toBe(true);
      expect(out.gsoMax).toBe(1207);
      const said = out.logs.filter((l) => /refused a UDP GSO segment/.test(l.msg));
      expect(said).toHaveLength(1);
      expect(said[0].reason).toMatch(/^gso-e(msgsize|inval)$/);
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
    }
  });
});

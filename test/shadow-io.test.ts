/**
 * Packet sources and copy targets against real tools: tshark decodes what
 * the VXLAN target sends (captured by `shadownet mirror-target` and, apart,
 * by tcpdump) and the capture files the pcap target writes; the capture-file
 * source reads the real traces as tshark counts them; the VXLAN receiver
 * decapsulates a real VXLAN trace replayed over UDP; the tcpdump source
 * captures traffic on the loopback interface.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerMirrorTargetCommand } from '../src/cli/commands/mirror-target.js';
import type { PacketBatch } from '../src/core/packet.js';
import { PcapFileSource } from '../src/shadow/sources/pcap-file.js';
import { TcpdumpSource } from '../src/shadow/sources/tcpdump.js';
import { VxlanReceiver } from '../src/shadow/sources/vxlan-receiver.js';
import { SYNTHETIC_SOURCE_MAC } from '../src/shadow/targets/ethernet-framing.js';
import { PcapTarget } from '../src/shadow/targets/pcap.js';
import { VxlanTarget } from '../src/shadow/targets/vxlan.js';
import type { CopyRecord } from '../src/shadow/types.js';
import { missingDataMessage, sharedDataDir } from './helpers/shared-data.js';

const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const haveTshark = has('tshark');
const haveTcpdump = has('tcpdump');
const pcapDir = sharedDataDir('pcap');
const tmp = mkdtempSync(join(tmpdir(), 'shadownet-shadow-io-'));
if (!haveTshark) console.warn('skipped: tshark is not installed (apt-get install tshark)');
if (!haveTcpdump) console.warn('skipped: tcpdump is not installed (apt-get install tcpdump)');
if (!pcapDir) console.warn(missingDataMessage('pcap'));

/** tshark's fields, one array per packet. */
function tshark(file: string, fields: string[], extra: string[] = []): string[][] {
  const out = execFileSync(
    'tshark',
    ['-r', file, ...extra, '-T', 'fields', '-E', 'separator=/t', ...fields.flatMap((f) => ['-e', f])],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'));
}

/** Every packet of a capture file, copied out of the batches. */
async function packetsOf(
  file: string,
): Promise<{ bytes: Uint8Array; wire: number; linkType: number; sec: number; nsec: number }[]> {
  const out: { bytes: Uint8Array; wire: number; linkType: number; sec: number; nsec: number }[] = [];
  await new PcapFileSource(file).run((b: PacketBatch) => {
    for (let i = 0; i < b.count; i++)
      out.push({
        bytes: b.data.slice(b.offsets[i], b.offsets[i] + b.lengths[i]),
        wire: b.wireLengths[i],
        linkType: b.linkType,
        sec: b.tsSec[i],
        nsec: b.tsNsec[i],
      });
  });
  return out;
}

function record(
  p: { bytes: Uint8Array; wire: number; sec: number; nsec: number },
  over: Partial<CopyRecord> = {},
): CopyRecord {
  return {
    session: 'web',
    vni: 4242,
    data: p.bytes,
    offset: 0,
    length: p.bytes.length,
    wireLength: p.wire,
    tsSec: p.sec,
    tsNsec: p.nsec,
    linkType: 1,
    ...over,
  };
}

/** Start tcpdump writing a file; resolves once it listens. */
async function tcpdumpToFile(file: string, filter: string): Promise<{ stop: () => Promise<void> }> {
  const child = spawn('tcpdump', ['-i', 'lo', '-U', '--immediate-mode', '-w', file, filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) resolve();
    });
    child.once('exit', () => reject(new Error(`tcpdump exited: ${err}`)));
  });
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  return {
    stop: async () => {
      child.kill('SIGINT');
      await closed;
    },
  };
}

const until = async (cond: () => boolean, tries = 400): Promise<void> => {
  for (let i = 0; i < tries && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe.skipIf(!haveTshark || !pcapDir)('capture files and tshark', () => {
  it('PcapFileSource reads every real trace, pcap and pcapng, as tshark does', async () => {
    const files = readdirSync(pcapDir!, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.pcap'),
    );
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const path = join(pcapDir!, f);
      const want = tshark(path, ['frame.len', 'frame.cap_len', 'frame.time_epoch']);
      const ng = join(tmp, f.replace(/\//g, '_') + 'ng');
      execFileSync('editcap', ['-F', 'pcapng', path, ng]);
      for (const file of [path, ng]) {
        const got = await packetsOf(file);
        expect(got.length, file).toBe(want.length);
        expect(
          got.map((p) => [
            String(p.wire),
            String(p.bytes.length),
            `${p.sec}.${String(p.nsec).padStart(9, '0')}`,
          ]),
          file,
        ).toEqual(
          want.map(([len, cap, t]) => [
            len,
            cap,
            t.includes('.') ? t.padEnd(t.indexOf('.') + 10, '0') : `${t}.000000000`,
          ]),
        );
      }
    }
  });

  for (const format of ['pcap', 'pcapng'] as const) {
    it(`PcapTarget ${format} files read by tshark show original and captured lengths`, async () => {
      const src = await packetsOf(join(pcapDir!, 'http_get.pcap'));
      const path = join(tmp, `copies.${format}`);
      const t = new PcapTarget({ name: 'files', path, format });
      src.forEach((p, i) =>
        t.write(record(p, { length: i % 2 ? Math.min(64, p.bytes.length) : p.bytes.length })),
      );
      await t.close();
      const got = tshark(path, ['frame.len', 'frame.cap_len', 'ip.src', 'tcp.srcport']);
      const want = tshark(join(pcapDir!, 'http_get.pcap'), [
        'frame.len',
        'frame.cap_len',
        'ip.src',
        'tcp.srcport',
      ]);
      expect(got).toEqual(
        want.map(([len, cap, ip, port], i) => [
          len,
          i % 2 ? String(Math.min(64, Number(cap))) : cap,
          ip,
          port,
        ]),
      );
      expect(got.some(([len, cap]) => Number(len) > Number(cap))).toBe(true);
    });
  }

  it('PcapTarget rotation produces the numbered files tshark reads whole', async () => {
    const src = await packetsOf(join(pcapDir!, 'nmap-vsn.pcap'));
    const path = join(tmp, 'rotated', 'nmap.pcapng');
    (await import('node:fs')).mkdirSync(join(tmp, 'rotated'));
    const t = new PcapTarget({ name: 'rot', path, format: 'pcapng', rotate: { maxBytes: 16384 } });
    for (const p of src) t.write(record(p));
    await t.close();
    const names = readdirSync(join(tmp, 'rotated')).sort();
    expect(names.length).toBeGreaterThan(1);
    expect(names).toEqual(names.map((_, i) => `nmap-${String(i + 1).padStart(6, '0')}.pcapng`));
    const counts = names.map((n) => tshark(join(tmp, 'rotated', n), ['frame.number']).length);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(src.length);
    for (const n of names)
      expect((await import('node:fs')).statSync(join(tmp, 'rotated', n)).size).toBeLessThanOrEqual(16384);
  });
});

describe.skipIf(!haveTshark || !haveTcpdump || !pcapDir)('VXLAN copies on the wire', () => {
  for (const [sender, port] of [['batch', 24230], ['dgram', 24231]] as const)
  it(`tshark decodes what VxlanTarget sends (${sender} sender), from the mirror-target file and from tcpdump`, async () => {
    const src = (await packetsOf(join(pcapDir!, 'http_get.pcap'))).slice(0, 10);
    const dump = join(tmp, `vxlan-wire-${sender}.pcap`);
    const out = join(tmp, `mirror-target-${sender}.pcap`);
    const capture = await tcpdumpToFile(dump, `udp port ${port}`);
    const stderr: string[] = [];
    const stdout: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation(
      (s: string | Uint8Array) => (stderr.push(String(s)), true),
    );
    vi.spyOn(process.stdout, 'write').mockImplementation(
      (s: string | Uint8Array) => (stdout.push(String(s)), true),
    );
    const program = new Command().exitOverride();
    registerMirrorTargetCommand(program);
    const cli = program.parseAsync([
      'node',
      'shadownet',
      'mirror-target',
      '--listen',
      `127.0.0.1:${port}`,
      '--out',
      out,
      '--count',
      '11',
      '--duration',
      '20',
    ]);
    await until(() => stderr.join('').includes('receiving VXLAN'));

    // Without GSO: tcpdump on lo sees a GSO message before the kernel cuts it into datagrams.
    const target = new VxlanTarget({ name: 'aws-like', address: '127.0.0.1', port, sender, gso: false });
    const truncate = (i: number): number => (i % 3 === 0 ? 54 : Infinity);
    src.forEach((p, i) =>
      target.write(record(p, { vni: 4242, length: Math.min(p.bytes.length, truncate(i)) })),
    );
    // One raw IP copy (no link-layer header): it leaves with the synthetic Ethernet header.
    const ip = src[5].bytes.subarray(14);
    target.write(record({ ...src[5], bytes: ip }, { vni: 77, linkType: 101, length: ip.length }));
    await target.close();
    await cli;
    await capture.stop();
    expect(stdout.join('')).toMatch(/received 11 datagrams, wrote 11 packets/);

    const inner = tshark(
      join(pcapDir!, 'http_get.pcap'),
      ['ip.src', 'ip.dst', 'tcp.srcport', 'tcp.dstport', 'frame.len'],
      ['-c', '10'],
    );
    const expectedLen = (i: number): number =>
      i === 10 ? Number(inner[5][4]) : Math.min(Number(inner[i][4]), truncate(i));
    // As tcpdump saw them: outer UDP to the port, VXLAN with the VNI, the inner five-tuple (last occurrence).
    const wire = tshark(
      dump,
      ['vxlan.vni', 'ip.src', 'ip.dst', 'tcp.srcport', 'tcp.dstport', 'udp.length', 'eth.src'],
      ['-d', `udp.port==${port},vxlan`, '-E', 'occurrence=l'],
    );
    expect(wire).toHaveLength(11);
    wire.forEach((w, i) => {
      const [s, d, sp, dp] = inner[i === 10 ? 5 : i];
      expect(w.slice(0, 5)).toEqual([i === 10 ? '77' : '4242', s, d, sp, dp]);
      expect(Number(w[5])).toBe(8 + 8 + expectedLen(i));
    });
    expect(wire[10][6]).toBe(SYNTHETIC_SOURCE_MAC);
    // As mirror-target wrote them: the inner frames, truncated where the copy was.
    const file = tshark(out, [
      'frame.len',
      'frame.cap_len',
      'ip.src',
      'ip.dst',
      'tcp.srcport',
      'tcp.dstport',
      'ip.len',
    ]);
    expect(file).toHaveLength(11);
    file.forEach((f, i) => {
      const [s, d, sp, dp] = inner[i === 10 ? 5 : i];
      expect(f.slice(1, 6)).toEqual([String(expectedLen(i)), s, d, sp, dp]);
      // The IP header still tells the original length: truncation is visible.
      if (truncate(i) === 54) expect(Number(f[6]) + 14).toBe(Number(inner[i][4]));
    });
  });

  it('mirror-target refuses a bad --listen with a usage error', async () => {
    const program = new Command().exitOverride();
    registerMirrorTargetCommand(program);
    await expect(
      program.parseAsync([
        'node',
        'shadownet',
        'mirror-target',
        '--listen',
        'nowhere:x',
        '--out',
        join(tmp, 'x.pcap'),
      ]),
    ).rejects.toMatchObject({ exitCode: 2 });
  });
});

describe.skipIf(!haveTshark || !pcapDir)('VxlanReceiver and a real VXLAN trace', () => {
  it('decapsulates the trace replayed over UDP and counts unknown VNIs and bad flags', async () => {
    const trace = join(pcapDir!, 'tunnels_vxlan-encapsulated-http.pcap');
    const outer = await packetsOf(trace);
    // Ethernet / IPv4 / UDP to 4789: the UDP payload is what a mirror target receives.
    const payloads = outer
      .filter((p) => p.bytes[12] === 0x08 && p.bytes[13] === 0x00 && p.bytes[23] === 17)
      .map((p) => {
        const udp = 14 + (p.bytes[14] & 0x0f) * 4;
        expect((p.bytes[udp + 2] << 8) | p.bytes[udp + 3]).toBe(4789);
        return Buffer.from(p.bytes.subarray(udp + 8));
      });
    const want = tshark(trace, ['vxlan.vni', 'ip.src', 'ip.dst', 'udp.length'], ['-E', 'occurrence=l']);
    expect(payloads).toHaveLength(want.length);

    const rx = new VxlanReceiver({
      address: '127.0.0.1',
      port: 24240,
      vniToVnet: new Map([[Number(want[0][0]), 'mirror-vnet']]),
      receiveBufferSize: 1 << 20,
    });
    const got: { vnet?: string; bytes: Uint8Array }[] = [];
    const running = rx.run((b) => {
      for (let i = 0; i < b.count; i++)
        got.push({ vnet: b.vnet, bytes: b.data.slice(b.offsets[i], b.offsets[i] + b.lengths[i]) });
    });
    await rx.bound();
    const tx = createSocket('udp4');
    const send = (d: Buffer): Promise<void> =>
      new Promise((res, rej) => tx.send(d, 24240, '127.0.0.1', (e) => (e ? rej(e) : res())));
    for (const p of payloads) await send(p);
    const unknown = Buffer.from(payloads[0]);
    unknown[6] = 0x63; // VNI 99
    const badFlags = Buffer.from(payloads[0]);
    badFlags[0] = 0x00;
    await send(unknown);
    await send(badFlags);
    await until(() => rx.stats.datagrams === payloads.length + 2 && got.length === payloads.length);
    tx.close();
    await rx.stop();
    await running;

    expect(rx.stats.dropped).toEqual({ 'vxlan-unknown-vni': 1, 'vxlan-bad-flags': 1 });
    expect(got).toHaveLength(want.length);
    const ipText = (b: Uint8Array, o: number): string => [...b.subarray(o, o + 4)].join('.');
    got.forEach((g, i) => {
      expect(g.vnet).toBe('mirror-vnet');
      // Inner Ethernet + IPv4: addresses at 26 and 30; length = UDP length - UDP header - VXLAN header.
      expect([ipText(g.bytes, 26), ipText(g.bytes, 30), g.bytes.length]).toEqual([
        want[i][1],
        want[i][2],
        Number(want[i][3]) - 16,
      ]);
    });
  });
});

describe.skipIf(!haveTcpdump)('TcpdumpSource', () => {
  it('captures UDP sent to 127.0.0.1 on lo and stops tcpdump', async (ctx) => {
    const src = new TcpdumpSource({ interface: 'lo', filter: 'udp and dst port 24250' });
    const payloads: string[] = [];
    const running = src.run((b) => {
      for (let i = 0; i < b.count; i++) {
        const p = b.data.subarray(b.offsets[i], b.offsets[i] + b.lengths[i]);
        // Ethernet (lo) + IPv4 (20) + UDP (8).
        payloads.push(Buffer.from(p.subarray(42)).toString());
      }
    });
    running.catch(() => {});
    const started = await src.ready().then(
      () => undefined,
      (e: Error) => e,
    );
    if (started && /permission|not permitted/i.test(started.message)) {
      console.warn(`skipped: capture on lo is not permitted here (${started.message})`);
      ctx.skip();
    }
    expect(started).toBeUndefined();
    const tx = createSocket('udp4');
    for (let i = 0; i < 5; i++)
      await new Promise<void>((res) => tx.send(`shadownet-${i}`, 24250, '127.0.0.1', () => res()));
    tx.close();
    await until(() => payloads.length >= 5, 1000);
    await src.stop();
    await running;
    expect(payloads).toEqual([0, 1, 2, 3, 4].map((i) => `shadownet-${i}`));
    expect(src.stats).toMatchObject({ packets: 5, dropped: {} });
  });

  it('says clearly when tcpdump or the interface is missing', async () => {
    await expect(
      new TcpdumpSource({ interface: 'lo', tcpdumpPath: '/nonexistent/tcpdump' }).run(() => {}),
    ).rejects.toMatchObject({
      code: 'SHADOWNET_ERR_TCPDUMP_NOT_FOUND',
    });
    const err = (await new TcpdumpSource({ interface: 'nosuchif0' })
      .run(() => {})
      .then(
        () => undefined,
        (e: unknown) => e,
      )) as Error & { code: string };
    expect(err.code).toBe('SHADOWNET_ERR_TCPDUMP_FAILED');
    expect(err.message).toMatch(/nosuchif0/);
  });
});

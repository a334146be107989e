import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InProcessBus } from '../../core/bus.js';
import { CaptureStreamReader } from '../sources/capture-stream.js';
import type { CopyRecord } from '../types.js';
import { BusTarget, type CopyBatchMessage } from './bus.js';
import { PcapTarget, rotatedPath } from './pcap.js';
import { VxlanTarget } from './vxlan.js';

const dir = mkdtempSync(join(tmpdir(), 'shadownet-targets-'));

function copy(i: number, over: Partial<CopyRecord> = {}): CopyRecord {
  const buf = new Uint8Array(200).fill(0xee);
  const data = new Uint8Array(100).fill(i & 0xff);
  data[12] = 0x08;
  data[13] = 0x00;
  buf.set(data, 50);
  return {
    session: `s${i % 2}`,
    vni: 1000 + (i % 2),
    data: buf,
    offset: 50,
    length: 100,
    wireLength: 1500,
    tsSec: 1_700_000_000 + i,
    tsNsec: 123_456_789,
    linkType: 1,
    ...over,
  };
}

function readBack(path: string) {
  const r = new CaptureStreamReader((reason) => {
    throw new Error(`unexpected drop ${reason}`);
  });
  r.write(readFileSync(path));
  r.end();
  const out: { first: number; len: number; wire: number; sec: number; nsec: number; linkType: number }[] = [];
  while (r.next()) {
    const x = r.record;
    out.push({
      first: x.data[x.offset + 20],
      len: x.length,
      wire: x.wireLength,
      sec: x.tsSec,
      nsec: x.tsNsec,
      linkType: x.linkType,
    });
  }
  return { format: r.format, snap: r.snapLength, records: out };
}

describe('PcapTarget', () => {
  for (const format of ['pcap', 'pcapng'] as const) {
    it(`writes ${format} with original lengths, nanosecond times, and link types as seen`, async () => {
      const path = join(dir, `one.${format}`);
      const t = new PcapTarget({ name: 'p', path, format });
      t.write(copy(1));
      t.write(copy(2, { length: 64 }));
      const raw = new Uint8Array(40);
      raw[0] = 0x45;
      t.write(copy(3, { data: raw, offset: 0, length: 40, wireLength: 40, linkType: 101 }));
      await t.close();
      const back = readBack(path);
      expect(back.format).toBe(format);
      expect(back.records.map((r) => [r.len, r.wire, r.sec, r.nsec])).toEqual([
        [100, 1500, 1_700_000_001, 123_456_789],
        [64, 1500, 1_700_000_002, 123_456_789],
        // pcap: one link type per file, so raw IP gets the synthetic Ethernet header.
        format === 'pcap' ? [54, 54, 1_700_000_003, 123_456_789] : [40, 40, 1_700_000_003, 123_456_789],
      ]);
      expect(back.records.map((r) => r.linkType)).toEqual(format === 'pcap' ? [1, 1, 1] : [1, 1, 101]);
      if (format === 'pcap') expect(back.snap).toBe(100);
      expect(t.stats).toMatchObject({ packets: 3, shed: {}, errors: {} });
    });
  }

  it('rotates by size and by packet time into numbered files', async () => {
    const path = join(dir, 'rot', 'copies.pcap');
    await (await import('node:fs/promises')).mkdir(join(dir, 'rot'));
    const bySize = new PcapTarget({ name: 'r', path, rotate: { maxBytes: 1024 } });
    // 24-byte header + 116 bytes per record: 8 records per file.
    for (let i = 0; i < 20; i++) bySize.write(copy(i, { tsSec: 1_700_000_000 }));
    await bySize.close();
    expect(bySize.files).toEqual([1, 2, 3].map((n) => rotatedPath(path, n)));
    expect(readdirSync(join(dir, 'rot')).sort()).toEqual([
      'copies-000001.pcap',
      'copies-000002.pcap',
      'copies-000003.pcap',
    ]);
    expect(bySize.files.map((f) => readBack(f).records.length)).toEqual([8, 8, 4]);

    const timed = join(dir, 'rot', 'timed.pcapng');
    const byTime = new PcapTarget({ name: 't', path: timed, format: 'pcapng', rotate: { maxSeconds: 60 } });
    for (const s of [0, 30, 59, 60, 61, 200]) byTime.write(copy(0, { tsSec: 1_700_000_000 + s }));
    await byTime.close();
    expect(byTime.files.map((f) => readBack(f).records.map((r) => r.sec - 1_700_000_000))).toEqual([
      [0, 30, 59],
      [60, 61],
      [200],
    ]);
  });

  it('keeps copies gathered until a batch ends a second of packet time after the first, then writes them', async () => {
    const path = join(dir, 'live.pcap');
    const t = new PcapTarget({ name: 'l', path });
    const onDisk = async (): Promise<number> => {
      // Writes run in order on their own; give them a moment.
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
      return readFileSync(path).length;
    };
    t.write(copy(1, { tsSec: 1_700_000_000, tsNsec: 0 }));
    t.endBatch();
    expect(await onDisk()).toBe(0);
    t.write(copy(2, { tsSec: 1_700_000_000, tsNsec: 900_000_000 }));
    t.endBatch();
    expect(await onDisk()).toBe(0);
    t.write(copy(3, { tsSec: 1_700_000_001, tsNsec: 100_000_000 }));
    t.endBatch();
    expect(await onDisk()).toBe(24 + 3 * (16 + 100));
    await t.close();
    expect(readBack(path).records).toHaveLength(3);
  });

  it('counts a file it cannot open instead of throwing', async () => {
    const t = new PcapTarget({ name: 'x', path: join(dir, 'no', 'such', 'dir.pcap') });
    t.write(copy(1));
    await t.close();
    expect(t.stats.errors['open-failed']).toBe(1);
  });

  it('leaves an empty capture when nothing was written', async () => {
    const path = join(dir, 'empty.pcap');
    await new PcapTarget({ name: 'e', path }).close();
    expect(readBack(path)).toMatchObject({ format: 'pcap', records: [] });
  });
});

describe('BusTarget', () => {
  it('publishes one compact message per flush, owning copies of the bytes', async () => {
    const bus = new InProcessBus();
    const got: CopyBatchMessage[] = [];
    bus.subscribe<CopyBatchMessage>('shadow.copies', (m) => got.push(m));
    const t = new BusTarget({ name: 'b', bus, topic: 'shadow.copies' });
    const shared = copy(1);
    t.write(shared);
    (shared.data as Uint8Array).fill(0); // the source reuses its buffer
    t.write(copy(2, { length: 20 }));
    await t.flush();
    await t.flush();
    expect(got).toHaveLength(1);
    const m = got[0];
    expect(m.count).toBe(2);
    expect([...m.lengths]).toEqual([100, 20]);
    expect([...m.offsets]).toEqual([0, 100]);
    expect(m.data.length).toBe(120);
    expect(m.data[0]).toBe(1);
    expect(m.data[100]).toBe(2);
    expect(m.sessions).toEqual(['s1', 's0']);
    expect([...m.vnis]).toEqual([1001, 1000]);
    expect([...m.wireLengths]).toEqual([1500, 1500]);
    expect(m.linkType).toBe(1);
  });

  it('publishes early when the link type changes or the message is full', async () => {
    const bus = new InProcessBus();
    const counts: number[] = [];
    bus.subscribe<CopyBatchMessage>('c', (m) => counts.push(m.count));
    const t = new BusTarget({ name: 'b', bus, topic: 'c', maxCount: 3 });
    for (let i = 0; i < 5; i++) t.write(copy(i));
    t.write(copy(9, { linkType: 101 }));
    await t.close();
    expect(counts).toEqual([3, 2, 1]);
  });
});

describe('VxlanTarget', () => {
  it('sheds copies as socket-busy rather than queue without bound', async () => {
    const rx = createSocket('udp4');
    let received = 0;
    rx.on('message', () => received++);
    await new Promise<void>((r) => rx.bind(24220, '127.0.0.1', () => r()));
    const t = new VxlanTarget({ name: 'v', address: '127.0.0.1', port: 24220, maxQueuedBytes: 16 * 1024, sender: 'dgram' });
    for (let i = 0; i < 2000; i++) t.write(copy(i));
    await t.flush();
    expect(t.stats.shed['socket-busy']).toBeGreaterThan(0);
    expect(t.stats.packets + t.stats.shed['socket-busy']).toBe(2000);
    for (let i = 0; i < 100 && received < t.stats.packets; i++) await new Promise((r) => setTimeout(r, 5));
    expect(received).toBe(t.stats.packets);
    await t.close();
    rx.close();
  });

  for (const sender of ['batch', 'dgram'] as const)
    it(`counts refused sends by errno and goes on (${sender} sender)`, async () => {
      // 127.255.255.255 is the loopback broadcast address: without SO_BROADCAST the kernel refuses with EACCES.
      const t = new VxlanTarget({ name: 'v', address: '127.255.255.255', port: 24221, sender });
      for (let i = 0; i < 300; i++) t.write(copy(i));
      t.endBatch();
      await t.flush();
      expect(t.stats.errors['send-eacces']).toBe(300);
      await t.close();
    });

  it('sends a batch with the native sender at the end of a batch, in order', async () => {
    const rx = createSocket('udp4');
    const got: number[] = [];
    rx.on('message', (m) => got.push(m[14 + 8]));
    await new Promise<void>((r) => rx.bind(24222, '127.0.0.1', () => r()));
    const t = new VxlanTarget({ name: 'v', address: '127.0.0.1', port: 24222, sender: 'batch' });
    for (let i = 0; i < 40; i++) t.write(copy(i));
    expect(got).toHaveLength(0);
    t.endBatch();
    for (let i = 0; i < 100 && got.length < 40; i++) await new Promise((r) => setTimeout(r, 5));
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => i & 0xff));
    expect(t.stats.packets).toBe(40);
    await t.close();
    rx.close();
  });

  it('refuses the batch sender for a host name', () => {
    expect(() => new VxlanTarget({ name: 'v', address: 'localhost', port: 24223, sender: 'batch' })).toThrow(/address literal/);
  });
});

describe('PcapTarget direct I/O', () => {
  // Copies of varied lengths, so blocks end mid-record; times spread so endBatch hands off partial blocks.
  const varied = (i: number): CopyRecord => {
    const length = 60 + ((i * 997) % 1441);
    const data = new Uint8Array(length);
    for (let k = 0; k < length; k++) data[k] = (i * 31 + k) & 0xff;
    return { session: 's', vni: 1, data, offset: 0, length, wireLength: length + (i % 3), tsSec: 1_700_000_000 + Math.floor(i / 40), tsNsec: (i * 7919) % 1e9, linkType: 1 };
  };
  const write = async (path: string, directIo: boolean, opts: { format?: 'pcap' | 'pcapng'; bufferBytes?: number; rotate?: { maxBytes: number } } = {}) => {
    const t = new PcapTarget({ name: 'd', path, directIo, ...opts });
    const sizes: number[] = [];
    for (let i = 0; i < 3000; i++) {
      t.write(varied(i));
      if (i % 16 === 15) t.endBatch();
      if (i === 1500 && !opts.rotate) {
        // Mid-way, everything handed over so far is in the file, whole, while it stays open.
        await t.flush();
        sizes.push(readFileSync(path).length);
      }
    }
    await t.close();
    return { t, sizes };
  };

  for (const format of ['pcap', 'pcapng'] as const)
    it(`writes the same ${format} file as buffered writes, complete at every flush`, async () => {
      const a = join(dir, `direct.${format}`);
      const b = join(dir, `buffered.${format}`);
      // A small buffer: many hand-offs, each ending inside a 4 KiB block.
      const d = await write(a, true, { format, bufferBytes: 20_000 });
      const p = await write(b, false, { format, bufferBytes: 20_000 });
      expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
      expect(d.t.stats.errors).toEqual({});
      expect(d.t.stats.packets).toBe(3000);
      // The file read mid-way holds whole records up to the flush: exactly what buffered writing had there.
      expect(d.sizes).toEqual(p.sizes);
      expect(d.sizes[0]).toBeGreaterThan(4096);
      const back = readBack(a);
      expect(back.records).toHaveLength(3000);
      expect(back.records[2999].len).toBe(varied(2999).length);
    });

  it('copies the bytes out of a reused batch buffer by the end of each batch, across hand-offs', async () => {
    const path = join(dir, 'reused.pcapng');
    const t = new PcapTarget({ name: 'r', path, format: 'pcapng', bufferBytes: 20_000 });
    const buffer = new Uint8Array(64 * 1600);
    const expected: Uint8Array[] = [];
    for (let b = 0; b < 40; b++) {
      // An engine-like batch: 64 frames side by side in one buffer, overwritten by the next batch.
      const records: CopyRecord[] = [];
      let at = 0;
      for (let i = 0; i < 64; i++) {
        const r = varied(b * 64 + i);
        buffer.set(r.data, at);
        records.push({ ...r, data: buffer, offset: at });
        expected.push(r.data.slice());
        at += r.length;
      }
      for (const r of records) t.write(r);
      t.endBatch();
      buffer.fill(0xee);
    }
    await t.close();
    const r = new CaptureStreamReader((reason) => {
      throw new Error(`unexpected drop ${reason}`);
    });
    r.write(readFileSync(path));
    r.end();
    let n = 0;
    while (r.next()) {
      const x = r.record;
      expect(Buffer.from(x.data.subarray(x.offset, x.offset + x.length)).equals(Buffer.from(expected[n])), `record ${n}`).toBe(true);
      n++;
    }
    expect(n).toBe(expected.length);
  });

  it('rotates by size the same way', async () => {
    const a = join(dir, 'rot-direct.pcap');
    const b = join(dir, 'rot-buffered.pcap');
    const d = await write(a, true, { rotate: { maxBytes: 200_000 } });
    const p = await write(b, false, { rotate: { maxBytes: 200_000 } });
    expect(d.t.files.length).toBeGreaterThan(5);
    expect(d.t.files.length).toBe(p.t.files.length);
    d.t.files.forEach((f, i) => expect(readFileSync(f).equals(readFileSync(p.t.files[i])), f).toBe(true));
  });
});

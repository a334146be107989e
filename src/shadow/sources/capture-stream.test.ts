import { describe, expect, it } from 'vitest';
import { encodePcap } from '../../wire/pcap.js';
import { CaptureStreamReader, splitTimestamp } from './capture-stream.js';
import { PacketIoError } from './errors.js';

interface Got {
  bytes: number[];
  wire: number;
  sec: number;
  nsec: number;
  linkType: number;
}

/** Feed `file` in chunks of `step` bytes (0 = whole), collecting records and drops. */
function readAll(file: Uint8Array, step = 0): { got: Got[]; drops: string[]; reader: CaptureStreamReader } {
  const drops: string[] = [];
  const got: Got[] = [];
  const reader = new CaptureStreamReader((reason) => drops.push(reason), 64);
  const drain = (): void => {
    while (reader.next()) {
      const r = reader.record;
      got.push({
        bytes: [...r.data.subarray(r.offset, r.offset + r.length)],
        wire: r.wireLength,
        sec: r.tsSec,
        nsec: r.tsNsec,
        linkType: r.linkType,
      });
    }
  };
  const n = step || file.length;
  for (let o = 0; o < file.length; o += n) {
    reader.write(file.subarray(o, o + n));
    drain();
  }
  reader.end();
  drain();
  return { got, drops, reader };
}

const packets = [
  { seconds: 1_700_000_000, nanoseconds: 123_456_000, data: Uint8Array.of(1, 2, 3, 4) },
  { seconds: 1_700_000_001, nanoseconds: 5_000, data: Uint8Array.of(5, 6, 7), originalLength: 1500 },
  { seconds: 1_700_000_002, nanoseconds: 999_999_000, data: Uint8Array.of(8) },
];
const expected = packets.map((p) => ({
  bytes: [...p.data],
  wire: p.originalLength ?? p.data.length,
  sec: p.seconds,
  nsec: p.nanoseconds,
  linkType: 1,
}));

/** A pcapng file written field by field (draft-ietf-opsawg-pcapng), little- or big-endian. */
function pcapng(
  le: boolean,
  blocks: (
    | { type: 'idb'; linkType: number; snap?: number; tsresol?: number }
    | { type: 'epb'; iface: number; ts: bigint; data: number[]; orig?: number }
    | { type: 'raw'; bytes: number[] }
  )[],
): Uint8Array {
  const out: number[] = [];
  const u32 = (v: number): number[] => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, le);
    return [...b];
  };
  const u16 = (v: number): number[] => {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, le);
    return [...b];
  };
  const block = (type: number, body: number[]): void => {
    while (body.length % 4) body.push(0);
    const len = body.length + 12;
    out.push(...u32(type), ...u32(len), ...body, ...u32(len));
  };
  block(0x0a0d0d0a, [...u32(0x1a2b3c4d), ...u16(1), ...u16(0), ...u32(0xffffffff), ...u32(0xffffffff)]);
  for (const b of blocks) {
    if (b.type === 'raw') out.push(...b.bytes);
    else if (b.type === 'idb') {
      const opts =
        b.tsresol === undefined ? [] : [...u16(9), ...u16(1), b.tsresol, 0, 0, 0, ...u16(0), ...u16(0)];
      block(1, [...u16(b.linkType), ...u16(0), ...u32(b.snap ?? 0), ...opts]);
    } else {
      block(6, [
        ...u32(b.iface),
        ...u32(Number(b.ts >> 32n)),
        ...u32(Number(b.ts & 0xffffffffn)),
        ...u32(b.data.length),
        ...u32(b.orig ?? b.data.length),
        ...b.data,
      ]);
    }
  }
  return Uint8Array.from(out);
}

describe('CaptureStreamReader', () => {
  for (const littleEndian of [true, false]) {
    for (const nanosecond of [false, true]) {
      it(`reads pcap (${littleEndian ? 'LE' : 'BE'}, ${nanosecond ? 'ns' : 'µs'}) fed whole and split at every byte`, () => {
        const file = encodePcap(packets, { littleEndian, nanosecond });
        expect(readAll(file).got).toEqual(expected);
        const split = readAll(file, 1);
        expect(split.got).toEqual(expected);
        expect(split.drops).toEqual([]);
        expect(split.reader.format).toBe('pcap');
      });
    }
  }

  it('refuses a stream that is not a capture, naming the bytes', () => {
    expect(() => readAll(Uint8Array.of(0x50, 0x4b, 3, 4, 0, 0, 0, 0))).toThrow(PacketIoError);
    expect(() => readAll(Uint8Array.of(0x50, 0x4b, 3, 4, 0, 0, 0, 0))).toThrow(
      /first bytes 50 4b 03 04 are neither/,
    );
    expect(() => readAll(new Uint8Array(0))).toThrow(/empty stream/);
    expect(() => readAll(encodePcap([]).subarray(0, 10))).toThrow(/shorter than the 24-byte pcap header/);
  });

  it('keeps the good records before a file that ends mid-record, and counts the cut one', () => {
    const file = encodePcap(packets);
    for (const cut of [2, 10, 16]) {
      const { got, drops } = readAll(file.subarray(0, file.length - cut), 7);
      expect(got).toEqual(expected.slice(0, 2));
      expect(drops).toEqual(['truncated-record']);
    }
  });

  it('counts a record longer than the snap length and goes on with the next', () => {
    const file = encodePcap(packets, { snapLength: 3 });
    // The writer cut the records; make the first one claim 4 captured bytes again.
    const big = encodePcap(packets, { snapLength: 65535 });
    const patched = new Uint8Array(big);
    new DataView(patched.buffer).setUint32(16, 3, true); // global snap length 3
    const { got, drops } = readAll(patched);
    expect(drops).toEqual(['caplen-exceeds-snaplen']);
    expect(got).toEqual(expected.slice(1));
    expect(readAll(file).drops).toEqual([]);
  });

  it('resynchronises after an impossible record header, losing only that record', () => {
    const file = new Uint8Array(encodePcap(packets));
    // Second record header starts at 24 + 16 + 4; corrupt its captured length.
    new DataView(file.buffer).setUint32(24 + 20 + 8, 0x7fffffff, true);
    for (const step of [0, 1, 5]) {
      const { got, drops } = readAll(file, step);
      expect(got).toEqual([expected[0], expected[2]]);
      expect(drops).toEqual(['bad-record-header']);
    }
  });

  for (const le of [true, false]) {
    it(`reads pcapng (${le ? 'LE' : 'BE'}) with per-interface link types and timestamp resolutions`, () => {
      const file = pcapng(le, [
        { type: 'idb', linkType: 1 },
        { type: 'idb', linkType: 101, tsresol: 9 },
        { type: 'idb', linkType: 1, tsresol: 0x80 | 20 },
        { type: 'epb', iface: 0, ts: 1_700_000_000_123_456n, data: [1, 2, 3, 4, 5] },
        { type: 'epb', iface: 1, ts: 1_700_000_001_000_000_007n, data: [0x45, 0], orig: 60 },
        { type: 'epb', iface: 2, ts: (1_700_000_002n << 20n) + (1n << 19n), data: [9] },
        { type: 'epb', iface: 7, ts: 0n, data: [1] },
      ]);
      const want = [
        { bytes: [1, 2, 3, 4, 5], wire: 5, sec: 1_700_000_000, nsec: 123_456_000, linkType: 1 },
        { bytes: [0x45, 0], wire: 60, sec: 1_700_000_001, nsec: 7, linkType: 101 },
        { bytes: [9], wire: 1, sec: 1_700_000_002, nsec: 500_000_000, linkType: 1 },
      ];
      for (const step of [0, 1, 3]) {
        const { got, drops, reader } = readAll(file, step);
        expect(got).toEqual(want);
        expect(drops).toEqual(['unknown-interface']);
        expect(reader.format).toBe('pcapng');
      }
    });
  }

  it('skips a pcapng block with disagreeing lengths and finds the next block', () => {
    const good = pcapng(true, [
      { type: 'idb', linkType: 1 },
      { type: 'epb', iface: 0, ts: 1n, data: [1] },
      { type: 'epb', iface: 0, ts: 2n, data: [2] },
      { type: 'epb', iface: 0, ts: 3n, data: [3] },
    ]);
    const bad = new Uint8Array(good);
    const dv = new DataView(bad.buffer);
    // SHB 28 bytes, IDB 20 bytes, then the first EPB (36 bytes): break its trailing length.
    const epb2 = 28 + 20 + 36;
    dv.setUint32(epb2 - 4, 999, true);
    const { got, drops } = readAll(bad, 4);
    expect(got.map((g) => g.bytes[0])).toEqual([2, 3]);
    expect(drops).toEqual(['bad-block-length']);
    const cut = readAll(good.subarray(0, good.length - 6));
    expect(cut.got.map((g) => g.bytes[0])).toEqual([1, 2]);
    expect(cut.drops).toEqual(['truncated-record']);
  });

  it('splits 64-bit timestamps exactly', () => {
    const out = { tsSec: 0, tsNsec: 0 };
    const ns = 1_767_571_200_999_999_999n;
    splitTimestamp(Number(ns >> 32n), Number(ns & 0xffffffffn), 1e9, out);
    expect(out).toEqual({ tsSec: 1_767_571_200, tsNsec: 999_999_999 });
    splitTimestamp(0, 1_500_000, 1e6, out);
    expect(out).toEqual({ tsSec: 1, tsNsec: 500_000_000 });
  });
});

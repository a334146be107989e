import { describe, expect, it } from 'vitest';
import {
  PcapngError,
  decode,
  encode,
  encodeOptions,
  encodePcapng,
  encodingLength,
  readPcapng,
  readCaptureRecords,
  type PcapngBlock,
} from './pcapng.js';
import { encodePcap } from './pcap.js';

function roundTrip(b: PcapngBlock, le: boolean): Uint8Array {
  const bytes = encode(b, undefined, 0, le);
  expect(bytes.length).toBe(encodingLength(b));
  expect(decode(bytes, 0, le)).toEqual({ value: b, bytes: bytes.length });
  const shifted = new Uint8Array(bytes.length + 8);
  encode(b, shifted, 8, le);
  expect(decode(shifted, 8, le)).toEqual({ value: b, bytes: bytes.length });
  return bytes;
}

const err = (f: () => unknown): PcapngError => {
  try {
    f();
  } catch (e) {
    return e as PcapngError;
  }
  throw new Error('no error');
};

const records = [
  { seconds: 1_700_000_000, nanoseconds: 123_456_789, data: Uint8Array.of(1, 2, 3) },
  { seconds: 1_700_000_001, nanoseconds: 0, data: new Uint8Array(0), interfaceId: 1 },
  {
    seconds: 1_700_000_002,
    nanoseconds: 999_999_999,
    data: Uint8Array.of(9, 9, 9, 9, 9),
    originalLength: 1500,
  },
];

describe('pcapng blocks', () => {
  for (const le of [true, false]) {
    it(`round-trips SHB, IDB, EPB, SPB and unknown blocks (${le ? 'little' : 'big'}-endian)`, () => {
      const opts = encodeOptions([{ code: 9, value: Uint8Array.of(9) }], le);
      const shb = roundTrip(
        {
          kind: 'section-header',
          littleEndian: le,
          versionMajor: 1,
          versionMinor: 0,
          sectionLength: -1,
          options: new Uint8Array(0),
        },
        !le,
      );
      expect([...shb.subarray(0, 4)]).toEqual([0x0a, 0x0d, 0x0d, 0x0a]);
      roundTrip(
        {
          kind: 'section-header',
          littleEndian: le,
          versionMajor: 1,
          versionMinor: 0,
          sectionLength: 2 ** 40 + 12,
          options: opts,
        },
        le,
      );
      roundTrip(
        { kind: 'interface-description', linkType: 1, reserved: 0, snapLength: 65535, options: opts },
        le,
      );
      roundTrip(
        {
          kind: 'enhanced-packet',
          interfaceId: 2,
          timestampHigh: 0x12345,
          timestampLow: 0xfedcba98,
          originalLength: 60,
          data: Uint8Array.of(1, 2, 3, 4, 5),
          options: new Uint8Array(0),
        },
        le,
      );
      roundTrip({ kind: 'simple-packet', originalLength: 3, data: Uint8Array.of(7, 8, 9) }, le);
      roundTrip({ kind: 'unknown', type: 0x0bad, body: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }, le);
    });
    it(`writes and reads files with two interfaces and nanosecond resolution (${le ? 'little' : 'big'}-endian)`, () => {
      const file = encodePcapng(records, {
        littleEndian: le,
        interfaces: [{ tsresol: 9 }, { linkType: 101, tsresol: 0x80 | 30 }],
      });
      const { records: back, stats } = readPcapng(file);
      expect(
        back.map((r) => [r.seconds, r.nanoseconds, [...r.data], r.originalLength, r.interfaceId, r.linkType]),
      ).toEqual([
        [1_700_000_000, 123_456_789, [1, 2, 3], 3, 0, 1],
        [1_700_000_001, 0, [], 0, 1, 101],
        [1_700_000_002, 999_999_999, [9, 9, 9, 9, 9], 1500, 0, 1],
      ]);
      expect(stats).toEqual({ sections: 1, interfaces: 2, skipped: {} });
    });
  }
  it('reads the default microsecond resolution and skips unknown blocks, counting them', () => {
    const head = encodePcapng([], {});
    const epb = encode({
      kind: 'enhanced-packet',
      interfaceId: 0,
      timestampHigh: 0,
      timestampLow: 2_500_001,
      originalLength: 1,
      data: Uint8Array.of(0xee),
      options: new Uint8Array(0),
    });
    const nrb = encode({ kind: 'unknown', type: 4, body: new Uint8Array(4) });
    const file = new Uint8Array([...head, ...nrb, ...epb, ...nrb]);
    const { records: back, stats } = readPcapng(file);
    expect(back.map((r) => [r.seconds, r.nanoseconds])).toEqual([[2, 500_001_000]]);
    expect(stats.skipped).toEqual({ 'unknown-block-4': 2 });
  });
  it('cuts simple packets at the interface snap length', () => {
    const head = encodePcapng([], { interfaces: [{ snapLength: 2 }] });
    const spb = encode({ kind: 'simple-packet', originalLength: 5, data: Uint8Array.of(1, 2, 3, 4) });
    const { records: back } = readPcapng(new Uint8Array([...head, ...spb]));
    expect(back.map((r) => [[...r.data], r.originalLength])).toEqual([[[1, 2], 5]]);
  });
  it('rejects bad block lengths, a bad magic, a packet before its interface, with the field and offset', () => {
    const file = encodePcapng(records.slice(0, 1), {});
    const head = encodePcapng([], {}).length;
    const odd = file.slice();
    new DataView(odd.buffer).setUint32(head + 4, 30, true);
    expect(err(() => readPcapng(odd))).toMatchObject({
      code: 'SHADOWNET_ERR_PCAPNG_BAD_BLOCK',
      field: 'blockTotalLength',
      offset: head + 4,
    });
    const tiny = file.slice();
    new DataView(tiny.buffer).setUint32(head + 4, 8, true);
    expect(err(() => readPcapng(tiny))).toMatchObject({ code: 'SHADOWNET_ERR_PCAPNG_BAD_BLOCK' });
    const huge = file.slice();
    new DataView(huge.buffer).setUint32(head + 4, 1 << 20, true);
    expect(err(() => readPcapng(huge))).toMatchObject({
      code: 'SHADOWNET_ERR_PCAPNG_TRUNCATED',
      field: 'blockTotalLength',
    });
    const trailer = file.slice();
    trailer[trailer.length - 4] ^= 4;
    expect(err(() => readPcapng(trailer))).toMatchObject({ field: 'trailingTotalLength' });
    const cap = file.slice();
    new DataView(cap.buffer).setUint32(head + 20, 200, true);
    expect(err(() => readPcapng(cap))).toMatchObject({ field: 'capturedLength' });
    expect(err(() => readPcapng(encodePcap(records)))).toMatchObject({
      code: 'SHADOWNET_ERR_PCAPNG_BAD_MAGIC',
      field: 'blockType',
    });
    const bom = file.slice();
    bom[8] = 0;
    expect(err(() => readPcapng(bom))).toMatchObject({ field: 'byteOrderMagic', offset: 8 });
    const noIf = new Uint8Array([...file.subarray(0, 28), ...file.subarray(head)]);
    expect(err(() => readPcapng(noIf))).toMatchObject({ code: 'SHADOWNET_ERR_PCAPNG_UNKNOWN_INTERFACE' });
    for (let n = 0; n < file.length; n++) {
      // Every cut either ends on a block boundary (no error) or is a typed error; packets before it are kept.
      try {
        readPcapng(file.subarray(0, n));
      } catch (e) {
        expect(e).toBeInstanceOf(PcapngError);
      }
    }
  });
  it('reads pcap and pcapng alike through readCaptureRecords', () => {
    for (const file of [
      encodePcap(records, { linkType: 113 }),
      encodePcapng(records, { interfaces: [{ linkType: 113 }, { linkType: 113 }] }),
    ]) {
      expect([...readCaptureRecords(file)].map((r) => [r.seconds, r.data.length, r.linkType])).toEqual([
        [1_700_000_000, 3, 113],
        [1_700_000_001, 0, 113],
        [1_700_000_002, 5, 113],
      ]);
    }
  });
});

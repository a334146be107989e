import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PcapError, PcapWriter, decodePcapHeader, encodePcap, readPcap } from './pcap.js';
import { missingDataMessage, sharedDataDir } from '../../test/helpers/shared-data.js';

const records = [
  { seconds: 1_700_000_000, nanoseconds: 123_456_000, data: Uint8Array.of(1, 2, 3) },
  { seconds: 1_700_000_001, nanoseconds: 999_999_000, data: new Uint8Array(0) },
  { seconds: 1_700_000_002, nanoseconds: 5_000, data: Uint8Array.of(9, 9, 9, 9, 9), originalLength: 1500 },
];

describe('pcap', () => {
  for (const littleEndian of [true, false]) {
    for (const nanosecond of [false, true]) {
      it(`writes and reads back records (${littleEndian ? 'little' : 'big'}-endian, ${nanosecond ? 'ns' : 'µs'})`, () => {
        const file = encodePcap(records, { littleEndian, nanosecond, linkType: 113 });
        const { header, records: back } = readPcap(file);
        expect(header).toMatchObject({ littleEndian, nanosecond, linkType: 113, versionMajor: 2, versionMinor: 4 });
        expect(back.map((r) => [r.seconds, r.nanoseconds, [...r.data], r.originalLength])).toEqual(
          records.map((r) => [r.seconds, r.nanoseconds, [...r.data], r.originalLength ?? r.data.length]),
        );
      });
    }
  }
  it('cuts records at the snap length but keeps the original length', () => {
    const { records: back } = readPcap(encodePcap([{ seconds: 1, nanoseconds: 0, data: new Uint8Array(100) }], { snapLength: 64 }));
    expect([back[0].data.length, back[0].originalLength]).toEqual([64, 100]);
  });
  it('rejects a bad magic, a short header and truncated records with typed errors', () => {
    const file = encodePcap(records);
    const bad = file.slice();
    bad[0] = 0;
    expect(() => decodePcapHeader(bad)).toThrow(PcapError);
    expect(() => decodePcapHeader(file.subarray(0, 10))).toThrow(/shorter than the 24-byte header/);
    let err: PcapError | undefined;
    try {
      readPcap(file.subarray(0, file.length - 2));
    } catch (e) {
      err = e as PcapError;
    }
    expect(err).toBeInstanceOf(PcapError);
    expect(err?.code).toBe('SHADOWNET_ERR_PCAP_TRUNCATED');
    expect(err?.field).toBe('record.data');
    expect(() => readPcap(file.subarray(0, 24 + 10))).toThrow(/record header cut short/);
  });
  it('reads every real capture to its end', () => {
    const dir = sharedDataDir('bgp-pcap');
    if (!dir) {
      console.warn(missingDataMessage('bgp-pcap'));
      return;
    }
    const counts: Record<string, number> = {};
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.pcap'))) {
      counts[f] = readPcap(readFileSync(join(dir, f))).records.length;
    }
    // Packet counts as tcpdump numbers them in the expected output beside each file.
    expect(counts).toEqual({ 'bgp-4byte-asn.pcap': 91, 'bgp-addpath.pcap': 1, 'bgp-large-community.pcap': 1, 'mpbgp-linklocal-nexthop.pcap': 1 });
  });
});

describe('PcapWriter.recordInto', () => {
  for (const littleEndian of [true, false])
    for (const nanosecond of [false, true])
      it(`writes the bytes record() makes, at an offset, cut to the snap length (${littleEndian ? 'little' : 'big'}-endian, ${nanosecond ? 'ns' : 'µs'})`, () => {
        const w = new PcapWriter({ littleEndian, nanosecond, snapLength: 64 });
        const packets = [new Uint8Array(100).map((_, i) => i), Uint8Array.of(7, 7, 7), new Uint8Array(64).fill(5)];
        const buf = new Uint8Array(7 + packets.reduce((n, p) => n + w.recordLength(p.length), 0)).fill(0xee);
        let o = 7;
        packets.forEach((p, i) => (o += w.recordInto(buf, o, 1_700_000_000 + i, 123_456_789, p)));
        expect(o).toBe(buf.length);
        expect(buf.subarray(0, 7)).toEqual(new Uint8Array(7).fill(0xee));
        const file = new Uint8Array([...w.header(), ...buf.subarray(7)]);
        expect(file).toEqual(encodePcap(packets.map((data, i) => ({ seconds: 1_700_000_000 + i, nanoseconds: 123_456_789, data })), { littleEndian, nanosecond, snapLength: 64 }));
        const back = readPcap(file).records;
        // Records keep the wire length; the captured part stops at the snap length.
        expect(back.map((r) => [r.data.length, r.originalLength])).toEqual([[64, 100], [3, 3], [64, 64]]);
        expect(back[0].data).toEqual(packets[0].subarray(0, 64));
        expect(back[0].nanoseconds).toBe(nanosecond ? 123_456_789 : 123_456_000);
      });
});

import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PcapError, decodePcapHeader, encodePcap, readPcap } from './pcap.js';
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

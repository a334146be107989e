import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parsePrefix } from '../core/prefix.js';
import { missingDataMessage, sharedDataDir } from '../../test/helpers/shared-data.js';
import {
  Bgp4mpSubtype,
  decode,
  encode,
  encodingLength,
  MrtDecodeError,
  MrtErrorCode,
  mrtHeader,
  mrtSubtypeName,
  mrtTypeName,
  MrtType,
  TableDumpV2Subtype,
  type MrtRecord,
} from './mrt.js';

/** Encode, check the length, decode back (also at a non-zero offset) and compare. */
function roundTrip(r: MrtRecord): Uint8Array {
  const bytes = encode(r);
  expect(bytes.length).toBe(encodingLength(r));
  expect(decode(bytes).value).toEqual(r);
  const shifted = new Uint8Array(bytes.length + 7);
  encode(r, shifted, 7);
  const back = decode(shifted, 7);
  expect(back.bytes).toBe(bytes.length);
  expect(back.value).toEqual(r);
  return bytes;
}

const attrs = Uint8Array.from([0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 1]);

describe('MRT codec', () => {
  it('round-trips a PEER_INDEX_TABLE with IPv4/IPv6 and 2/4-octet AS peers', () => {
    roundTrip({
      timestamp: 1_700_000_000,
      type: MrtType.TABLE_DUMP_V2,
      subtype: TableDumpV2Subtype.PEER_INDEX_TABLE,
      body: {
        kind: 'peer-index-table',
        collectorBgpId: '10.0.0.1',
        viewName: 'main',
        peers: [
          { peerType: 0, bgpId: '1.1.1.1', address: '192.0.2.1', asn: 65001 },
          { peerType: 3, bgpId: '2.2.2.2', address: '2001:db8::2', asn: 4_200_000_000 },
        ],
      },
    });
  });

  it('round-trips RIB records, with and without RFC 8050 path identifiers', () => {
    const bytes = roundTrip({
      timestamp: 1,
      type: MrtType.TABLE_DUMP_V2,
      subtype: TableDumpV2Subtype.RIB_IPV4_UNICAST_ADDPATH,
      body: {
        kind: 'rib',
        sequence: 9,
        prefix: parsePrefix('203.0.113.0/25'),
        safi: 1,
        addPath: true,
        entries: [{ peerIndex: 0, originatedTime: 5, pathId: 77, attributes: attrs }],
      },
    });
    // sequence(4) + length(1) + 4 prefix bytes (/25) + count(2) + entry(2+4+4+2+14)
    expect(bytes.length).toBe(12 + 4 + 1 + 4 + 2 + 26);
    roundTrip({
      timestamp: 1,
      type: MrtType.TABLE_DUMP_V2,
      subtype: TableDumpV2Subtype.RIB_IPV6_UNICAST,
      body: {
        kind: 'rib',
        sequence: 10,
        prefix: parsePrefix('2001:db8::/32'),
        safi: 1,
        addPath: false,
        entries: [
          { peerIndex: 1, originatedTime: 5, attributes: attrs },
          { peerIndex: 2, originatedTime: 6, attributes: new Uint8Array(0) },
        ],
      },
    });
  });

  it('round-trips BGP4MP_ET records and counts the microseconds in the length field', () => {
    const msg = new Uint8Array(19).fill(0xff);
    msg[17] = 19;
    msg[18] = 4;
    const bytes = roundTrip({
      timestamp: 1_279_829_701,
      microseconds: 123_456,
      type: MrtType.BGP4MP_ET,
      subtype: Bgp4mpSubtype.MESSAGE_AS4,
      body: {
        kind: 'bgp4mp-message',
        asnBytes: 4,
        local: false,
        addPath: false,
        peerAs: 4_200_000_001,
        localAs: 65000,
        interfaceIndex: 0,
        afi: 2,
        peerAddress: '2001:db8::1',
        localAddress: '2001:db8::2',
        message: msg,
      },
    });
    // RFC 6396 §3: Length includes the 4-byte microsecond timestamp.
    expect(new DataView(bytes.buffer).getUint32(8)).toBe(4 + 4 + 2 + 2 + 32 + 19 + 4);
    roundTrip({
      timestamp: 2,
      type: MrtType.BGP4MP,
      subtype: Bgp4mpSubtype.STATE_CHANGE_AS4,
      body: {
        kind: 'bgp4mp-state-change',
        asnBytes: 4,
        peerAs: 65001,
        localAs: 65000,
        interfaceIndex: 0,
        afi: 1,
        peerAddress: '192.0.2.1',
        localAddress: '192.0.2.2',
        oldState: 5,
        newState: 6,
      },
    });
  });

  it('keeps unknown types and subtypes byte-exact', () => {
    roundTrip({ timestamp: 3, type: 99, subtype: 7, body: { kind: 'unknown', bytes: Uint8Array.from([1, 2, 3]) } });
    roundTrip({ timestamp: 3, type: MrtType.TABLE_DUMP_V2, subtype: 7, body: { kind: 'unknown', bytes: Uint8Array.from([9]) } });
    expect(mrtTypeName(99)).toBe('UNKNOWN_99');
    expect(mrtTypeName(13)).toBe('TABLE_DUMP_V2');
    expect(mrtSubtypeName(16, 4)).toBe('MESSAGE_AS4');
    expect(mrtSubtypeName(13, 10)).toBe('RIB_IPV6_UNICAST_ADDPATH');
  });

  it('names the field and offset of a truncated record, at every cut point', () => {
    const bytes = encode({
      timestamp: 1,
      type: MrtType.TABLE_DUMP_V2,
      subtype: TableDumpV2Subtype.RIB_IPV4_UNICAST,
      body: {
        kind: 'rib',
        sequence: 1,
        prefix: parsePrefix('10.0.0.0/8'),
        safi: 1,
        addPath: false,
        entries: [{ peerIndex: 0, originatedTime: 5, attributes: attrs }],
      },
    });
    for (let cut = 0; cut < bytes.length; cut++) {
      const err = (() => {
        try {
          decode(bytes.subarray(0, cut));
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, `cut at ${cut}`).toBeInstanceOf(MrtDecodeError);
      expect((err as MrtDecodeError).code).toBe(MrtErrorCode.TRUNCATED);
    }
  });

  it('rejects a body whose fields disagree with the record length', () => {
    const bytes = encode({
      timestamp: 1,
      type: MrtType.TABLE_DUMP_V2,
      subtype: TableDumpV2Subtype.RIB_IPV4_UNICAST,
      body: { kind: 'rib', sequence: 1, prefix: parsePrefix('10.0.0.0/8'), safi: 1, addPath: false, entries: [] },
    });
    const longer = new Uint8Array(bytes.length + 2);
    longer.set(bytes);
    new DataView(longer.buffer).setUint32(8, bytes.length - 12 + 2);
    expect(() => decode(longer)).toThrow(/left over.*field body at offset 20/);
    const badLen = bytes.slice();
    badLen[16] = 33; // prefix length
    expect(() => decode(badLen)).toThrow(/prefix length 33 exceeds 32 \(field prefix.length at offset 16\)/);
  });

  it('rejects an _ET header too short to hold the microseconds', () => {
    const h = mrtHeader.encode({ timestamp: 0, type: MrtType.BGP4MP, subtype: 1, length: 2 });
    h[5] = MrtType.BGP4MP_ET;
    expect(() => mrtHeader.decode(h)).toThrow(MrtDecodeError);
  });

  const dir = sharedDataDir('mrt');
  it.skipIf(!dir)('decodes and re-encodes every record of the real captures byte-exact', () => {
    if (!dir) return console.log(missingDataMessage('mrt'));
    const files = [
      'updates.20100722.2015.gz',
      'bview.ipv4_unicast_add_path.gz',
      'bview.ipv6_unicast_add_path.gz',
      'bview.64k_stream_overflow.gz',
      'bird-mrtdump_bgp.mrt',
      'openbgpd_rib_table-v2.mrt',
    ];
    const kinds: Record<string, number> = {};
    for (const f of files) {
      let d: Uint8Array = readFileSync(join(dir, f));
      if (f.endsWith('.gz')) d = gunzipSync(d);
      let o = 0;
      while (o < d.length) {
        const { value, bytes } = decode(d, o);
        expect(Buffer.from(encode(value)).equals(Buffer.from(d.subarray(o, o + bytes))), `${f}@${o}`).toBe(true);
        kinds[value.body.kind] = (kinds[value.body.kind] ?? 0) + 1;
        o += bytes;
      }
    }
    // Counts from the data sets' SOURCES files.
    expect(kinds['bgp4mp-message']).toBe(1364 + 789 + 1 + 14);
    expect(kinds['bgp4mp-state-change']).toBe(40 + 12);
    expect(kinds['rib-generic']).toBe(2);
    expect(kinds['peer-index-table']).toBe(4);
    expect(kinds['unknown']).toBeUndefined();
  });
});

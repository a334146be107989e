import { describe, expect, it } from 'vitest';
import {
  EthernetError,
  decode,
  encode,
  encodingLength,
  etherTypeName,
  type EthernetHeader,
} from './ethernet.js';

function roundTrip(h: EthernetHeader): Uint8Array {
  const bytes = encode(h);
  expect(bytes.length).toBe(encodingLength(h));
  expect(decode(bytes)).toEqual({ value: h, bytes: bytes.length });
  const shifted = new Uint8Array(bytes.length + 5);
  encode(h, shifted, 5);
  expect(decode(shifted, 5)).toEqual({ value: h, bytes: bytes.length });
  return bytes;
}

describe('Ethernet II', () => {
  it('round-trips an untagged header', () => {
    const b = roundTrip({
      destination: 'ff:ff:ff:ff:ff:ff',
      source: '00:1b:21:3c:4d:5e',
      tags: [],
      etherType: 0x0806,
    });
    expect([...b.subarray(12)]).toEqual([8, 6]);
  });
  it('round-trips 802.1ad QinQ (S-tag then C-tag) with priority and DEI', () => {
    const b = roundTrip({
      destination: '02:00:00:00:00:01',
      source: '02:00:00:00:00:02',
      tags: [
        { tpid: 0x88a8, pcp: 7, dei: true, vid: 4094 },
        { tpid: 0x8100, pcp: 0, dei: false, vid: 1 },
      ],
      etherType: 0x86dd,
    });
    expect([...b.subarray(12, 22)]).toEqual([0x88, 0xa8, 0xff, 0xfe, 0x81, 0x00, 0x00, 0x01, 0x86, 0xdd]);
  });
  it('keeps an 802.3 length field and unknown EtherTypes as found', () => {
    roundTrip({ destination: '01:80:c2:00:00:00', source: '02:00:00:00:00:02', tags: [], etherType: 0x0026 });
    expect(etherTypeName(0x1234)).toBe('UNKNOWN_4660');
    expect(etherTypeName(0x0800)).toBe('IPV4');
  });
  it('fails with a typed error at every truncation point', () => {
    const b = encode({
      destination: '02:00:00:00:00:01',
      source: '02:00:00:00:00:02',
      tags: [{ tpid: 0x8100, pcp: 0, dei: false, vid: 5 }],
      etherType: 0x0800,
    });
    for (let n = 0; n < b.length; n++) {
      expect(() => decode(b.subarray(0, n))).toThrow(EthernetError);
    }
    try {
      decode(b.subarray(0, 16));
    } catch (e) {
      expect((e as EthernetError).code).toBe('SHADOWNET_ERR_ETHERNET_TRUNCATED');
      expect((e as EthernetError).field).toBe('tags[0]');
      expect((e as EthernetError).offset).toBe(12);
    }
  });
  it('refuses to encode a bad MAC or a VLAN id beyond 12 bits', () => {
    expect(() =>
      encode({ destination: 'nope', source: '02:00:00:00:00:02', tags: [], etherType: 0x800 }),
    ).toThrow(/not a MAC address/);
    expect(() =>
      encode({
        destination: '02:00:00:00:00:01',
        source: '02:00:00:00:00:02',
        tags: [{ tpid: 0x8100, pcp: 0, dei: false, vid: 4096 }],
        etherType: 0x800,
      }),
    ).toThrow(EthernetError);
  });
});

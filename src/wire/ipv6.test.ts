import { describe, expect, it } from 'vitest';
import { Ipv6Error, decode, encode, encodingLength, upperLayerProtocol, type Ipv6Header } from './ipv6.js';

const base: Ipv6Header = {
  trafficClass: 0xb8,
  flowLabel: 0xabcde,
  payloadLength: 100,
  nextHeader: 6,
  hopLimit: 64,
  source: '2001:db8::1',
  destination: 'fe80::1:2',
  extensions: [],
};

function roundTrip(h: Ipv6Header): Uint8Array {
  const bytes = encode(h);
  expect(bytes.length).toBe(encodingLength(h));
  expect(decode(bytes)).toEqual({ value: h, bytes: bytes.length });
  const shifted = new Uint8Array(bytes.length + 9);
  encode(h, shifted, 9);
  expect(decode(shifted, 9)).toEqual({ value: h, bytes: bytes.length });
  return bytes;
}

const chain: Ipv6Header = {
  ...base,
  nextHeader: 0,
  extensions: [
    { type: 'hop-by-hop', nextHeader: 43, options: Uint8Array.of(5, 2, 0, 0, 1, 0) },
    { type: 'routing', nextHeader: 60, routingType: 4, segmentsLeft: 1, data: new Uint8Array(20).fill(3) },
    { type: 'destination-options', nextHeader: 51, options: new Uint8Array(14) },
    {
      type: 'ah',
      nextHeader: 44,
      reserved: 0,
      spi: 0xdeadbeef,
      sequence: 7,
      icv: new Uint8Array(12).fill(9),
    },
    {
      type: 'fragment',
      nextHeader: 17,
      reserved: 0,
      reservedBits: 2,
      fragmentOffset: 0,
      moreFragments: true,
      identification: 0xfeedface,
    },
  ],
};

const err = (f: () => unknown): Ipv6Error => {
  try {
    f();
  } catch (e) {
    return e as Ipv6Error;
  }
  throw new Error('no error');
};

describe('IPv6 header and extension headers', () => {
  it('round-trips the fixed header', () => {
    const b = roundTrip(base);
    expect([...b.subarray(0, 4)]).toEqual([0x6b, 0x8a, 0xbc, 0xde]);
  });
  it('walks hop-by-hop, routing, destination options, AH and fragment headers', () => {
    const b = roundTrip(chain);
    expect(b.length).toBe(40 + 8 + 24 + 16 + 24 + 8);
    expect(upperLayerProtocol(decode(b).value)).toBe(17);
  });
  it('stops at an unknown next header and after a later fragment', () => {
    const unknown = {
      ...base,
      nextHeader: 0,
      extensions: [{ type: 'hop-by-hop' as const, nextHeader: 253, options: new Uint8Array(6) }],
    };
    const b = concat(encode(unknown), new Uint8Array(16).fill(0xff));
    expect(decode(b).bytes).toBe(48);
    expect(upperLayerProtocol(decode(b).value)).toBe(253);
    const later = {
      ...base,
      nextHeader: 44,
      extensions: [
        {
          type: 'fragment' as const,
          nextHeader: 0,
          reserved: 0,
          reservedBits: 0,
          fragmentOffset: 1232,
          moreFragments: false,
          identification: 1,
        },
      ],
    };
    // What follows looks like a hop-by-hop header but is fragment data.
    const lb = concat(encode(later), Uint8Array.of(6, 200, 0, 0, 0, 0, 0, 0));
    expect(decode(lb).bytes).toBe(48);
  });
  it('rejects an extension header that overruns the payload length, and one cut by the buffer', () => {
    const b = encode({ ...chain, payloadLength: 30 });
    expect(err(() => decode(b))).toMatchObject({
      code: 'SHADOWNET_ERR_IPV6_DECODE',
      field: 'extensions[1]',
      offset: 48,
    });
    const full = encode({ ...chain, payloadLength: 200 });
    for (let n = 0; n < full.length; n++)
      expect(err(() => decode(full.subarray(0, n)))).toBeInstanceOf(Ipv6Error);
    expect(err(() => decode(full.subarray(0, 60)))).toMatchObject({
      code: 'SHADOWNET_ERR_IPV6_TRUNCATED',
      field: 'extensions[1]',
    });
    const ah = encode({
      ...base,
      nextHeader: 51,
      extensions: [{ type: 'ah', nextHeader: 6, reserved: 0, spi: 1, sequence: 1, icv: new Uint8Array(0) }],
    });
    ah[41] = 0; // AH length of 8 bytes is below its 12 fixed bytes
    expect(err(() => decode(ah))).toMatchObject({ field: 'extensions[0].payloadLength' });
  });
  it('rejects version 4 and refuses a chain whose next headers disagree', () => {
    const b = encode(base);
    b[0] = 0x45;
    expect(err(() => decode(b))).toMatchObject({ field: 'version' });
    expect(() => encode({ ...chain, nextHeader: 60 })).toThrow(/does not name this hop-by-hop/);
    expect(() =>
      encode({
        ...base,
        nextHeader: 0,
        extensions: [{ type: 'hop-by-hop', nextHeader: 6, options: new Uint8Array(3) }],
      }),
    ).toThrow(/multiple of 8/);
  });
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
}

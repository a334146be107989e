import { describe, expect, it } from 'vitest';
import {
  Ipv4Error,
  decode,
  encode,
  encodingLength,
  ipProtocolName,
  isFragment,
  verifyHeaderChecksum,
  type Ipv4Header,
} from './ipv4.js';

const base: Ipv4Header = {
  dscp: 46,
  ecn: 1,
  totalLength: 84,
  identification: 0xbeef,
  reservedFlag: false,
  dontFragment: true,
  moreFragments: false,
  fragmentOffset: 0,
  ttl: 64,
  protocol: 1,
  source: '192.0.2.1',
  destination: '198.51.100.200',
  options: new Uint8Array(0),
};

function roundTrip(h: Ipv4Header): Uint8Array {
  const bytes = encode(h);
  expect(bytes.length).toBe(encodingLength(h));
  const back = decode(bytes);
  expect(back.bytes).toBe(bytes.length);
  expect(back.value).toEqual({ ...h, checksum: back.value.checksum });
  const shifted = new Uint8Array(bytes.length + 3);
  encode(h, shifted, 3);
  expect(decode(shifted, 3)).toEqual(back);
  // Re-encoding what was decoded (checksum included) gives the same bytes.
  expect([...encode(back.value)]).toEqual([...bytes]);
  return bytes;
}

const err = (f: () => unknown): Ipv4Error => {
  try {
    f();
  } catch (e) {
    return e as Ipv4Error;
  }
  throw new Error('no error');
};

describe('IPv4 header', () => {
  it('round-trips and computes a checksum that verifies', () => {
    const b = roundTrip(base);
    expect(verifyHeaderChecksum(b)).toBe(true);
    b[8] = 63;
    expect(verifyHeaderChecksum(b)).toBe(false);
  });
  it('keeps options raw and sets IHL from them', () => {
    const b = roundTrip({ ...base, totalLength: 28, options: Uint8Array.of(0x94, 4, 0, 0, 1, 1, 1, 0) });
    expect(b[0]).toBe(0x47);
    expect(verifyHeaderChecksum(b)).toBe(true);
  });
  it('flags fragments: MF, offsets in bytes, first and later', () => {
    const first = decode(roundTrip({ ...base, dontFragment: false, moreFragments: true })).value;
    const later = decode(roundTrip({ ...base, dontFragment: false, fragmentOffset: 1480 })).value;
    expect([isFragment(first), first.fragmentOffset, isFragment(later), later.fragmentOffset]).toEqual([
      true,
      0,
      true,
      1480,
    ]);
    expect(isFragment(base)).toBe(false);
  });
  it('writes a given checksum as is, so a wrong one round-trips byte-exact', () => {
    const b = encode({ ...base, checksum: 0 });
    expect([b[10], b[11]]).toEqual([0, 0]);
    expect(verifyHeaderChecksum(b)).toBe(false);
    expect(decode(b).value.checksum).toBe(0);
  });
  it('rejects a wrong version, an IHL below 5, a total length below the header and truncation, naming the field', () => {
    const b = encode(base);
    const v6 = b.slice();
    v6[0] = 0x65;
    expect(err(() => decode(v6))).toMatchObject({
      code: 'SHADOWNET_ERR_IPV4_DECODE',
      field: 'version',
      offset: 0,
    });
    const ihl = b.slice();
    ihl[0] = 0x44;
    expect(err(() => decode(ihl))).toMatchObject({ code: 'SHADOWNET_ERR_IPV4_DECODE', field: 'ihl' });
    const long = b.slice();
    long[0] = 0x4f;
    expect(err(() => decode(long))).toMatchObject({
      code: 'SHADOWNET_ERR_IPV4_TRUNCATED',
      field: 'options',
      offset: 20,
    });
    const tl = b.slice();
    tl[2] = 0;
    tl[3] = 19;
    expect(err(() => decode(tl))).toMatchObject({ field: 'totalLength', offset: 2 });
    for (let n = 0; n < 20; n++) expect(err(() => decode(b.subarray(0, n)))).toBeInstanceOf(Ipv4Error);
  });
  it('refuses to encode options that are not whole words and unaligned fragment offsets', () => {
    expect(() => encode({ ...base, options: Uint8Array.of(1, 1) })).toThrow(/multiple of 4/);
    expect(() => encode({ ...base, fragmentOffset: 7 })).toThrow(/multiple of 8/);
    expect(() => encode({ ...base, source: '2001:db8::1' })).toThrow(Ipv4Error);
  });
  it('names protocols, unknown ones included', () => {
    expect([ipProtocolName(6), ipProtocolName(200)]).toEqual(['TCP', 'UNKNOWN_200']);
  });
});

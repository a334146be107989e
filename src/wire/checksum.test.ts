import { describe, expect, it } from 'vitest';
import {
  internetChecksum,
  onesComplementSum,
  pseudoHeaderSum,
  transportChecksum,
  verifyTransportChecksum,
} from './checksum.js';
import { parseAddress } from '../core/prefix.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));

describe('Internet checksum', () => {
  it('sums the RFC 1071 §3 example to 0xddf2', () => {
    expect(onesComplementSum(hex('0001f203f4f5f6f7'))).toBe(0xddf2);
    expect(internetChecksum(hex('0001f203f4f5f6f7'))).toBe(0x220d);
  });
  it('pads an odd final byte with zero and honours offset and length', () => {
    expect(onesComplementSum(Uint8Array.of(0xab))).toBe(0xab00);
    expect(internetChecksum(hex('ffff0001f203f4f5f6f7ffff'), 2, 8)).toBe(0x220d);
  });
  it('computes the checksum of a real IPv4 header (field zeroed) as the one it carried', () => {
    const h = hex('450000730000400040110000c0a80001c0a800c7');
    expect(internetChecksum(h)).toBe(0xb861);
  });
  it('computes and verifies UDP over IPv4 and IPv6, sending a zero result as 0xffff', () => {
    const src = parseAddress('192.0.2.1');
    const dst = parseAddress('198.51.100.2');
    const seg = Uint8Array.of(0x12, 0x34, 0x00, 0x35, 0x00, 0x0a, 0, 0, 0xab, 0xcd);
    const c = transportChecksum(src, dst, 17, seg);
    seg[6] = c >>> 8;
    seg[7] = c & 0xff;
    expect(verifyTransportChecksum(src, dst, 17, seg)).toBe(true);
    seg[9] ^= 1;
    expect(verifyTransportChecksum(src, dst, 17, seg)).toBe(false);
    const s6 = parseAddress('2001:db8::1');
    const d6 = parseAddress('2001:db8::2');
    const seg6 = Uint8Array.of(0, 1, 0, 2, 0, 9, 0, 0, 7);
    const c6 = transportChecksum(s6, d6, 17, seg6);
    seg6[6] = c6 >>> 8;
    seg6[7] = c6 & 0xff;
    expect(verifyTransportChecksum(s6, d6, 17, seg6)).toBe(true);
    // Data chosen so the checksum computes to zero, which UDP sends as all ones.
    const z = new Uint8Array(10);
    z.set([0, 1, 0, 2, 0, 10], 0);
    const partial = onesComplementSum(z, 0, 10, pseudoHeaderSum(src, dst, 17, 10));
    z[8] = (~partial >>> 8) & 0xff;
    z[9] = ~partial & 0xff;
    expect(transportChecksum(src, dst, 17, z)).toBe(0xffff);
  });
});

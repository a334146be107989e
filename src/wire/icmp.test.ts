import { describe, expect, it } from 'vitest';
import * as icmp from './icmp.js';
import * as icmpv6 from './icmpv6.js';
import { parseAddress } from '../core/prefix.js';
import { verifyTransportChecksum } from './checksum.js';

describe('ICMP', () => {
  it('round-trips an echo request, computing a checksum that verifies', () => {
    const m = {
      type: 8,
      code: 0,
      rest: Uint8Array.of(0x12, 0x34, 0, 5),
      data: new TextEncoder().encode('abcdefghijklmnopqrstuvwabcdefghi'),
    };
    const b = icmp.encode(m);
    expect(b.length).toBe(icmp.encodingLength(m));
    expect(icmp.verifyChecksum(b)).toBe(true);
    const back = icmp.decode(b);
    expect(back).toEqual({ value: { ...m, checksum: back.value.checksum }, bytes: b.length });
    expect(icmp.echoFields(back.value)).toEqual({ identifier: 0x1234, sequence: 5 });
    const shifted = new Uint8Array(b.length + 2);
    icmp.encode(back.value, shifted, 2);
    expect([...shifted.subarray(2)]).toEqual([...b]);
    expect(icmp.decode(shifted, 2).value).toEqual(back.value);
    b[9] ^= 0xff;
    expect(icmp.verifyChecksum(b)).toBe(false);
    expect([icmp.icmpTypeName(3), icmp.icmpTypeName(99)]).toEqual(['DESTINATION_UNREACHABLE', 'UNKNOWN_99']);
  });
  it('fails on fewer than 8 bytes with a typed error', () => {
    expect(() => icmp.decode(Uint8Array.of(8, 0, 0, 0))).toThrow(icmp.IcmpError);
    expect(() => icmp.encode({ type: 0, code: 0, rest: new Uint8Array(3), data: new Uint8Array(0) })).toThrow(
      /4 bytes/,
    );
  });
});

describe('ICMPv6', () => {
  it('round-trips a neighbor solicitation with a checksum over the pseudo-header', () => {
    const src = parseAddress('fe80::1');
    const dst = parseAddress('ff02::1:ff00:2');
    const m = { type: 135, code: 0, checksum: 0, rest: new Uint8Array(4), data: parseAddress('fe80::2') };
    const b = icmpv6.encode(m);
    const c = icmpv6.icmpv6Checksum(src, dst, b);
    const withSum = icmpv6.encode({ ...m, checksum: c });
    expect(verifyTransportChecksum(src, dst, 58, withSum)).toBe(true);
    expect(icmpv6.decode(withSum)).toEqual({ value: { ...m, checksum: c }, bytes: 24 });
    const shifted = new Uint8Array(30);
    icmpv6.encode({ ...m, checksum: c }, shifted, 6);
    expect(icmpv6.decode(shifted, 6).value.checksum).toBe(c);
    expect([icmpv6.icmpv6TypeName(135), icmpv6.isIcmpv6Error(1), icmpv6.isIcmpv6Error(128)]).toEqual([
      'NEIGHBOR_SOLICITATION',
      true,
      false,
    ]);
    expect(() => icmpv6.decode(b.subarray(0, 7))).toThrow(icmpv6.Icmpv6Error);
  });
});

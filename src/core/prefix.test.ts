import { describe, expect, it } from 'vitest';
import { addressInPrefix, formatAddress, formatPrefix, parseAddress, parsePrefix, prefixContains, tryParseAddress } from './prefix.js';
import { InvalidPrefixError } from './errors.js';

describe('addresses', () => {
  it.each([
    ['10.1.2.3', '10.1.2.3'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::1:2', 'fe80::1:2'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['2001:db8::', '2001:db8::'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
  ])('%s formats as %s (RFC 5952)', (input, out) => {
    expect(formatAddress(parseAddress(input))).toBe(out);
  });

  it.each(['1.2.3', '256.1.1.1', '01.1.1.1', '1::2::3', '12345::', 'x', '1:2:3:4:5:6:7:8:9'])('refuses %s', (s) => {
    expect(tryParseAddress(s)).toBeUndefined();
  });
});

describe('prefixes', () => {
  it('parses, masks and formats', () => {
    expect(formatPrefix(parsePrefix('10.1.0.0/16'))).toBe('10.1.0.0/16');
    expect(formatPrefix(parsePrefix('10.1.2.3/16', false))).toBe('10.1.0.0/16');
    expect(formatPrefix(parsePrefix('2001:db8:1::/48'))).toBe('2001:db8:1::/48');
    expect(formatPrefix(parsePrefix('0.0.0.0/0'))).toBe('0.0.0.0/0');
    expect(formatPrefix(parsePrefix('192.0.2.1'))).toBe('192.0.2.1/32');
  });

  it('tells the operator about host bits', () => {
    expect(() => parsePrefix('10.1.2.3/16')).toThrow(InvalidPrefixError);
    expect(() => parsePrefix('10.1.2.3/16')).toThrow(/did you mean 10\.1\.0\.0\/16/);
    expect(() => parsePrefix('10.0.0.0/33')).toThrow(/length must be 0\.\.32/);
  });

  it('answers containment', () => {
    const p = parsePrefix('10.1.0.0/16');
    expect(prefixContains(p, parsePrefix('10.1.128.0/17'))).toBe(true);
    expect(prefixContains(p, parsePrefix('10.0.0.0/8'))).toBe(false);
    expect(prefixContains(p, parsePrefix('10.2.0.0/16'))).toBe(false);
    expect(prefixContains(parsePrefix('10.1.0.0/17'), parsePrefix('10.1.128.0/17'))).toBe(false);
    expect(addressInPrefix(parsePrefix('2001:db8::/32'), parseAddress('2001:db8:ffff::1'))).toBe(true);
    expect(addressInPrefix(parsePrefix('2001:db8::/32'), parseAddress('10.0.0.1'))).toBe(false);
  });
});

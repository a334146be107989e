import { describe, expect, it } from 'vitest';
import { DnsError, DnsType, decode, encode, encodingLength, nameEncodingLength, optRecord, QUERY_FLAGS, RESPONSE_FLAGS, type DnsMessage } from './dns.js';

function roundTrip(m: DnsMessage): Uint8Array {
  const bytes = encode(m);
  expect(bytes.length).toBe(encodingLength(m));
  expect(decode(bytes)).toEqual({ value: m, bytes: bytes.length });
  const shifted = new Uint8Array(bytes.length + 7);
  encode(m, shifted, 7);
  expect(decode(shifted, 7)).toEqual({ value: m, bytes: bytes.length });
  return bytes;
}

const txt = (s: string) => new TextEncoder().encode(s);

describe('DNS messages', () => {
  it('round-trips a query with EDNS padding', () => {
    const b = roundTrip({ id: 0xbeef, flags: QUERY_FLAGS, questions: [{ name: 'www.example.com', type: DnsType.A, class: 1 }], answers: [], authorities: [], additionals: [optRecord(1232, 9)] });
    // RFC 1035 §4.1.1: id, then RD set, one question.
    expect([...b.subarray(0, 6)]).toEqual([0xbe, 0xef, 0x01, 0x00, 0, 1]);
    expect([...b.subarray(12, 17)]).toEqual([3, 0x77, 0x77, 0x77, 7]);
  });

  it('round-trips answers of every typed kind and keeps unknown types raw', () => {
    roundTrip({
      id: 1,
      flags: { ...RESPONSE_FLAGS, aa: true, ad: true, rcode: 0 },
      questions: [{ name: 'example.com', type: DnsType.ANY, class: 1 }],
      answers: [
        { name: 'example.com', class: 1, ttl: 300, data: { type: 'A', address: '192.0.2.1' } },
        { name: 'example.com', class: 1, ttl: 300, data: { type: 'AAAA', address: '2001:db8::1' } },
        { name: 'www.example.com', class: 1, ttl: 60, data: { type: 'CNAME', target: 'example.com' } },
        { name: 'example.com', class: 1, ttl: 3600, data: { type: 'MX', preference: 10, exchange: 'mail.example.com' } },
        { name: 'example.com', class: 1, ttl: 3600, data: { type: 'TXT', strings: [txt('v=spf1 -all'), new Uint8Array(0), new Uint8Array(255).fill(65)] } },
        { name: 'example.com', class: 1, ttl: 3600, data: { type: 'unknown', code: 99, bytes: Uint8Array.of(1, 2, 3) } },
      ],
      authorities: [],
      additionals: [],
    });
  });

  it('escapes dots, backslashes and unprintable bytes in labels', () => {
    const m: DnsMessage = { id: 2, flags: QUERY_FLAGS, questions: [{ name: 'a\\.b\\\\c\\007.example', type: 16, class: 1 }], answers: [], authorities: [], additionals: [] };
    const b = roundTrip(m);
    expect([...b.subarray(12, 20)]).toEqual([6, 0x61, 0x2e, 0x62, 0x5c, 0x63, 7, 7]);
    expect(nameEncodingLength('a\\.b\\\\c\\007.example')).toBe(16);
  });

  it('follows compression pointers (RFC 1035 §4.1.4)', () => {
    // Question example.com A; answer name is a pointer to offset 12.
    const bytes = Uint8Array.from([
      0, 5, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
      7, ...txt('example'), 3, ...txt('com'), 0, 0, 1, 0, 1,
      3, ...txt('www'), 0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12,
    ]);
    const { value } = decode(bytes);
    expect(value.answers[0]).toEqual({ name: 'www.example.com', class: 1, ttl: 60, data: { type: 'CNAME', target: 'example.com' } });
  });

  it('rejects pointer loops, truncation and oversized labels with typed errors', () => {
    const loop = Uint8Array.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(() => decode(loop)).toThrow(/does not point backwards/);
    const forward = Uint8Array.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14, 1, 0x61, 0, 0, 1, 0, 1]);
    expect(() => decode(forward)).toThrow(DnsError);
    const cut = encode({ id: 1, flags: QUERY_FLAGS, questions: [{ name: 'example.com', type: 1, class: 1 }], answers: [], authorities: [], additionals: [] });
    for (let n = 0; n < cut.length; n++) {
      try {
        decode(cut.subarray(0, n));
        expect.unreachable(`decoded ${n} bytes`);
      } catch (e) {
        expect((e as DnsError).code).toBe('SHADOWNET_ERR_DNS_TRUNCATED');
      }
    }
    expect(() => encode({ id: 1, flags: QUERY_FLAGS, questions: [{ name: 'a'.repeat(64) + '.com', type: 1, class: 1 }], answers: [], authorities: [], additionals: [] })).toThrow(/max 63/);
    expect(() => encode({ id: 1, flags: QUERY_FLAGS, questions: [{ name: Array(50).fill('abcdef').join('.'), type: 1, class: 1 }], answers: [], authorities: [], additionals: [] })).toThrow(/max 255/);
  });
});

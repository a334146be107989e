import { describe, expect, it } from 'vitest';
import {
  TlsContentType,
  TlsError,
  TlsVersion,
  alpnOf,
  decodeHandshake,
  decodeRecord,
  encodeHandshake,
  encodeRecord,
  handshakeEncodingLength,
  handshakeRecord,
  serverNameOf,
  type TlsHandshake,
} from './tls.js';

function roundTrip(h: TlsHandshake): Uint8Array {
  const bytes = encodeHandshake(h);
  expect(bytes.length).toBe(handshakeEncodingLength(h));
  expect(decodeHandshake(bytes)).toEqual({ value: h, bytes: bytes.length });
  const shifted = new Uint8Array(bytes.length + 3);
  encodeHandshake(h, shifted, 3);
  expect(decodeHandshake(shifted, 3)).toEqual({ value: h, bytes: bytes.length });
  return bytes;
}

const hello: TlsHandshake = {
  type: 'client_hello',
  hello: {
    version: TlsVersion.TLS1_2,
    random: new Uint8Array(32).fill(7),
    sessionId: new Uint8Array(32).fill(9),
    cipherSuites: [0x1301, 0x1302, 0xc02f],
    compressionMethods: [0],
    extensions: [
      { type: 'server_name', hostName: 'shop.example.com' },
      { type: 'alpn', protocols: ['h2', 'http/1.1'] },
      { type: 'supported_versions', versions: [TlsVersion.TLS1_3, TlsVersion.TLS1_2] },
      { type: 'padding', length: 5 },
      { type: 'unknown', code: 51, data: Uint8Array.of(0, 2, 0, 0x1d) },
    ],
  },
};

describe('TLS', () => {
  it('round-trips a ClientHello with SNI and ALPN', () => {
    const b = roundTrip(hello);
    expect(b[0]).toBe(1);
    const h = decodeHandshake(b).value;
    if (h.type !== 'client_hello') throw new Error('not a ClientHello');
    expect(serverNameOf(h.hello)).toBe('shop.example.com');
    expect(alpnOf(h.hello)).toEqual(['h2', 'http/1.1']);
    // RFC 6066 §3: extension 0, list length, host_name type 0, name length, name.
    const sni = Buffer.from(b).indexOf(Buffer.from([0, 0, 0, 21, 0, 19, 0, 0, 16]));
    expect(sni).toBeGreaterThan(0);
  });

  it('round-trips a TLS 1.3 ServerHello (supported_versions holds one version)', () => {
    const b = roundTrip({
      type: 'server_hello',
      hello: { version: TlsVersion.TLS1_2, random: new Uint8Array(32).fill(1), sessionId: new Uint8Array(32).fill(9), cipherSuite: 0x1301, compressionMethod: 0, extensions: [{ type: 'supported_versions', versions: [TlsVersion.TLS1_3] }] },
    });
    expect([...b.subarray(b.length - 6)]).toEqual([0, 43, 0, 2, 3, 4]);
  });

  it('frames handshakes in records and keeps unknown messages raw', () => {
    const rec = handshakeRecord(hello, TlsVersion.TLS1_0);
    const { value, bytes } = decodeRecord(rec);
    expect(bytes).toBe(rec.length);
    expect(value.contentType).toBe(TlsContentType.HANDSHAKE);
    expect(value.version).toBe(0x0301);
    expect(decodeHandshake(value.fragment).value).toEqual(hello);
    roundTrip({ type: 'unknown', code: 20, body: new Uint8Array(32).fill(3) });
    const app = encodeRecord({ contentType: TlsContentType.APPLICATION_DATA, version: TlsVersion.TLS1_2, fragment: new Uint8Array(100) }, new Uint8Array(110), 4);
    expect(decodeRecord(app, 4).bytes).toBe(105);
  });

  it('rejects truncated and overlong input with typed errors', () => {
    const rec = handshakeRecord(hello);
    for (const n of [0, 4, 5, rec.length - 1]) expect(() => decodeRecord(rec.subarray(0, n))).toThrow(TlsError);
    const body = encodeHandshake(hello);
    for (let n = 0; n < body.length; n++) expect(() => decodeHandshake(body.subarray(0, n))).toThrow(TlsError);
    const big = Uint8Array.of(23, 3, 3, 0x48, 1);
    expect(() => decodeRecord(big)).toThrow(/record_overflow/);
    expect(() => encodeHandshake({ ...hello, hello: { ...hello.hello, sessionId: new Uint8Array(33) } } as TlsHandshake)).toThrow(/max 32/);
  });
});

import { describe, expect, it } from 'vitest';
import {
  TcpError,
  TcpFlag,
  decode,
  encode,
  encodingLength,
  tcpFlagNames,
  tcpFlagsField,
  type TcpHeader,
} from './tcp.js';
import * as udp from './udp.js';

const syn: TcpHeader = {
  sourcePort: 51000,
  destinationPort: 443,
  sequence: 0xfffffff0,
  acknowledgment: 0,
  reserved: 1,
  flags: TcpFlag.SYN | TcpFlag.ECE | TcpFlag.CWR,
  window: 65535,
  checksum: 0x1234,
  urgentPointer: 0,
  options: Uint8Array.of(2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7),
};

function roundTrip<T>(
  codec: {
    encode(v: T, b?: Uint8Array, o?: number): Uint8Array;
    decode(b: Uint8Array, o?: number): { value: T; bytes: number };
    encodingLength(v: T): number;
  },
  v: T,
): Uint8Array {
  const bytes = codec.encode(v);
  expect(bytes.length).toBe(codec.encodingLength(v));
  expect(codec.decode(bytes)).toEqual({ value: v, bytes: bytes.length });
  const shifted = new Uint8Array(bytes.length + 11);
  codec.encode(v, shifted, 11);
  expect(codec.decode(shifted, 11)).toEqual({ value: v, bytes: bytes.length });
  return bytes;
}

const err = (f: () => unknown): { code: string; field: string; offset: number } => {
  try {
    f();
  } catch (e) {
    return e as TcpError;
  }
  throw new Error('no error');
};

describe('TCP header', () => {
  it('round-trips with options, the reserved nibble and every flag', () => {
    const b = roundTrip({ encode, decode, encodingLength }, syn);
    expect(b[12]).toBe(0xa1);
    expect(tcpFlagNames(syn.flags)).toBe('SYN|ECE|CWR');
    expect(tcpFlagsField(syn)).toBe(0x1c2);
  });
  it('rejects a data offset below 5 or beyond the bytes present, and truncation', () => {
    const b = encode(syn);
    const small = b.slice();
    small[12] = 0x40;
    expect(err(() => decode(small))).toMatchObject({
      code: 'SHADOWNET_ERR_TCP_DECODE',
      field: 'dataOffset',
      offset: 12,
    });
    const big = b.slice();
    big[12] = 0xf0;
    expect(err(() => decode(big))).toMatchObject({ code: 'SHADOWNET_ERR_TCP_TRUNCATED', field: 'options' });
    for (let n = 0; n < b.length; n++) expect(err(() => decode(b.subarray(0, n)))).toBeInstanceOf(TcpError);
    expect(() => encode({ ...syn, options: Uint8Array.of(1) })).toThrow(/multiple of 4/);
  });
});

describe('UDP header', () => {
  it('round-trips and rejects a length below 8', () => {
    const h = { sourcePort: 4789, destinationPort: 4789, length: 58, checksum: 0 };
    roundTrip(udp, h);
    const b = udp.encode(h);
    b[5] = 7;
    expect(err(() => udp.decode(b))).toMatchObject({
      code: 'SHADOWNET_ERR_UDP_DECODE',
      field: 'length',
      offset: 4,
    });
    expect(err(() => udp.decode(b.subarray(0, 7)))).toMatchObject({ code: 'SHADOWNET_ERR_UDP_TRUNCATED' });
  });
});

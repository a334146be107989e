import { describe, expect, it } from 'vitest';
import { BgpDecodeError, BgpFrameReader, decodeMessage, encodeMessage } from './index.js';
import type { BgpMessage } from './index.js';
import { parsePrefix } from '../../core/prefix.js';

const stream: BgpMessage[] = [
  { type: 'open', version: 4, myAs: 65001, holdTime: 90, bgpId: '192.0.2.1', capabilities: [{ type: 'four-octet-as', asn: 65001 }] },
  { type: 'keepalive' },
  {
    type: 'update',
    withdrawn: [],
    attributes: [
      { type: 'origin', flags: 0x40, value: 0 },
      { type: 'as-path', flags: 0x40, segments: [{ type: 2, asns: [65001] }], asnBytes: 2 },
      { type: 'next-hop', flags: 0x40, nextHop: '192.0.2.1' },
    ],
    nlri: [parsePrefix('10.0.0.0/8'), parsePrefix('172.16.0.0/12')],
    issues: [],
  },
  { type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0) },
];
const bytes = Buffer.concat(stream.map((m) => encodeMessage(m)));

function drain(r: BgpFrameReader, out: BgpMessage[]): void {
  for (let f = r.next(); f; f = r.next()) out.push(decodeMessage(f).value);
}

describe('BgpFrameReader', () => {
  it('yields the same messages however the stream is split in two', () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = new BgpFrameReader();
      const out: BgpMessage[] = [];
      r.push(bytes.subarray(0, cut));
      drain(r, out);
      r.push(bytes.subarray(cut));
      drain(r, out);
      expect(out).toEqual(stream);
      expect(r.buffered).toBe(0);
    }
  });
  it('yields the same messages fed one byte at a time', () => {
    const r = new BgpFrameReader(64);
    const out: BgpMessage[] = [];
    for (const b of bytes) {
      r.push(Uint8Array.of(b));
      drain(r, out);
    }
    expect(out).toEqual(stream);
  });
  it('fails on the first byte that breaks the marker, without waiting for more', () => {
    const r = new BgpFrameReader();
    r.push(Uint8Array.of(0xff, 0xff));
    expect(r.next()).toBeNull();
    let err: unknown;
    try {
      r.push(Uint8Array.of(0x00));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BgpDecodeError);
    expect((err as BgpDecodeError).notification).toMatchObject({ code: 1, subcode: 1 });
  });
  it('fails on a bad length as soon as the length field is in, not after 65k bytes', () => {
    const r = new BgpFrameReader();
    const head = new Uint8Array(18).fill(0xff);
    head[16] = 0xf0;
    head[17] = 0x00;
    let err: BgpDecodeError | undefined;
    try {
      r.push(head);
    } catch (e) {
      err = e as BgpDecodeError;
    }
    expect(err?.notification.code).toBe(1);
    expect(err?.notification.subcode).toBe(2);
    expect([...err!.notification.data]).toEqual([0xf0, 0x00]);
    const short = new BgpFrameReader();
    const h2 = new Uint8Array(18).fill(0xff);
    h2[16] = 0;
    h2[17] = 5;
    expect(() => short.push(h2)).toThrow(BgpDecodeError);
  });
  it('accepts long messages once the limit is raised (RFC 8654)', () => {
    const wire = encodeMessage({ type: 'notification', code: 6, subcode: 0, data: new Uint8Array(6000) }, undefined, 0, { extendedMessage: true });
    const r = new BgpFrameReader();
    expect(() => r.push(wire)).toThrow(BgpDecodeError);
    const r2 = new BgpFrameReader(4096);
    r2.setMaxLength(65535);
    r2.push(wire);
    expect(r2.next()?.length).toBe(6021);
  });
});

import { describe, expect, it } from 'vitest';
import * as vxlan from './vxlan.js';
import * as geneve from './geneve.js';
import { TunnelError, TunnelView, decapsulateVxlan, tunnelErrorName } from './vxlan.js';

const err = (f: () => unknown): { code: string; field: string; offset: number } => {
  try {
    f();
  } catch (e) {
    return e as vxlan.VxlanError;
  }
  throw new Error('no error');
};

describe('VXLAN (RFC 7348)', () => {
  it('round-trips a header, keeping reserved bits as found', () => {
    const h = { flags: 0x0c, reserved1: 0x010203, vni: 0xabcdef, reserved2: 0x7f };
    const b = vxlan.encode(h);
    expect(b.length).toBe(vxlan.encodingLength(h));
    expect(vxlan.decode(b)).toEqual({ value: h, bytes: 8 });
    const s = new Uint8Array(12);
    vxlan.encode(h, s, 4);
    expect(vxlan.decode(s, 4).value).toEqual(h);
    expect([...vxlan.encode(vxlan.vxlanHeaderFor(100))]).toEqual([8, 0, 0, 0, 0, 0, 100, 0]);
  });
  it('rejects a clear I flag in the codec and in decapsulation', () => {
    const b = Uint8Array.of(0x00, 0, 0, 0, 0, 0, 1, 0, 0xaa);
    expect(err(() => vxlan.decode(b))).toMatchObject({
      code: 'SHADOWNET_ERR_VXLAN_DECODE',
      field: 'flags',
      offset: 0,
    });
    expect(decapsulateVxlan(b, 0, b.length)).toBe(TunnelError.VXLAN_I_FLAG_CLEAR);
    expect(tunnelErrorName(TunnelError.VXLAN_I_FLAG_CLEAR)).toBe('vxlan-i-flag-clear');
    expect(() => vxlan.encode({ flags: 0, reserved1: 0, vni: 1, reserved2: 0 })).toThrow(/I flag/);
    expect(() => vxlan.encode(vxlan.vxlanHeaderFor(1 << 24))).toThrow(/24 bits/);
  });
  it('decapsulates in place into a reused view, and reports truncation', () => {
    const buf = new Uint8Array(100);
    buf.set([8, 0, 0, 0, 0x12, 0x34, 0x56, 0], 20);
    const view = new TunnelView();
    expect(decapsulateVxlan(buf, 20, 50, view)).toBe(view);
    expect([view.vni, view.innerOffset, view.innerLength, view.innerLinkType]).toEqual([0x123456, 28, 42, 1]);
    expect(decapsulateVxlan(buf, 20, 7, view)).toBe(TunnelError.TRUNCATED);
    expect(decapsulateVxlan(buf, 95, 50, view)).toBe(TunnelError.TRUNCATED);
  });
});

describe('GENEVE (RFC 8926)', () => {
  const options = geneve.encodeGeneveOptions([
    { optionClass: 0x0108, type: 0x81, reserved: 0, data: new Uint8Array(8).fill(1) },
    { optionClass: 0xffff, type: 2, reserved: 5, data: new Uint8Array(0) },
  ]);
  const h: geneve.GeneveHeader = {
    version: 0,
    oam: true,
    critical: true,
    reserved1: 3,
    reserved2: 9,
    protocolType: 0x0800,
    vni: 0x00beef,
    options,
  };

  it('round-trips with raw options, and splits them into TLVs', () => {
    const b = geneve.encode(h);
    expect(b.length).toBe(geneve.encodingLength(h));
    expect(b[0]).toBe(4); // 16 option bytes = 4 words
    expect(geneve.decode(b)).toEqual({ value: h, bytes: b.length });
    const s = new Uint8Array(b.length + 3);
    geneve.encode(h, s, 3);
    expect(geneve.decode(s, 3).value).toEqual(h);
    expect(geneve.decodeGeneveOptions(options)).toEqual([
      { optionClass: 0x0108, type: 0x81, reserved: 0, data: new Uint8Array(8).fill(1) },
      { optionClass: 0xffff, type: 2, reserved: 5, data: new Uint8Array(0) },
    ]);
  });
  it('rejects a bad version and option lengths that overrun', () => {
    const b = geneve.encode(h);
    const v1 = b.slice();
    v1[0] |= 0x40;
    expect(err(() => geneve.decode(v1))).toMatchObject({
      code: 'SHADOWNET_ERR_GENEVE_DECODE',
      field: 'version',
    });
    expect(geneve.decapsulateGeneve(v1, 0, v1.length)).toBe(TunnelError.GENEVE_BAD_VERSION);
    const long = b.slice();
    long[0] = 20;
    expect(err(() => geneve.decode(long))).toMatchObject({
      code: 'SHADOWNET_ERR_GENEVE_TRUNCATED',
      field: 'optionsLength',
    });
    expect(geneve.decapsulateGeneve(long, 0, long.length)).toBe(TunnelError.GENEVE_BAD_OPTION_LENGTH);
    const tlv = b.slice();
    tlv[11] = 5; // first option claims 20 data bytes
    expect(err(() => geneve.decode(tlv))).toMatchObject({ field: 'options.length', offset: 8 });
    expect(geneve.decapsulateGeneve(tlv, 0, tlv.length)).toBe(TunnelError.GENEVE_BAD_OPTION_LENGTH);
    expect(() => geneve.encode({ ...h, version: 1 })).toThrow(/version/);
  });
  it('decapsulates by protocol type: Ethernet, IPv4, IPv6, and refuses others', () => {
    const view = new TunnelView();
    for (const [pt, lt] of [
      [0x6558, 1],
      [0x0800, 228],
      [0x86dd, 229],
    ]) {
      const b = new Uint8Array(geneve.encodingLength(h) + 40);
      geneve.encode({ ...h, protocolType: pt }, b);
      expect(geneve.decapsulateGeneve(b, 0, b.length, view)).toBe(view);
      expect([
        view.vni,
        view.innerOffset,
        view.innerLength,
        view.innerLinkType,
        view.optionsOffset,
        view.optionsLength,
        view.oam,
        view.critical,
      ]).toEqual([0xbeef, 24, 40, lt, 8, 16, true, true]);
    }
    const other = geneve.encode({ ...h, protocolType: 0x8847 });
    expect(geneve.decapsulateGeneve(other, 0, other.length, view)).toBe(
      TunnelError.GENEVE_UNSUPPORTED_PROTOCOL,
    );
    expect(geneve.decapsulateGeneve(other, 0, 7, view)).toBe(TunnelError.TRUNCATED);
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  AttrFlag,
  attrCodeName,
  BgpDecodeError,
  capabilityCodeName,
  messageTypeName,
  BgpEncodeError,
  decodeMessage,
  decodeNlri,
  decodePathAttributes,
  encodeMessage,
  encodePathAttributes,
  encodingLength,
  endOfRibFamily,
  ipv4PrefixKey,
  openCodec,
  updateCodec,
} from './index.js';
import type { BgpMessage, DecodeContext, OpenMessage, PathAttribute, UpdateMessage } from './index.js';
import { parsePrefix } from '../../core/prefix.js';

// ---------------------------------------------------------------- helpers

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const MARKER = 'ff'.repeat(16);

/** A whole message from a type and body bytes. */
function msg(type: number, body: Uint8Array | number[] = []): Uint8Array {
  const b = Uint8Array.from(body);
  const out = new Uint8Array(19 + b.length);
  out.fill(0xff, 0, 16);
  out[16] = (19 + b.length) >> 8;
  out[17] = (19 + b.length) & 0xff;
  out[18] = type;
  out.set(b, 19);
  return out;
}

/** An UPDATE body from withdrawn bytes, attribute bytes and NLRI bytes. */
function updateBody(withdrawn: number[], attrs: number[], nlri: number[]): number[] {
  return [withdrawn.length >> 8, withdrawn.length & 0xff, ...withdrawn, attrs.length >> 8, attrs.length & 0xff, ...attrs, ...nlri];
}

const ORIGIN_IGP = [0x40, 1, 1, 0];
const AS_PATH_65001 = [0x40, 2, 4, 2, 1, 0xfd, 0xe9];
const NEXT_HOP = [0x40, 3, 4, 192, 0, 2, 1];
const MANDATORY = [...ORIGIN_IGP, ...AS_PATH_65001, ...NEXT_HOP];
const NLRI_10_8 = [8, 10];

const p = (s: string, pathId?: number) => {
  const x = parsePrefix(s);
  return pathId === undefined ? x : { ...x, pathId };
};

/**
 * The one round-trip check: encode, compare encodingLength, decode back to an
 * equal value, and do it again at a non-zero offset inside a larger buffer.
 */
function roundTrip(m: BgpMessage, ctx: DecodeContext = {}): Uint8Array {
  const bytes = encodeMessage(m, undefined, 0, ctx);
  expect(bytes.length).toBe(encodingLength(m, ctx));
  const back = decodeMessage(bytes, 0, ctx);
  expect(back.bytes).toBe(bytes.length);
  expect(back.value).toEqual(m);
  const big = new Uint8Array(bytes.length + 11);
  encodeMessage(m, big, 7, ctx);
  expect(big.subarray(7, 7 + bytes.length)).toEqual(bytes);
  const again = decodeMessage(big, 7, ctx);
  expect(again.bytes).toBe(bytes.length);
  expect(again.value).toEqual(m);
  return bytes;
}

function decodeError(fn: () => unknown): BgpDecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BgpDecodeError) return e;
    throw e;
  }
  throw new Error('expected a BgpDecodeError');
}

function expectNotification(fn: () => unknown, code: number, subcode: number, data?: number[]): BgpDecodeError {
  const e = decodeError(fn);
  expect([e.notification.code, e.notification.subcode]).toEqual([code, subcode]);
  if (data) expect([...e.notification.data]).toEqual(data);
  expect(e.code).toBe('SHADOWNET_ERR_BGP_DECODE');
  return e;
}

const decodeUpdate = (bytes: Uint8Array, ctx: DecodeContext = {}): UpdateMessage => {
  const r = decodeMessage(bytes, 0, ctx).value;
  if (r.type !== 'update') throw new Error(`expected an UPDATE, got ${r.type}`);
  return r;
};

// ---------------------------------------------------------------- messages

describe('registries', () => {
  it('name known codes and say UNKNOWN_<n> for others', () => {
    expect([messageTypeName(2), messageTypeName(9)]).toEqual(['UPDATE', 'UNKNOWN_9']);
    expect([attrCodeName(32), attrCodeName(250)]).toEqual(['LARGE_COMMUNITY', 'UNKNOWN_250']);
    expect(capabilityCodeName(65)).toBe('FOUR_OCTET_AS');
  });
});

describe('KEEPALIVE, NOTIFICATION, ROUTE-REFRESH', () => {
  it('KEEPALIVE is exactly a 19-byte header (RFC 4271 §4.4)', () => {
    expect(roundTrip({ type: 'keepalive' })).toEqual(hex(`${MARKER} 0013 04`));
  });
  it('NOTIFICATION carries code, subcode and data', () => {
    const bytes = roundTrip({ type: 'notification', code: 6, subcode: 2, data: hex('0474657374') });
    expect(bytes.length).toBe(26);
  });
  it('ROUTE-REFRESH carries AFI, subtype and SAFI (RFC 2918, RFC 7313)', () => {
    expect(roundTrip({ type: 'route-refresh', afi: 2, safi: 1, subtype: 1 })).toEqual(hex(`${MARKER} 0017 05 0002 01 01`));
  });
});

describe('OPEN', () => {
  const open: OpenMessage = {
    type: 'open',
    version: 4,
    myAs: 23456,
    holdTime: 180,
    bgpId: '0.0.1.1',
    capabilities: [
      { type: 'multiprotocol', afi: 1, safi: 1 },
      { type: 'route-refresh' },
      { type: 'graceful-restart', restarting: true, notification: true, restartTime: 300, families: [] },
      { type: 'four-octet-as', asn: 2764334674 },
      { type: 'add-path', families: [{ afi: 1, safi: 1, sendReceive: 1 }] },
    ],
  };
  it('re-encodes the OPEN of a real 4-octet-AS session byte for byte', () => {
    // From tcpdump's bgp-4byte-asn capture, packet 6.
    const wire = hex(
      `${MARKER} 0037 01 04 5ba0 00b4 00000101 1a 02 18 01040001 0001 0200 4002 c12c 4104 a4c4 6652 4504 0001 0101`,
    );
    expect(decodeMessage(wire).value).toEqual(open);
    expect(roundTrip(open)).toEqual(wire);
  });
  it('round-trips every capability kind, Cisco route refresh and unknown ones byte-exact', () => {
    roundTrip({
      ...open,
      capabilities: [
        { type: 'route-refresh', cisco: true },
        { type: 'enhanced-route-refresh' },
        { type: 'extended-message' },
        { type: 'graceful-restart', restarting: false, notification: false, restartTime: 120, families: [{ afi: 2, safi: 1, forwardingPreserved: true }] },
        { type: 'add-path', families: [{ afi: 1, safi: 1, sendReceive: 3 }, { afi: 2, safi: 1, sendReceive: 2 }] },
        { type: 'unknown', code: 73, value: hex('0372746f') },
      ],
    });
  });
  it('reads each capability from its own optional parameter (Cisco style)', () => {
    const wire = msg(1, [...hex('04 fde9 005a c0000201 08'), 2, 2, 2, 0, 2, 2, 0x80, 0]);
    const m = decodeMessage(wire).value as OpenMessage;
    expect(m.capabilities).toEqual([{ type: 'route-refresh' }, { type: 'route-refresh', cisco: true }]);
  });
  it('reads RFC 9072 extended optional parameters', () => {
    const wire = msg(1, [...hex('04 fde9 005a c0000201 ff ff 0009'), 2, 0, 6, 65, 4, 0, 1, 0, 0]);
    const m = decodeMessage(wire).value as OpenMessage;
    expect(m.capabilities).toEqual([{ type: 'four-octet-as', asn: 65536 }]);
  });
  it('rejects version 3 with Unsupported Version Number, data = 4 (RFC 4271 §6.2)', () => {
    expectNotification(() => decodeMessage(msg(1, hex('03 fde9 005a c0000201 00'))), 2, 1, [0, 4]);
  });
  it('rejects BGP Identifier 0.0.0.0 with Bad BGP Identifier', () => {
    expectNotification(() => decodeMessage(msg(1, hex('04 fde9 005a 00000000 00'))), 2, 3);
  });
  it('rejects hold time 1 and 2 with Unacceptable Hold Time, accepts 0 and 3', () => {
    expectNotification(() => decodeMessage(msg(1, hex('04 fde9 0001 c0000201 00'))), 2, 6);
    expectNotification(() => decodeMessage(msg(1, hex('04 fde9 0002 c0000201 00'))), 2, 6);
    expect(decodeMessage(msg(1, hex('04 fde9 0000 c0000201 00'))).value).toMatchObject({ holdTime: 0 });
    expect(decodeMessage(msg(1, hex('04 fde9 0003 c0000201 00'))).value).toMatchObject({ holdTime: 3 });
  });
  it('rejects an optional parameter other than capabilities with (2,4), unless OPEN checks are off', () => {
    const wire = msg(1, hex('04 fde9 005a c0000201 04 01 02 abcd'));
    const e = expectNotification(() => decodeMessage(wire), 2, 4);
    expect(e.action).toBe('session-reset');
    const kept = decodeMessage(wire, 0, { checkOpen: false }).value as OpenMessage;
    expect(kept.otherParameters).toEqual([{ type: 1, value: hex('abcd') }]);
    expect(encodeMessage(kept)).toEqual(wire);
  });
  it('rejects a capability that overruns its parameter', () => {
    expectNotification(() => decodeMessage(msg(1, hex('04 fde9 005a c0000201 04 02 02 41 04'))), 2, 0);
  });
  it('rejects optional parameters length disagreeing with the message length', () => {
    expectNotification(() => decodeMessage(msg(1, hex('04 fde9 005a c0000201 05 02 02 02 00'))), 2, 0);
  });
  it('the OPEN codec decodes on its own, at an offset', () => {
    const bytes = openCodec.encode(open, new Uint8Array(100), 30);
    expect(openCodec.decode(bytes, 30)).toEqual({ value: open, bytes: openCodec.encodingLength(open) });
  });
});

describe('message header (RFC 4271 §6.1)', () => {
  it('marker not all ones → Connection Not Synchronized (1,1)', () => {
    const b = msg(4);
    b[5] = 0xfe;
    const e = expectNotification(() => decodeMessage(b), 1, 1);
    expect(e.action).toBe('session-reset');
    expect(e.offset).toBe(5);
  });
  it('length below 19 → Bad Message Length (1,2) with the length as data', () => {
    const b = msg(4);
    b[17] = 18;
    expectNotification(() => decodeMessage(b), 1, 2, [0, 18]);
  });
  it('length above 4096 → (1,2) unless extended messages are negotiated', () => {
    const b = msg(2, updateBody([], [], new Array(4100).fill(0)));
    const len = [b[16], b[17]];
    expectNotification(() => decodeMessage(b), 1, 2, len);
    expect(decodeUpdate(b, { extendedMessage: true }).nlri).toHaveLength(4100);
  });
  it('length inconsistent with the type → (1,2): KEEPALIVE of 20, OPEN of 28, ROUTE-REFRESH of 24', () => {
    expectNotification(() => decodeMessage(msg(4, [0])), 1, 2, [0, 20]);
    expectNotification(() => decodeMessage(msg(1, new Array(9).fill(0))), 1, 2, [0, 28]);
    expectNotification(() => decodeMessage(msg(5, [0, 1, 0, 1, 0])), 1, 2, [0, 24]);
    expectNotification(() => decodeMessage(msg(3, [6])), 1, 2, [0, 20]);
  });
  it('unknown type → Bad Message Type (1,3) with the type as data; kept when asked', () => {
    const b = msg(9, [1, 2, 3]);
    expectNotification(() => decodeMessage(b), 1, 3, [9]);
    const kept = decodeMessage(b, 0, { unknownMessageTypes: 'keep' });
    expect(kept.value).toEqual({ type: 'unknown', code: 9, body: Uint8Array.from([1, 2, 3]) });
    expect(encodeMessage(kept.value)).toEqual(b);
  });
  it('a buffer shorter than the length field says is Bad Message Length', () => {
    expectNotification(() => decodeMessage(msg(4).subarray(0, 10)), 1, 2);
    expectNotification(() => decodeMessage(msg(3, [6, 2, 1, 2]).subarray(0, 22)), 1, 2, [0, 23]);
  });
  it('refuses to encode a message past the limit', () => {
    const big: UpdateMessage = { type: 'update', withdrawn: [], attributes: [], nlri: new Array(1100).fill(p('10.0.0.0/24')), issues: [] };
    expect(() => encodeMessage(big)).toThrow(BgpEncodeError);
    expect(encodeMessage(big, undefined, 0, { extendedMessage: true }).length).toBe(19 + 4 + 4400);
  });
});

// ---------------------------------------------------------------- UPDATE

const allAttributes = (fourOctetAs: boolean): PathAttribute[] => [
  { type: 'origin', flags: 0x40, value: 2 },
  { type: 'as-path', flags: 0x40, segments: [{ type: 2, asns: [65001, fourOctetAs ? 4200000000 : 23456] }, { type: 1, asns: [1, 2] }], asnBytes: fourOctetAs ? 4 : 2 },
  { type: 'next-hop', flags: 0x40, nextHop: '192.0.2.1' },
  { type: 'med', flags: 0x80, value: 4294967295 },
  { type: 'local-pref', flags: 0x40, value: 100 },
  { type: 'atomic-aggregate', flags: 0x40 },
  { type: 'aggregator', flags: 0xc0, asn: fourOctetAs ? 4200000000 : 23456, address: '10.0.0.1', asnBytes: fourOctetAs ? 4 : 2 },
  { type: 'communities', flags: 0xc0, communities: [0xfde80064, 0xffffff01] },
  { type: 'originator-id', flags: 0x80, id: '10.9.9.9' },
  { type: 'cluster-list', flags: 0x80, ids: ['1.1.1.1', '2.2.2.2'] },
  { type: 'mp-reach', flags: 0x90, afi: 2, safi: 1, nextHop: hex('20010db8000000000000000000000001 fe800000000000000000000000000001'), nlri: [p('2001:db8::/32'), p('2001:db8:1::/48')] },
  { type: 'mp-unreach', flags: 0x90, afi: 2, safi: 1, withdrawn: [p('2001:db8:2::/48')] },
  { type: 'extended-communities', flags: 0xc0, communities: [hex('0002fde800000064')] },
  { type: 'as4-path', flags: 0xc0, segments: [{ type: 2, asns: [65001, 4200000000] }] },
  { type: 'as4-aggregator', flags: 0xc0, asn: 4200000000, address: '10.0.0.1' },
  { type: 'large-communities', flags: 0xc0, communities: [[4200000000, 1, 2]] },
  { type: 'unknown', flags: 0xe0, code: 99, value: hex('deadbeef') },
];

describe('UPDATE round trips', () => {
  it('every attribute type, 2-octet session', () => {
    roundTrip({ type: 'update', withdrawn: [p('10.1.0.0/16')], attributes: allAttributes(false), nlri: [p('10.0.0.0/8'), p('192.0.2.128/25'), p('0.0.0.0/0')], issues: [] });
  });
  it('every attribute type, 4-octet session', () => {
    const m: UpdateMessage = { type: 'update', withdrawn: [], attributes: allAttributes(true), nlri: [p('10.0.0.0/8')], issues: [] };
    roundTrip(m, { fourOctetAs: true });
  });
  it('extended-length attributes and an AS_SEQUENCE over 255 ASNs', () => {
    const asns = Array.from({ length: 300 }, (_, i) => 64512 + (i % 100));
    const m = {
      type: 'update',
      withdrawn: [],
      attributes: [
        { type: 'origin', flags: 0x50, value: 0 },
        { type: 'as-path', flags: 0x50, segments: [{ type: 2, asns: asns.slice(0, 255) }, { type: 2, asns: asns.slice(255) }], asnBytes: 4 },
        { type: 'next-hop', flags: 0x40, nextHop: '192.0.2.1' },
      ],
      nlri: [p('10.0.0.0/8')],
      issues: [],
    } as UpdateMessage;
    roundTrip(m, { fourOctetAs: true });
  });
  it('ADD-PATH path identifiers in every NLRI field (RFC 7911)', () => {
    const ctx = { addPathReceive: new Set(['1/1', '2/1']) };
    roundTrip(
      {
        type: 'update',
        withdrawn: [p('8.2.0.0/24', 20)],
        attributes: [
          { type: 'origin', flags: 0x40, value: 1 },
          { type: 'as-path', flags: 0x40, segments: [{ type: 2, asns: [100, 200] }], asnBytes: 2 },
          { type: 'next-hop', flags: 0x40, nextHop: '1.2.3.4' },
          { type: 'mp-reach', flags: 0x80, afi: 2, safi: 1, nextHop: hex('20000000000000400000000000000001'), nlri: [p('2002::1400:0/120', 1)] },
          { type: 'mp-unreach', flags: 0x80, afi: 2, safi: 1, withdrawn: [p('2002::2800:0/120', 100)] },
        ],
        nlri: [p('6.2.0.0/24', 10), p('6.2.1.0/24', 11)],
        issues: [],
      },
      ctx,
    );
  });
  it('keeps MP_REACH of families it does not decode raw', () => {
    roundTrip({
      type: 'update',
      withdrawn: [],
      attributes: [
        { type: 'origin', flags: 0x40, value: 0 },
        { type: 'as-path', flags: 0x40, segments: [], asnBytes: 2 },
        { type: 'mp-reach', flags: 0x80, afi: 1, safi: 133, nextHop: new Uint8Array(0), nlri: [], rawNlri: hex('0701180a0000') },
        { type: 'mp-unreach', flags: 0x80, afi: 25, safi: 65, withdrawn: [], rawWithdrawn: hex('0102') },
      ],
      nlri: [],
      issues: [],
    });
  });
  it('masks host bits of NLRI and reads an End-of-RIB', () => {
    const u = decodeUpdate(msg(2, updateBody([], MANDATORY, [24, 10, 1, 2, 25, 10, 1, 3, 0xff])));
    expect(u.nlri.map((x) => [...x.address, x.length])).toEqual([[10, 1, 2, 0, 24], [10, 1, 3, 0x80, 25]]);
    expect(endOfRibFamily(decodeUpdate(msg(2, updateBody([], [], []))))).toEqual({ afi: 1, safi: 1 });
    expect(endOfRibFamily(decodeUpdate(msg(2, updateBody([], [0x80, 15, 3, 0, 2, 1], []))))).toEqual({ afi: 2, safi: 1 });
    expect(endOfRibFamily(u)).toBeNull();
  });
  it('ipv4PrefixKey tells prefixes apart by address and length', () => {
    expect(ipv4PrefixKey(p('10.0.0.0/8'))).not.toBe(ipv4PrefixKey(p('10.0.0.0/9')));
    expect(ipv4PrefixKey(p('10.0.0.0/8'))).not.toBe(ipv4PrefixKey(p('11.0.0.0/8')));
    expect(ipv4PrefixKey(p('255.255.255.255/32'))).toBe(4294967295 * 64 + 32);
  });
});

describe('UPDATE errors (RFC 7606)', () => {
  const issueOf = (attrs: number[], nlri = NLRI_10_8, ctx: DecodeContext = {}) => decodeUpdate(msg(2, updateBody([], attrs, nlri)), ctx).issues;
  const one = (attrs: number[], nlri = NLRI_10_8, ctx: DecodeContext = {}) => {
    const issues = issueOf(attrs, nlri, ctx);
    expect(issues).toHaveLength(1);
    return issues[0];
  };

  it('a clean UPDATE has no issues', () => {
    expect(issueOf(MANDATORY)).toEqual([]);
  });
  it('ORIGIN with the optional bit set: flags conflict → treat-as-withdraw (3,4)', () => {
    expect(one([0xc0, 1, 1, 0, ...AS_PATH_65001, ...NEXT_HOP])).toMatchObject({ action: 'treat-as-withdraw', code: 3, subcode: 4, attrCode: 1, reason: 'attribute-flags-conflict', offset: 4 });
  });
  it('ORIGIN value 3 → treat-as-withdraw (3,6); length 2 → (3,5)', () => {
    expect(one([0x40, 1, 1, 3, ...AS_PATH_65001, ...NEXT_HOP])).toMatchObject({ action: 'treat-as-withdraw', subcode: 6, reason: 'origin-bad-value' });
    expect(one([0x40, 1, 2, 0, 0, ...AS_PATH_65001, ...NEXT_HOP])).toMatchObject({ action: 'treat-as-withdraw', subcode: 5, reason: 'origin-bad-length' });
  });
  it('malformed AS_PATH → treat-as-withdraw (3,11): bad segment type, zero count, overrun', () => {
    expect(one([...ORIGIN_IGP, 0x40, 2, 4, 7, 1, 0, 1, ...NEXT_HOP])).toMatchObject({ subcode: 11, reason: 'as-path-bad-segment-type', action: 'treat-as-withdraw' });
    expect(one([...ORIGIN_IGP, 0x40, 2, 2, 2, 0, ...NEXT_HOP])).toMatchObject({ subcode: 11, reason: 'as-path-empty-segment' });
    expect(one([...ORIGIN_IGP, 0x40, 2, 4, 2, 2, 0, 1, ...NEXT_HOP])).toMatchObject({ subcode: 11, reason: 'as-path-segment-overrun' });
    // A 4-octet path read on a 2-octet session does not parse either.
    expect(one([...ORIGIN_IGP, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9, ...NEXT_HOP])).toMatchObject({ subcode: 11 });
  });
  it('NEXT_HOP, MED, LOCAL_PREF, ORIGINATOR_ID of the wrong length → treat-as-withdraw (3,5)', () => {
    expect(one([...ORIGIN_IGP, ...AS_PATH_65001, 0x40, 3, 0])).toMatchObject({ subcode: 5, reason: 'next-hop-bad-length', action: 'treat-as-withdraw' });
    expect(one([...MANDATORY, 0x80, 4, 2, 0, 1])).toMatchObject({ subcode: 5, reason: 'med-bad-length' });
    expect(one([...MANDATORY, 0x40, 5, 3, 0, 0, 1])).toMatchObject({ subcode: 5, reason: 'local-pref-bad-length' });
    expect(one([...MANDATORY, 0x80, 9, 0])).toMatchObject({ subcode: 5, reason: 'originator-id-bad-length' });
  });
  it('COMMUNITIES, CLUSTER_LIST, EXTENDED and LARGE communities of a bad length → treat-as-withdraw', () => {
    expect(one([...MANDATORY, 0xc0, 8, 3, 1, 2, 3])).toMatchObject({ reason: 'communities-bad-length', action: 'treat-as-withdraw' });
    expect(one([...MANDATORY, 0xc0, 8, 0])).toMatchObject({ reason: 'communities-bad-length' });
    expect(one([...MANDATORY, 0x80, 10, 2, 1, 2])).toMatchObject({ reason: 'cluster-list-bad-length' });
    expect(one([...MANDATORY, 0xc0, 16, 4, 0, 2, 0, 0])).toMatchObject({ reason: 'extended-communities-bad-length' });
    expect(one([...MANDATORY, 0xc0, 32, 8, 0, 0, 0, 1, 0, 0, 0, 1])).toMatchObject({ reason: 'large-communities-bad-length' });
  });
  it('ATOMIC_AGGREGATE, AGGREGATOR, AS4_PATH, AS4_AGGREGATOR malformed → attribute-discard, attribute dropped', () => {
    const cases: [number[], string][] = [
      [[0x40, 6, 1, 0], 'atomic-aggregate-bad-length'],
      [[0xc0, 7, 8, 0, 0, 0xfd, 0xe9, 10, 0, 0, 1], 'aggregator-bad-length'],
      [[0xc0, 17, 3, 2, 1, 0], 'as-path-segment-overrun'],
      [[0xc0, 18, 6, 0, 0, 0xfd, 0xe9, 10, 0], 'as4-aggregator-bad-length'],
    ];
    for (const [attr, reason] of cases) {
      const u = decodeUpdate(msg(2, updateBody([], [...MANDATORY, ...attr], NLRI_10_8)));
      expect(u.issues).toEqual([expect.objectContaining({ action: 'attribute-discard', reason })]);
      expect(u.attributes.map((a) => a.type)).toEqual(['origin', 'as-path', 'next-hop']);
    }
    // Flags conflict on AGGREGATOR (well-known bits) also only discards it.
    expect(one([...MANDATORY, 0x40, 7, 6, 0xfd, 0xe9, 10, 0, 0, 1])).toMatchObject({ action: 'attribute-discard', subcode: 4 });
  });
  it('AGGREGATOR is 8 bytes on a 4-octet session', () => {
    const attrs = [0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9, ...NEXT_HOP, 0xc0, 7, 8, 0, 1, 0, 0, 10, 0, 0, 1];
    const u = decodeUpdate(msg(2, updateBody([], attrs, NLRI_10_8)), { fourOctetAs: true });
    expect(u.issues).toEqual([]);
    expect(u.attributes[3]).toEqual({ type: 'aggregator', flags: 0xc0, asn: 65536, address: '10.0.0.1', asnBytes: 4 });
  });
  it('missing ORIGIN, AS_PATH or NEXT_HOP with NLRI → treat-as-withdraw (3,3)', () => {
    expect(one([...AS_PATH_65001, ...NEXT_HOP])).toMatchObject({ subcode: 3, reason: 'missing-origin', attrCode: 1, action: 'treat-as-withdraw' });
    expect(one([...ORIGIN_IGP, ...NEXT_HOP])).toMatchObject({ subcode: 3, reason: 'missing-as-path', attrCode: 2 });
    expect(one([...ORIGIN_IGP, ...AS_PATH_65001])).toMatchObject({ subcode: 3, reason: 'missing-next-hop', attrCode: 3 });
  });
  it('no mandatory attributes needed without NLRI; NEXT_HOP not needed for MP_REACH only', () => {
    expect(issueOf([], [])).toEqual([]);
    const mp = [0x80, 14, 24, 0, 2, 1, 16, ...new Array(16).fill(1), 0, 16, 0x20, 0x01];
    expect(issueOf([...ORIGIN_IGP, ...AS_PATH_65001, ...mp], [])).toEqual([]);
    expect(issueOf([...AS_PATH_65001, ...mp], [])).toEqual([expect.objectContaining({ reason: 'missing-origin' })]);
  });
  it('a repeated attribute: first kept, later discarded', () => {
    const u = decodeUpdate(msg(2, updateBody([], [...MANDATORY, 0x40, 1, 1, 2], NLRI_10_8)));
    expect(u.issues).toEqual([expect.objectContaining({ action: 'attribute-discard', reason: 'duplicate-attribute', attrCode: 1 })]);
    expect(u.attributes[0]).toMatchObject({ type: 'origin', value: 0 });
    expect(u.attributes).toHaveLength(3);
  });
  it('a repeated MP_REACH_NLRI → session reset, Malformed Attribute List (3,1)', () => {
    const mp = [0x80, 14, 21, 0, 2, 1, 16, ...new Array(16).fill(1), 0];
    const e = expectNotification(() => decodeMessage(msg(2, updateBody([], [...ORIGIN_IGP, ...AS_PATH_65001, ...mp, ...mp], []))), 3, 1);
    expect(e.action).toBe('session-reset');
  });
  it('an unrecognised well-known attribute → treat-as-withdraw (3,2); an unknown optional one is kept', () => {
    expect(one([...MANDATORY, 0x40, 99, 1, 0])).toMatchObject({ subcode: 2, reason: 'unrecognized-well-known-attribute' });
    const u = decodeUpdate(msg(2, updateBody([], [...MANDATORY, 0xc0, 99, 1, 7], NLRI_10_8)));
    expect(u.attributes[3]).toEqual({ type: 'unknown', flags: 0xc0, code: 99, value: Uint8Array.from([7]) });
  });
  it('an attribute length running past the attribute block → treat-as-withdraw, parsing stops', () => {
    expect(one([...MANDATORY, 0xc0, 8, 8, 0, 0, 0, 1])).toMatchObject({ action: 'treat-as-withdraw', reason: 'attribute-length-overrun', attrCode: 8 });
    expect(one([...MANDATORY, 0xc0, 8])).toMatchObject({ action: 'treat-as-withdraw', reason: 'attribute-header-overrun' });
  });
  it('withdrawn routes length or total attribute length overrunning the message → session reset (3,1)', () => {
    const body = updateBody([], MANDATORY, NLRI_10_8);
    const w = Uint8Array.from(body);
    w[1] = 200;
    expect(expectNotification(() => decodeMessage(msg(2, w)), 3, 1).action).toBe('session-reset');
    const a = Uint8Array.from(body);
    a[3] = 200;
    expect(expectNotification(() => decodeMessage(msg(2, a)), 3, 1).field).toBe('update.attributesLength');
  });
  it('malformed NLRI or withdrawn routes → session reset, Invalid Network Field (3,10) (RFC 7606 §5.3)', () => {
    expect(expectNotification(() => decodeMessage(msg(2, updateBody([], MANDATORY, [33, 1, 2, 3, 4, 5]))), 3, 10).action).toBe('session-reset');
    expectNotification(() => decodeMessage(msg(2, updateBody([], MANDATORY, [24, 10, 0]))), 3, 10);
    expectNotification(() => decodeMessage(msg(2, updateBody([16, 10], [], []))), 3, 10);
    // ADD-PATH expected but the path identifier is cut short.
    expectNotification(() => decodeMessage(msg(2, updateBody([], MANDATORY, [0, 0, 8, 10])), 0, { addPathReceive: new Set(['1/1']) }), 3, 10);
  });
  it('malformed MP_REACH / MP_UNREACH → session reset (RFC 7606 §7.11)', () => {
    const head = [...ORIGIN_IGP, ...AS_PATH_65001];
    // IPv6 with a 4-byte next hop.
    expectNotification(() => decodeMessage(msg(2, updateBody([], [...head, 0x80, 14, 9, 0, 2, 1, 4, 1, 2, 3, 4, 0], []))), 3, 9);
    // Next hop length overruns the attribute.
    expectNotification(() => decodeMessage(msg(2, updateBody([], [...head, 0x80, 14, 6, 0, 2, 1, 16, 1, 2], []))), 3, 9);
    // NLRI inside MP_REACH with a /129.
    expectNotification(() => decodeMessage(msg(2, updateBody([], [...head, 0x80, 14, 22, 0, 2, 1, 16, ...new Array(16).fill(1), 0, 129, 1], []))), 3, 9);
    // MP_UNREACH too short, and MP_REACH running past the attribute block.
    expectNotification(() => decodeMessage(msg(2, updateBody([], [0x80, 15, 2, 0, 2], []))), 3, 9);
    expect(expectNotification(() => decodeMessage(msg(2, updateBody([], [...head, 0x80, 14, 30, 0, 2], []))), 3, 9).action).toBe('session-reset');
  });
});

describe('path attribute blocks (MRT)', () => {
  it('decodes an abbreviated MP_REACH (RFC 6396 §4.3.4) and re-encodes it', () => {
    const attrs = hex('40010100 400200 800e 11 10 20010db8000000000000000000000001');
    const r = decodePathAttributes(attrs, 0, attrs.length, { mpReachNextHopOnly: true, fourOctetAs: true });
    expect(r.issues).toEqual([]);
    expect(r.attributes[2]).toEqual({ type: 'mp-reach', flags: 0x80, afi: 2, safi: 1, nextHop: hex('20010db8000000000000000000000001'), nlri: [] });
    expect(encodePathAttributes(r.attributes, { mpReachNextHopOnly: true, fourOctetAs: true })).toEqual(attrs);
  });
  it('reads a full MP_REACH even when the abbreviated form is expected', () => {
    const attrs = hex('800e 1a 0002 01 10 20010db8000000000000000000000001 00 20 20010db8');
    const r = decodePathAttributes(attrs, 0, attrs.length, { mpReachNextHopOnly: true });
    expect(r.attributes[0]).toMatchObject({ afi: 2, nlri: [p('2001:db8::/32')] });
  });
  it('a block running past the buffer is a typed error', () => {
    expect(() => decodePathAttributes(new Uint8Array(4), 2, 10)).toThrow(BgpDecodeError);
    expect(() => decodeNlri(new Uint8Array(4), 0, 10, 1)).toThrow(BgpDecodeError);
  });
  it('issue offsets count from the block start', () => {
    const attrs = hex('0000 40010103');
    expect(decodePathAttributes(attrs, 2, 4).issues[0]).toMatchObject({ offset: 3, reason: 'origin-bad-value' });
  });
});

describe('robustness', () => {
  const seed = msg(
    2,
    updateBody([24, 10, 9, 9], [...MANDATORY, 0x80, 4, 4, 0, 0, 0, 5, 0xc0, 8, 4, 0xfd, 0xe8, 0, 1, 0x80, 14, 24, 0, 2, 1, 16, ...new Array(16).fill(1), 0, 16, 0x20, 0x01, 0xc0, 17, 6, 2, 1, 0, 1, 0, 0], [24, 192, 0, 2, 8, 10]),
  );
  const onlyTypedErrors = (bytes: Uint8Array, ctx: DecodeContext): void => {
    try {
      decodeMessage(bytes, 0, ctx);
    } catch (e) {
      if (!(e instanceof BgpDecodeError)) throw e;
    }
  };
  const ctxArb = fc.record({ fourOctetAs: fc.boolean(), addPathReceive: fc.constantFrom(undefined, new Set(['1/1', '2/1'])), unknownMessageTypes: fc.constantFrom<'keep' | 'reject'>('keep', 'reject') });

  it('random bytes after a valid header only ever raise BgpDecodeError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.uint8Array({ maxLength: 200 }), ctxArb, (type, body, ctx) => onlyTypedErrors(msg(type, body), ctx)),
      { numRuns: 3000 },
    );
  });
  it('fully random bytes only ever raise BgpDecodeError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), ctxArb, (b, ctx) => onlyTypedErrors(b, ctx)), { numRuns: 1000 });
  });
  it('mutated UPDATEs only ever raise BgpDecodeError, and what decodes re-encodes', () => {
    expect(decodeUpdate(seed).issues).toEqual([]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(seed.length - 20), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), ctxArb, (edits, ctx) => {
        const b = seed.slice();
        for (const [i, v] of edits) b[19 + i] = v;
        let m: BgpMessage;
        try {
          m = decodeMessage(b, 0, ctx).value;
        } catch (e) {
          if (!(e instanceof BgpDecodeError)) throw e;
          return;
        }
        if (m.type === 'update' && m.issues.length === 0) {
          const again = updateCodec.decode(updateCodec.encode(m, undefined, 0, ctx), 0, ctx).value;
          expect(again).toEqual(m);
        }
      }),
      { numRuns: 3000 },
    );
  });
  it('attribute flags keep the extended-length bit on re-encode', () => {
    const u = decodeUpdate(msg(2, updateBody([], [0x50, 1, 0, 1, 0, ...AS_PATH_65001, ...NEXT_HOP], NLRI_10_8)));
    expect(u.attributes[0].flags & AttrFlag.EXTENDED_LENGTH).toBe(AttrFlag.EXTENDED_LENGTH);
    expect(encodeMessage(u)).toEqual(msg(2, updateBody([], [0x50, 1, 0, 1, 0, ...AS_PATH_65001, ...NEXT_HOP], NLRI_10_8)));
  });
});

import { describe, expect, it } from 'vitest';
import {
  AttrFlag,
  decodeMessage,
  encodeMessage,
  formatAsPath,
  formatCommunity,
  formatLargeCommunity,
  fromRouteAttributes,
  toRouteAttributes,
} from './index.js';
import type { PathAttribute, UpdateMessage } from './index.js';
import type { AsPathSegment, RouteAttributes } from '../../core/types.js';
import { parsePrefix } from '../../core/prefix.js';

const seq = (...asns: number[]): AsPathSegment => ({ type: 2, asns });
const set = (...asns: number[]): AsPathSegment => ({ type: 1, asns });
const asPath = (segments: AsPathSegment[], asnBytes: 2 | 4 = 2): PathAttribute => ({ type: 'as-path', flags: 0x40, segments, asnBytes });
const as4Path = (segments: AsPathSegment[]): PathAttribute => ({ type: 'as4-path', flags: 0xc0, segments });

describe('toRouteAttributes: AS4_PATH reconciliation (RFC 6793 §4.2.3)', () => {
  it('takes the leading ASes of AS_PATH and appends AS4_PATH (real session, tcpdump bgp-4byte-asn packet 13)', () => {
    const ra = toRouteAttributes([asPath([seq(200, 1, 23456, 23456, 23456)]), as4Path([seq(1, 222222, 333333, 4294967290)])]);
    expect(formatAsPath(ra.asPath)).toBe('200 1 222222 333333 4294967290');
    expect(ra.asPath).toEqual([seq(200, 1, 222222, 333333, 4294967290)]);
  });
  it('ignores an AS4_PATH longer than AS_PATH', () => {
    const ra = toRouteAttributes([asPath([seq(23456)]), as4Path([seq(1, 2, 3)])]);
    expect(ra.asPath).toEqual([seq(23456)]);
  });
  it('counts an AS_SET as one AS and keeps leading confederation segments', () => {
    const ra = toRouteAttributes([asPath([{ type: 3, asns: [64512] }, seq(100, 23456), set(23456, 7)]), as4Path([seq(70000), set(80000, 7)])]);
    expect(formatAsPath(ra.asPath)).toBe('(64512) 100 70000 {80000,7}');
  });
  it('drops confederation segments found in AS4_PATH', () => {
    const ra = toRouteAttributes([asPath([seq(23456, 1)]), as4Path([{ type: 3, asns: [9] }, seq(70000, 1)])]);
    expect(formatAsPath(ra.asPath)).toBe('70000 1');
  });
  it('ignores AS4_PATH and AS4_AGGREGATOR when AGGREGATOR names a real 2-octet AS', () => {
    const ra = toRouteAttributes([
      asPath([seq(23456, 1)]),
      { type: 'aggregator', flags: 0xc0, asn: 65000, address: '10.0.0.1', asnBytes: 2 },
      as4Path([seq(70000, 1)]),
      { type: 'as4-aggregator', flags: 0xc0, asn: 70000, address: '10.0.0.2' },
    ]);
    expect(ra.asPath).toEqual([seq(23456, 1)]);
    expect(ra.aggregator).toEqual({ asn: 65000, address: '10.0.0.1' });
  });
  it('takes AS4_AGGREGATOR when AGGREGATOR is AS_TRANS', () => {
    const ra = toRouteAttributes([
      asPath([seq(23456)]),
      { type: 'aggregator', flags: 0xc0, asn: 23456, address: '10.0.0.1', asnBytes: 2 },
      as4Path([seq(70000)]),
      { type: 'as4-aggregator', flags: 0xc0, asn: 70000, address: '10.0.0.2' },
    ]);
    expect(ra.asPath).toEqual([seq(70000)]);
    expect(ra.aggregator).toEqual({ asn: 70000, address: '10.0.0.2' });
  });
  it('ignores AS4_* on a 4-octet session', () => {
    const ra = toRouteAttributes([asPath([seq(70000, 1)], 4), as4Path([seq(9)])], { fourOctetAs: true });
    expect(ra.asPath).toEqual([seq(70000, 1)]);
  });
});

describe('toRouteAttributes: other fields', () => {
  it('reads the global and link-local next hops of MP_REACH (RFC 2545 §3)', () => {
    const nh = Uint8Array.from(Buffer.from('deadbeef000000000000000000000001fe80000000000000000001fffe010000', 'hex'));
    const ra = toRouteAttributes([{ type: 'next-hop', flags: 0x40, nextHop: '0.0.0.0' }, { type: 'mp-reach', flags: 0x80, afi: 2, safi: 1, nextHop: nh, nlri: [] }]);
    expect(ra.nextHop).toBe('dead:beef::1');
    expect(ra.nextHopLinkLocal).toBe('fe80::1ff:fe01:0');
  });
  it('gives extended communities as 16 lowercase hex digits and keeps unknown optional attributes', () => {
    const ra = toRouteAttributes([
      { type: 'extended-communities', flags: 0xc0, communities: [Uint8Array.from([0, 2, 0xfd, 0xe8, 0, 0, 0, 0xab])] },
      { type: 'unknown', flags: 0xc0, code: 99, value: Uint8Array.of(1) },
    ]);
    expect(ra.extendedCommunities).toEqual(['0002fde8000000ab']);
    expect(ra.unknown).toEqual([{ flags: 0xc0, code: 99, value: Uint8Array.of(1) }]);
    expect(ra.origin).toBe(2);
    expect(ra.nextHop).toBeNull();
  });
});

describe('fromRouteAttributes', () => {
  const ra: RouteAttributes = {
    origin: 0,
    asPath: [seq(65001, 4200000001), set(70000, 3)],
    nextHop: '192.0.2.1',
    nextHopLinkLocal: null,
    med: 10,
    localPref: 200,
    atomicAggregate: true,
    aggregator: { asn: 4200000001, address: '10.0.0.1' },
    communities: [0xfde80064],
    extendedCommunities: ['0002fde800000064'],
    largeCommunities: [[4200000001, 1, 2]],
    originatorId: '1.1.1.1',
    clusterList: ['2.2.2.2'],
    unknown: [
      { flags: 0xc0, code: 99, value: Uint8Array.of(5) },
      { flags: 0x80, code: 98, value: Uint8Array.of(6) },
    ],
  };
  const viaWire = (fourOctetAs: boolean, afi: 1 | 2, r: RouteAttributes): RouteAttributes => {
    const attributes = fromRouteAttributes(r, { fourOctetAs, afi, nlri: afi === 2 ? [parsePrefix('2001:db8::/32')] : undefined });
    const u: UpdateMessage = { type: 'update', withdrawn: [], attributes, nlri: afi === 1 ? [parsePrefix('10.0.0.0/8')] : [], issues: [] };
    const back = decodeMessage(encodeMessage(u), 0, { fourOctetAs }).value as UpdateMessage;
    expect(back.issues).toEqual([]);
    return toRouteAttributes(back.attributes, { fourOctetAs });
  };
  it('survives a 2-octet session: AS_TRANS on the wire, real ASNs after reconciliation', () => {
    const attrs = fromRouteAttributes(ra, { fourOctetAs: false, afi: 1 });
    expect(attrs.map((a) => a.type)).toContain('as4-path');
    const back = viaWire(false, 1, ra);
    expect(back).toEqual({ ...ra, unknown: [{ flags: 0xe0, code: 99, value: Uint8Array.of(5) }] });
  });
  it('survives a 4-octet session without AS4 attributes', () => {
    expect(fromRouteAttributes(ra, { fourOctetAs: true, afi: 1 }).map((a) => a.type)).not.toContain('as4-path');
    expect(viaWire(true, 1, ra).asPath).toEqual(ra.asPath);
  });
  it('passes unknown optional transitive attributes on with the Partial bit, drops non-transitive ones', () => {
    const unknown = fromRouteAttributes(ra, { fourOctetAs: true, afi: 1 }).filter((a) => a.type === 'unknown');
    expect(unknown).toEqual([{ type: 'unknown', flags: 0xc0 | AttrFlag.PARTIAL, code: 99, value: Uint8Array.of(5) }]);
  });
  it('puts IPv6 next hops (global + link-local) in MP_REACH', () => {
    const v6 = { ...ra, nextHop: '2001:db8::1', nextHopLinkLocal: 'fe80::1' };
    const back = viaWire(true, 2, v6);
    expect([back.nextHop, back.nextHopLinkLocal]).toEqual(['2001:db8::1', 'fe80::1']);
  });
});

describe('formatting', () => {
  it('prints paths, communities and large communities the way bgpdump does', () => {
    expect(formatAsPath([seq(65001, 65002), set(65003, 65004)])).toBe('65001 65002 {65003,65004}');
    expect(formatAsPath([{ type: 3, asns: [1, 2] }, { type: 4, asns: [3] }])).toBe('(1 2) [3]');
    expect(formatCommunity(0xfde80064)).toBe('65000:100');
    expect(formatCommunity(0xffffff01)).toBe('65535:65281');
    expect(formatLargeCommunity([65000, 1, 2])).toBe('65000:1:2');
  });
});

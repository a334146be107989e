import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Fragment,
  PacketView,
  decodePacket,
  dissect,
  dissectErrorName,
  conversationHash,
  flowHash,
  TunnelView,
  decapsulateVxlan,
  decapsulateGeneve,
} from './dissect.js';
import { ShadownetError } from '../core/errors.js';
import * as ethernet from './ethernet.js';
import * as ipv4 from './ipv4.js';
import * as ipv6 from './ipv6.js';
import * as tcp from './tcp.js';
import * as udp from './udp.js';
import * as icmp from './icmp.js';
import * as icmpv6 from './icmpv6.js';
import * as vxlan from './vxlan.js';
import * as geneve from './geneve.js';
import * as pcapng from './pcapng.js';
import { decodePcapHeader, encodePcap, pcapRecords } from './pcap.js';

const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const eth = (type: number, tags: ethernet.VlanTag[] = []): Uint8Array =>
  ethernet.encode({ destination: '02:00:00:00:00:02', source: '02:00:00:00:00:01', tags, etherType: type });
const v4 = (protocol: number, payload: Uint8Array, extra: Partial<ipv4.Ipv4Header> = {}): Uint8Array => {
  const options = extra.options ?? new Uint8Array(0);
  return cat(
    ipv4.encode({
      dscp: 0,
      ecn: 0,
      identification: 1,
      reservedFlag: false,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol,
      source: '192.0.2.10',
      destination: '198.51.100.20',
      ...extra,
      options,
      totalLength: 20 + options.length + payload.length,
    }),
    payload,
  );
};
const v6 = (nextHeader: number, payload: Uint8Array, extensions: ipv6.Ipv6Extension[] = []): Uint8Array => {
  const h: ipv6.Ipv6Header = {
    trafficClass: 0,
    flowLabel: 0,
    payloadLength: 0,
    nextHeader,
    hopLimit: 33,
    source: '2001:db8::10',
    destination: '2001:db8::20',
    extensions,
  };
  return cat(ipv6.encode({ ...h, payloadLength: ipv6.encodingLength(h) - 40 + payload.length }), payload);
};
const tcpSeg = (
  sport: number,
  dport: number,
  flags: number,
  payload: Uint8Array,
  options = new Uint8Array(0),
): Uint8Array =>
  cat(
    tcp.encode({
      sourcePort: sport,
      destinationPort: dport,
      sequence: 1,
      acknowledgment: 0,
      reserved: 0,
      flags,
      window: 1000,
      checksum: 0,
      urgentPointer: 0,
      options,
    }),
    payload,
  );
const udpDgram = (sport: number, dport: number, payload: Uint8Array): Uint8Array =>
  cat(
    udp.encode({ sourcePort: sport, destinationPort: dport, length: 8 + payload.length, checksum: 0 }),
    payload,
  );

const http = cat(
  eth(0x0800),
  v4(
    6,
    tcpSeg(
      51000,
      80,
      0x18,
      new Uint8Array(100).fill(0x41),
      Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2),
    ),
  ),
);
const dns6 = cat(
  eth(0x86dd, [{ tpid: 0x8100, pcp: 0, dei: false, vid: 42 }]),
  v6(17, udpDgram(5353, 53, new Uint8Array(30))),
);
const ping = cat(
  eth(0x0800),
  v4(1, icmp.encode({ type: 8, code: 0, rest: new Uint8Array(4), data: new Uint8Array(56) })),
);
const ns6 = cat(
  eth(0x86dd),
  v6(
    0,
    icmpv6.encode({ type: 135, code: 0, checksum: 0, rest: new Uint8Array(4), data: new Uint8Array(16) }),
    [{ type: 'hop-by-hop', nextHeader: 58, options: new Uint8Array(6) }],
  ),
);
const vxlanPkt = cat(
  eth(0x0800),
  v4(17, udpDgram(40000, 4789, cat(vxlan.encode(vxlan.vxlanHeaderFor(77)), http))),
);
const genevePkt = cat(
  eth(0x0800),
  v4(
    17,
    udpDgram(
      40000,
      6081,
      cat(
        geneve.encode({
          version: 0,
          oam: false,
          critical: false,
          reserved1: 0,
          reserved2: 0,
          protocolType: 0x0800,
          vni: 5,
          options: new Uint8Array(8).fill(0),
        }),
        http.subarray(14),
      ),
    ),
  ),
);
const seeds = [http, dns6, ping, ns6, vxlanPkt, genevePkt];

const view = new PacketView();

describe('dissect', () => {
  it('reads an Ethernet/IPv4/TCP packet in place', () => {
    const data = cat(new Uint8Array(7), http, new Uint8Array(5));
    expect(dissect(data, 7, http.length, 1, view)).toBe(true);
    expect({ ...view }).toMatchObject({
      error: 0,
      vlan: -1,
      etherType: 0x0800,
      l3Offset: 21,
      ipVersion: 4,
      src4: 0xc000020a,
      dst4: 0xc6336414,
      protocol: 6,
      ttl: 64,
      ipLength: 152,
      l4Offset: 41,
      srcPort: 51000,
      dstPort: 80,
      tcpFlags: 0x18,
      icmpType: -1,
      payloadOffset: 73,
      payloadLength: 100,
      fragment: Fragment.NONE,
    });
  });
  it('reads a VLAN-tagged IPv6/UDP packet, QinQ tags and ICMP/ICMPv6 type and code', () => {
    expect(dissect(dns6, 0, dns6.length, 1, view)).toBe(true);
    expect([
      view.vlan,
      view.innerVlan,
      view.ipVersion,
      view.src6Offset,
      view.dst6Offset,
      view.protocol,
      view.srcPort,
      view.dstPort,
      view.ttl,
      view.payloadLength,
    ]).toEqual([42, -1, 6, 26, 42, 17, 5353, 53, 33, 30]);
    const qinq = cat(
      eth(0x0800, [
        { tpid: 0x88a8, pcp: 0, dei: false, vid: 10 },
        { tpid: 0x8100, pcp: 0, dei: false, vid: 20 },
      ]),
      http.subarray(14),
    );
    expect(dissect(qinq, 0, qinq.length, 1, view)).toBe(true);
    expect([view.vlan, view.innerVlan, view.dstPort]).toEqual([10, 20, 80]);
    expect(dissect(ping, 0, ping.length, 1, view)).toBe(true);
    expect([view.protocol, view.icmpType, view.icmpCode, view.srcPort, view.payloadLength]).toEqual([
      1, 8, 0, 0, 56,
    ]);
    expect(dissect(ns6, 0, ns6.length, 1, view)).toBe(true);
    expect([view.protocol, view.icmpType, view.l4Offset]).toEqual([58, 135, 14 + 48]);
  });
  it('reads raw IP (101, 228, 229), Linux SLL and SLL2, and BSD loopback in either byte order', () => {
    const ip = http.subarray(14);
    const ip6 = dns6.subarray(18);
    const cases: [number, Uint8Array, number][] = [
      [101, ip, 80],
      [101, ip6, 53],
      [228, ip, 80],
      [229, ip6, 53],
      [113, cat(new Uint8Array(14), Uint8Array.of(0x08, 0x00), ip), 80],
      [276, cat(Uint8Array.of(0x86, 0xdd), new Uint8Array(18), ip6), 53],
      [0, cat(Uint8Array.of(2, 0, 0, 0), ip), 80],
      [0, cat(Uint8Array.of(0, 0, 0, 2), ip), 80],
      [0, cat(Uint8Array.of(30, 0, 0, 0), ip6), 53],
      [0, cat(Uint8Array.of(0, 0, 0, 24), ip6), 53],
    ];
    for (const [lt, data, port] of cases) {
      expect(dissect(data, 0, data.length, lt, view), `link type ${lt}`).toBe(true);
      expect(view.dstPort).toBe(port);
    }
    expect(dissect(ip, 0, ip.length, 147, view)).toBe(false);
    expect(dissectErrorName(view.error)).toBe('unsupported-link-type');
    const arp = cat(eth(0x0806), new Uint8Array(28));
    expect(dissect(arp, 0, arp.length, 1, view)).toBe(false);
    expect([dissectErrorName(view.error), view.etherType]).toEqual(['not-ip', 0x0806]);
  });
  it('gives ports only on a first fragment, and flags later fragments', () => {
    const first = cat(
      eth(0x0800),
      v4(17, udpDgram(1, 2, new Uint8Array(40)), { dontFragment: false, moreFragments: true }),
    );
    expect(dissect(first, 0, first.length, 1, view)).toBe(true);
    expect([view.fragment, view.srcPort, view.dstPort]).toEqual([Fragment.FIRST, 1, 2]);
    const later = cat(
      eth(0x0800),
      v4(17, udpDgram(1, 2, new Uint8Array(40)), { dontFragment: false, fragmentOffset: 64 }),
    );
    expect(dissect(later, 0, later.length, 1, view)).toBe(true);
    expect([view.fragment, view.srcPort, view.l4Offset, view.payloadOffset, view.payloadLength]).toEqual([
      Fragment.LATER,
      0,
      0,
      34,
      48,
    ]);
    const frag6 = (offset: number, more: boolean): Uint8Array =>
      cat(
        eth(0x86dd),
        v6(44, udpDgram(7, 8, new Uint8Array(8)), [
          {
            type: 'fragment',
            nextHeader: 17,
            reserved: 0,
            reservedBits: 0,
            fragmentOffset: offset,
            moreFragments: more,
            identification: 1,
          },
        ]),
      );
    expect(dissect(frag6(0, true), 0, 78, 1, view)).toBe(true);
    expect([view.fragment, view.protocol, view.srcPort]).toEqual([Fragment.FIRST, 17, 7]);
    expect(dissect(frag6(8, false), 0, 78, 1, view)).toBe(true);
    expect([view.fragment, view.protocol, view.srcPort, view.l4Offset]).toEqual([Fragment.LATER, 17, 0, 0]);
  });
  it('leaves Ethernet padding out of the payload and clamps to the captured bytes', () => {
    const padded = cat(eth(0x0800), v4(17, udpDgram(9, 9, Uint8Array.of(1))), new Uint8Array(20));
    expect(dissect(padded, 0, padded.length, 1, view)).toBe(true);
    expect(view.payloadLength).toBe(1);
    expect(dissect(http, 0, 100, 1, view)).toBe(true);
    expect([view.payloadOffset, view.payloadLength, view.ipLength]).toEqual([66, 34, 152]);
  });
  it('names the error at every truncation point and never throws', () => {
    const counts: Record<string, number> = {};
    for (const p of seeds) {
      for (let n = 0; n < p.length; n++) {
        const ok = dissect(p, 0, n, 1, view);
        if (!ok) counts[dissectErrorName(view.error)] = (counts[dissectErrorName(view.error)] ?? 0) + 1;
        if (ok) expect(view.payloadOffset + view.payloadLength).toBeLessThanOrEqual(n);
      }
    }
    expect(Object.keys(counts).sort()).toEqual(['truncated-l2', 'truncated-l3', 'truncated-l4']);
  });
  it('rejects a bad IHL, a bad IP version, a bad TCP data offset and an overrunning IPv6 extension header', () => {
    const bad = (p: Uint8Array, at: number, value: number, length = p.length): string => {
      const c = p.slice();
      c[at] = value;
      expect(dissect(c, 0, length, 1, view)).toBe(false);
      return dissectErrorName(view.error);
    };
    expect(bad(http, 14, 0x44)).toBe('bad-ip-header-length');
    expect(bad(http, 14, 0x4f, 14 + 40)).toBe('truncated-l3');
    expect(bad(http, 14, 0x55)).toBe('bad-ip-version');
    expect(bad(http, 46, 0x40)).toBe('bad-tcp-header-length');
    expect(bad(http, 46, 0xf0, 14 + 20 + 40)).toBe('truncated-l4');
    // Hop-by-hop header claiming 2 KiB inside a 32-byte payload.
    expect(bad(ns6, 55, 255)).toBe('bad-extension-header');
    const tl = http.slice();
    tl[16] = 0;
    tl[17] = 10;
    expect(dissect(tl, 0, tl.length, 1, view)).toBe(false);
    expect(dissectErrorName(view.error)).toBe('bad-ip-header-length');
    // Still shows what was read before the fault.
    const off = http.slice();
    off[46] = 0x30;
    dissect(off, 0, off.length, 1, view);
    expect([view.srcPort, view.dstPort, view.src4]).toEqual([51000, 80, 0xc000020a]);
  });
  /** A UDP datagram from 2001:db8::20 to 2001:db8::10 (the reverse of v6()'s addresses). */
  const v6Reply = (sport: number, dport: number): Uint8Array =>
    cat(
      eth(0x86dd),
      ipv6.encode({
        trafficClass: 0,
        flowLabel: 0,
        payloadLength: 8,
        nextHeader: 17,
        hopLimit: 1,
        source: '2001:db8::20',
        destination: '2001:db8::10',
        extensions: [],
      }),
      udpDgram(sport, dport, new Uint8Array(0)),
    );
  it('hashes both directions of a flow alike and different flows apart', () => {
    const rev = cat(
      eth(0x0800),
      v4(6, tcpSeg(80, 51000, 0x12, new Uint8Array(0)), {
        source: '198.51.100.20',
        destination: '192.0.2.10',
      }),
    );
    dissect(http, 0, http.length, 1, view);
    const a = flowHash(view, http);
    dissect(rev, 0, rev.length, 1, view);
    expect(flowHash(view, rev)).toBe(a);
    const other = cat(eth(0x0800), v4(6, tcpSeg(51001, 80, 0x18, new Uint8Array(0))));
    dissect(other, 0, other.length, 1, view);
    expect(flowHash(view, other)).not.toBe(a);
    const v6a = cat(eth(0x86dd), v6(17, udpDgram(5353, 53, new Uint8Array(0))));
    const v6b = v6Reply(53, 5353);
    dissect(v6a, 0, v6a.length, 1, view);
    const h6 = flowHash(view, v6a);
    dissect(v6b, 0, v6b.length, 1, view);
    expect(flowHash(view, v6b)).toBe(h6);
    // Spread: 4096 flows into 256 buckets, none left empty.
    const buckets = new Set<number>();
    for (let i = 0; i < 4096; i++) {
      const p = cat(eth(0x0800), v4(17, udpDgram(1024 + i, 53, new Uint8Array(0))));
      dissect(p, 0, p.length, 1, view);
      buckets.add(flowHash(view, p) & 0xff);
    }
    expect(buckets.size).toBe(256);
  });
  it('gives one conversation hash to both directions and every port pair of two addresses in one protocol', () => {
    dissect(http, 0, http.length, 1, view);
    const a = conversationHash(view, http);
    const rev = cat(
      eth(0x0800),
      v4(6, tcpSeg(80, 51000, 0x12, new Uint8Array(0)), { source: '198.51.100.20', destination: '192.0.2.10' }),
    );
    dissect(rev, 0, rev.length, 1, view);
    expect(conversationHash(view, rev)).toBe(a);
    // Another port pair between the same two addresses: the same conversation (flowHash tells them apart).
    const otherPorts = cat(eth(0x0800), v4(6, tcpSeg(51001, 8080, 0x18, new Uint8Array(0))));
    dissect(otherPorts, 0, otherPorts.length, 1, view);
    expect(conversationHash(view, otherPorts)).toBe(a);
    const other = cat(
      eth(0x0800),
      v4(6, tcpSeg(51000, 80, 0x18, new Uint8Array(0)), { source: '192.0.2.11', destination: '198.51.100.20' }),
    );
    dissect(other, 0, other.length, 1, view);
    expect(conversationHash(view, other)).not.toBe(a);
    // Another protocol between the same addresses: another conversation.
    const udp = cat(eth(0x0800), v4(17, udpDgram(51000, 80, new Uint8Array(0))));
    dissect(udp, 0, udp.length, 1, view);
    expect(conversationHash(view, udp)).not.toBe(a);
    const v6a = cat(eth(0x86dd), v6(17, udpDgram(5353, 53, new Uint8Array(0))));
    dissect(v6a, 0, v6a.length, 1, view);
    const h6 = conversationHash(view, v6a);
    const v6b = v6Reply(1000, 2000);
    dissect(v6b, 0, v6b.length, 1, view);
    expect(conversationHash(view, v6b)).toBe(h6);
    const arp = cat(eth(0x0806), new Uint8Array(28));
    dissect(arp, 0, arp.length, 1, view);
    expect(conversationHash(view, arp)).toBe(0);
  });
  it('decodes the same packets with the codecs, and reports a bad layer without throwing', () => {
    const d = decodePacket(vxlanPkt, 1);
    expect([d.ethernet?.etherType, d.ipv4?.protocol, d.udp?.destinationPort, d.payload.length]).toEqual([
      0x0800,
      17,
      4789,
      8 + http.length,
    ]);
    const bad = http.slice();
    bad[46] = 0x20;
    const e = decodePacket(bad, 1);
    expect([e.ipv4?.source, e.tcp, e.error?.code]).toEqual([
      '192.0.2.10',
      undefined,
      'SHADOWNET_ERR_TCP_DECODE',
    ]);
  });
});

// ---------------------------------------------------------------------------
// Property tests: random and mutated bytes never make a decoder throw anything but a typed error.

/** Edge cases kept as fixed regression inputs; a crasher fast-check finds is added here. */
const REGRESSIONS: { linkType: number; bytes: number[] }[] = [
  // BSD loopback header whose family reads negative as a little-endian int32.
  { linkType: 0, bytes: [0, 0, 0, 0x80, 0x45, 0, 0, 20] },
  // IPv6 jumbogram length (0) with a hop-by-hop header running past the capture.
  { linkType: 229, bytes: [0x60, 0, 0, 0, 0, 0, 0, 64, ...new Array(32).fill(0), 6, 255, 0, 0] },
];

const tunnel = new TunnelView();

function everyDecoder(bytes: Uint8Array, linkType: number): void {
  const typedOnly = (f: () => unknown): void => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof ShadownetError) || !/^SHADOWNET_ERR_/.test(e.code)) throw e;
    }
  };
  const ok = dissect(bytes, 0, bytes.length, linkType, view);
  if (!ok && (view.error < 1 || view.error > 9)) throw new Error(`dissect gave error ${view.error}`);
  if (ok && view.payloadOffset + view.payloadLength > bytes.length)
    throw new Error('payload runs past the capture');
  flowHash(view, bytes);
  for (const off of [0, 3]) {
    decapsulateVxlan(bytes, off, bytes.length - off, tunnel);
    decapsulateGeneve(bytes, off, bytes.length - off, tunnel);
  }
  const d = decodePacket(bytes, linkType === 1 ? 1 : 101);
  if (d.error && !(d.error instanceof ShadownetError)) throw d.error;
  for (const c of [ethernet, ipv4, ipv6, tcp, udp, icmp, icmpv6, vxlan, geneve])
    typedOnly(() => c.decode(bytes, 0));
  typedOnly(() => geneve.decodeGeneveOptions(bytes));
  typedOnly(() => pcapng.decode(bytes, 0, true));
  typedOnly(() => pcapng.decode(bytes, 0, false));
  typedOnly(() => [...pcapng.pcapngRecords(bytes)]);
  typedOnly(() => [...pcapRecords(bytes, decodePcapHeader(bytes))]);
}

describe('bad input never crashes', () => {
  it('keeps the regression cases passing', () => {
    for (const r of REGRESSIONS) everyDecoder(Uint8Array.from(r.bytes), r.linkType);
  });
  it('survives random bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom(0, 1, 101, 113, 228, 229, 276),
        (bytes, lt) => everyDecoder(bytes, lt),
      ),
      { numRuns: 3000 },
    );
  });
  it('survives mutated real-shaped packets and files', () => {
    const files = [
      encodePcap(seeds.map((data, i) => ({ seconds: i, nanoseconds: 0, data }))),
      pcapng.encodePcapng(
        seeds.map((data, i) => ({ seconds: i, nanoseconds: 0, data })),
        { interfaces: [{ tsresol: 9 }] },
      ),
    ];
    const corpus = [...seeds, ...files];
    fc.assert(
      fc.property(
        fc.nat(corpus.length - 1),
        fc.array(fc.tuple(fc.nat(4095), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(4096),
        (which, edits, cut) => {
          const b = corpus[which].slice(
            0,
            Math.max(1, corpus[which].length - (cut % 8 === 0 ? cut % corpus[which].length : 0)),
          );
          for (const [at, v] of edits) b[at % b.length] = v;
          everyDecoder(b, 1);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

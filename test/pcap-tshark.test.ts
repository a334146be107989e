import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatAddress } from '../src/core/prefix.js';
import {
  PacketView,
  decodePacket,
  dissect,
  decapsulateVxlan,
  decapsulateGeneve,
  TunnelView,
  type DecodedPacket,
} from '../src/wire/dissect.js';
import * as ethernet from '../src/wire/ethernet.js';
import * as ipv4 from '../src/wire/ipv4.js';
import * as ipv6 from '../src/wire/ipv6.js';
import * as tcp from '../src/wire/tcp.js';
import * as udp from '../src/wire/udp.js';
import * as icmp from '../src/wire/icmp.js';
import * as icmpv6 from '../src/wire/icmpv6.js';
import * as vxlan from '../src/wire/vxlan.js';
import * as geneve from '../src/wire/geneve.js';
import { transportChecksum } from '../src/wire/checksum.js';
import { encodePcap, readPcap } from '../src/wire/pcap.js';
import { encodePcapng, readPcapng } from '../src/wire/pcapng.js';
import { parseAddress } from '../src/core/prefix.js';
import { missingDataMessage, sharedDataDir } from './helpers/shared-data.js';
import { requireTshark, tsharkFields } from './helpers/tshark.js';

const FIELDS = [
  'frame.len',
  'eth.src',
  'eth.dst',
  'eth.type',
  'vlan.id',
  'vlan.etype',
  'ieee8021ad.id',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'ip.ttl',
  'ip.len',
  'ip.flags.mf',
  'ip.frag_offset',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.nxt',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.flags',
  'tcp.len',
  'udp.srcport',
  'udp.dstport',
  'udp.length',
  'icmp.type',
  'icmp.code',
  'icmpv6.type',
  'icmpv6.code',
  'vxlan.vni',
  'geneve.vni',
] as const;
type Field = (typeof FIELDS)[number];
type Row = Record<Field, string>;

/** Reassembly would hide the transport header of a first fragment; tshark must show each packet as it is. */
const PREFS = ['ip.defragment:FALSE', 'ipv6.defragment:FALSE'];
const hex4 = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;
/** tshark prints GENEVE VNIs in hex. */
const geneveVni = (n: number): string => `0x${n.toString(16).padStart(6, '0')}`;

function emptyRow(): Record<Field, string[]> {
  return Object.fromEntries(FIELDS.map((f) => [f, []])) as unknown as Record<Field, string[]>;
}
function joinRow(r: Record<Field, string[]>): Row {
  return Object.fromEntries(FIELDS.map((f) => [f, r[f].join(',')])) as Row;
}
function tsharkRows(file: string): Row[] {
  return tsharkFields(file, FIELDS, { preferences: PREFS }).map(
    (cols) => Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ''])) as Row,
  );
}

/** Fields as the codecs decode them, descending into VXLAN and GENEVE payloads the way tshark does. */
function codecRow(data: Uint8Array, linkType: number, frameLen: number): Row {
  const r = emptyRow();
  r['frame.len'].push(String(frameLen));
  addCodecLayers(data, linkType, r);
  return joinRow(r);
}

function addCodecLayers(data: Uint8Array, linkType: number, r: Record<Field, string[]>): void {
  const d: DecodedPacket = decodePacket(data, linkType);
  if (d.error) throw d.error;
  if (d.ethernet) {
    const e = d.ethernet;
    r['eth.src'].push(e.source);
    r['eth.dst'].push(e.destination);
    r['eth.type'].push(hex4(e.tags.length ? e.tags[0].tpid : e.etherType));
    e.tags.forEach((t, i) => {
      // tshark shows 802.1ad service tags as their own protocol.
      if (t.tpid === ethernet.EtherType.QINQ) r['ieee8021ad.id'].push(String(t.vid));
      else {
        r['vlan.id'].push(String(t.vid));
        r['vlan.etype'].push(hex4(i + 1 < e.tags.length ? e.tags[i + 1].tpid : e.etherType));
      }
    });
  }
  let l3Payload = 0;
  if (d.ipv4) {
    const h = d.ipv4;
    r['ip.src'].push(h.source);
    r['ip.dst'].push(h.destination);
    r['ip.proto'].push(String(h.protocol));
    r['ip.ttl'].push(String(h.ttl));
    r['ip.len'].push(String(h.totalLength));
    r['ip.flags.mf'].push(h.moreFragments ? '1' : '0');
    r['ip.frag_offset'].push(String(h.fragmentOffset / 8));
    l3Payload = h.totalLength - ipv4.encodingLength(h);
  }
  if (d.ipv6) {
    const h = d.ipv6;
    r['ipv6.src'].push(h.source);
    r['ipv6.dst'].push(h.destination);
    r['ipv6.nxt'].push(String(h.nextHeader));
    l3Payload = h.payloadLength - (ipv6.encodingLength(h) - 40);
  }
  if (d.tcp) {
    r['tcp.srcport'].push(String(d.tcp.sourcePort));
    r['tcp.dstport'].push(String(d.tcp.destinationPort));
    r['tcp.flags'].push(hex4(tcp.tcpFlagsField(d.tcp)));
    r['tcp.len'].push(String(l3Payload - tcp.encodingLength(d.tcp)));
  }
  if (d.icmp) {
    r['icmp.type'].push(String(d.icmp.type));
    r['icmp.code'].push(String(d.icmp.code));
  }
  if (d.icmpv6) {
    r['icmpv6.type'].push(String(d.icmpv6.type));
    r['icmpv6.code'].push(String(d.icmpv6.code));
  }
  if (d.udp) {
    const u = d.udp;
    r['udp.srcport'].push(String(u.sourcePort));
    r['udp.dstport'].push(String(u.destinationPort));
    r['udp.length'].push(String(u.length));
    if (u.destinationPort === udp.UdpPort.VXLAN || u.sourcePort === udp.UdpPort.VXLAN) {
      const v = vxlan.decode(d.payload);
      r['vxlan.vni'].push(String(v.value.vni));
      addCodecLayers(d.payload.subarray(v.bytes), 1, r);
    } else if (u.destinationPort === udp.UdpPort.GENEVE || u.sourcePort === udp.UdpPort.GENEVE) {
      const g = geneve.decode(d.payload);
      r['geneve.vni'].push(geneveVni(g.value.vni));
      const inner = { 0x6558: 1, 0x0800: 228, 0x86dd: 229 }[g.value.protocolType];
      if (inner !== undefined) addCodecLayers(d.payload.subarray(g.bytes), inner, r);
    }
  }
}

/** The fields `dissect` reads, with tunnels opened by the decapsulation helpers. */
const DISSECT_FIELDS: readonly Field[] = [
  'frame.len',
  'vlan.id',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'ip.ttl',
  'ip.len',
  'ipv6.src',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.flags',
  'tcp.len',
  'udp.srcport',
  'udp.dstport',
  'icmp.type',
  'icmp.code',
  'icmpv6.type',
  'icmpv6.code',
  'vxlan.vni',
  'geneve.vni',
];

const view = new PacketView();
const tunnel = new TunnelView();

function dissectRow(data: Uint8Array, linkType: number, frameLen: number): Partial<Row> {
  const r = emptyRow();
  r['frame.len'].push(String(frameLen));
  addDissectLayers(data, 0, data.length, linkType, r);
  const row = joinRow(r);
  return Object.fromEntries(DISSECT_FIELDS.map((f) => [f, row[f]]));
}

function addDissectLayers(
  data: Uint8Array,
  offset: number,
  length: number,
  linkType: number,
  r: Record<Field, string[]>,
): void {
  const ok = dissect(data, offset, length, linkType, view);
  if (view.vlan >= 0) r['vlan.id'].push(String(view.vlan));
  if (view.innerVlan >= 0) r['vlan.id'].push(String(view.innerVlan));
  if (!ok) return;
  if (view.ipVersion === 4) {
    r['ip.src'].push(
      formatAddress(Uint8Array.of(view.src4 >>> 24, view.src4 >>> 16, view.src4 >>> 8, view.src4)),
    );
    r['ip.dst'].push(
      formatAddress(Uint8Array.of(view.dst4 >>> 24, view.dst4 >>> 16, view.dst4 >>> 8, view.dst4)),
    );
    r['ip.proto'].push(String(view.protocol));
    r['ip.ttl'].push(String(view.ttl));
    r['ip.len'].push(String(view.ipLength));
  } else {
    r['ipv6.src'].push(formatAddress(data, view.src6Offset, 16));
    r['ipv6.dst'].push(formatAddress(data, view.dst6Offset, 16));
  }
  if (view.l4Offset === 0) return;
  const { protocol, payloadOffset, payloadLength } = view;
  if (protocol === 6) {
    r['tcp.srcport'].push(String(view.srcPort));
    r['tcp.dstport'].push(String(view.dstPort));
    r['tcp.flags'].push(hex4(view.tcpFlags));
    r['tcp.len'].push(String(payloadLength));
  } else if (protocol === 17) {
    r['udp.srcport'].push(String(view.srcPort));
    r['udp.dstport'].push(String(view.dstPort));
    if (view.srcPort === 4789 || view.dstPort === 4789) {
      const t = decapsulateVxlan(data, payloadOffset, payloadLength, tunnel);
      if (typeof t === 'number') throw new Error(`VXLAN decapsulation failed: ${t}`);
      r['vxlan.vni'].push(String(t.vni));
      addDissectLayers(data, t.innerOffset, t.innerLength, t.innerLinkType, r);
    } else if (view.srcPort === 6081 || view.dstPort === 6081) {
      const t = decapsulateGeneve(data, payloadOffset, payloadLength, tunnel);
      if (typeof t === 'number') throw new Error(`GENEVE decapsulation failed: ${t}`);
      r['geneve.vni'].push(geneveVni(t.vni));
      addDissectLayers(data, t.innerOffset, t.innerLength, t.innerLinkType, r);
    }
  } else if (protocol === 1 || protocol === 58) {
    const p = protocol === 1 ? 'icmp' : 'icmpv6';
    r[`${p}.type`].push(String(view.icmpType));
    r[`${p}.code`].push(String(view.icmpCode));
  }
}

/** tshark's 12-bit tcp.flags against dissect's flags byte. */
function forDissect(row: Row): Partial<Row> {
  const out = Object.fromEntries(DISSECT_FIELDS.map((f) => [f, row[f]])) as Partial<Row>;
  out['vlan.id'] = [row['ieee8021ad.id'], row['vlan.id']].filter((s) => s !== '').join(',');
  out['tcp.flags'] = row['tcp.flags']
    .split(',')
    .filter((s) => s !== '')
    .map((s) => hex4(parseInt(s, 16) & 0xff))
    .join(',');
  return out;
}

function traceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...traceFiles(p));
    else if (/\.pcap(ng)?$/.test(name)) out.push(p);
  }
  return out;
}

const haveTshark = requireTshark();

describe.skipIf(!haveTshark)('real traces decode as tshark decodes them', () => {
  const dir = sharedDataDir('pcap');
  if (!dir) {
    it.skip(missingDataMessage('pcap'), () => {});
    return;
  }
  for (const file of traceFiles(dir)) {
    it(`${file.slice(dir.length + 1)}: every packet, field for field`, () => {
      const { header, records } = readPcap(readFileSync(file));
      const expected = tsharkRows(file);
      expect(records.length).toBe(expected.length);
      expect(records.length).toBeGreaterThan(0);
      records.forEach((rec, i) => {
        const ctx = `packet ${i + 1}`;
        expect({ ctx, ...codecRow(rec.data, header.linkType, rec.originalLength) }).toEqual({
          ctx,
          ...expected[i],
        });
        expect({ ctx, ...dissectRow(rec.data, header.linkType, rec.originalLength) }).toEqual({
          ctx,
          ...forDissect(expected[i]),
        });
      });
    });
  }
  it('the VXLAN traces decapsulate to the inner packets tshark shows', () => {
    const counts: Record<string, number> = {};
    for (const name of ['tunnels_vxlan-encapsulated-http.pcap', 'vxlan-decoder-02/vxlan.pcap']) {
      const { records } = readPcap(readFileSync(join(dir, name)));
      const rows = tsharkFields(
        join(dir, name),
        ['vxlan.vni', 'eth.src', 'ip.src', 'ip.dst', 'tcp.srcport', 'icmp.type'],
        { preferences: PREFS },
      );
      records.forEach((rec, i) => {
        expect(dissect(rec.data, 0, rec.data.length, 1, view)).toBe(true);
        const t = decapsulateVxlan(rec.data, view.payloadOffset, view.payloadLength, tunnel);
        if (typeof t === 'number') throw new Error(`packet ${i + 1}: ${t}`);
        const innerFrame = rec.data.subarray(t.innerOffset, t.innerOffset + t.innerLength);
        const d = decodePacket(innerFrame, 1);
        // The outer layers are Ethernet/IPv4/UDP: what follows the first occurrence is the inner packet.
        const [vni, ethSrc, ipSrc, ipDst, tcpSrc, icmpType] = rows[i];
        const innerOf = (s: string): string => s.split(',').slice(1).join(',');
        expect([
          String(t.vni),
          d.ethernet?.source,
          d.ipv4?.source ?? '',
          d.ipv4?.destination ?? '',
          String(d.tcp?.sourcePort ?? ''),
          String(d.icmp?.type ?? ''),
        ]).toEqual([vni, innerOf(ethSrc), innerOf(ipSrc), innerOf(ipDst), tcpSrc, icmpType]);
        counts[`${name}:vni-${t.vni}`] = (counts[`${name}:vni-${t.vni}`] ?? 0) + 1;
      });
    }
    // As the trace sources describe them: 12 packets in VNI 1, 10 packets in VNI 100.
    expect(counts).toEqual({
      'tunnels_vxlan-encapsulated-http.pcap:vni-1': 12,
      'vxlan-decoder-02/vxlan.pcap:vni-100': 10,
    });
  });
});

// ---------------------------------------------------------------------------
// Packets built with the codecs, written to files, read back by tshark.

const MAC_A = '02:00:5e:00:00:0a';
const MAC_B = '02:00:5e:00:00:0b';
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const eth = (etherType: number, tags: ethernet.VlanTag[] = []): Uint8Array =>
  ethernet.encode({ destination: MAC_B, source: MAC_A, tags, etherType });
const v4 = (
  src: string,
  dst: string,
  protocol: number,
  payload: Uint8Array,
  extra: Partial<ipv4.Ipv4Header> = {},
): Uint8Array => {
  const options = extra.options ?? new Uint8Array(0);
  const h: ipv4.Ipv4Header = {
    dscp: 0,
    ecn: 0,
    identification: 0x1234,
    reservedFlag: false,
    dontFragment: false,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol,
    source: src,
    destination: dst,
    ...extra,
    options,
    totalLength: 20 + options.length + payload.length,
  };
  return concat(ipv4.encode(h), payload);
};
const v6 = (
  src: string,
  dst: string,
  nextHeader: number,
  payload: Uint8Array,
  extensions: ipv6.Ipv6Extension[] = [],
): Uint8Array => {
  const h: ipv6.Ipv6Header = {
    trafficClass: 0,
    flowLabel: 0xbeef,
    payloadLength: 0,
    nextHeader,
    hopLimit: 61,
    source: src,
    destination: dst,
    extensions,
  };
  const hdrLen = ipv6.encodingLength(h);
  return concat(ipv6.encode({ ...h, payloadLength: hdrLen - 40 + payload.length }), payload);
};
/** A TCP segment with its checksum filled in for the given addresses. */
const tcpSeg = (
  src: string,
  dst: string,
  sport: number,
  dport: number,
  flags: number,
  payload: Uint8Array,
  options = new Uint8Array(0),
): Uint8Array => {
  const seg = concat(
    tcp.encode({
      sourcePort: sport,
      destinationPort: dport,
      sequence: 1000,
      acknowledgment: flags & tcp.TcpFlag.ACK ? 2000 : 0,
      reserved: 0,
      flags,
      window: 64240,
      checksum: 0,
      urgentPointer: 0,
      options,
    }),
    payload,
  );
  const c = transportChecksum(parseAddress(src), parseAddress(dst), 6, seg);
  seg[16] = c >>> 8;
  seg[17] = c & 0xff;
  return seg;
};
const udpDgram = (
  src: string,
  dst: string,
  sport: number,
  dport: number,
  payload: Uint8Array,
): Uint8Array => {
  const d = concat(
    udp.encode({ sourcePort: sport, destinationPort: dport, length: 8 + payload.length, checksum: 0 }),
    payload,
  );
  const c = transportChecksum(parseAddress(src), parseAddress(dst), 17, d);
  d[6] = c >>> 8;
  d[7] = c & 0xff;
  return d;
};
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A mix of what the real traces lack: VLAN and QinQ tags, IPv6 extension headers, fragments, ICMPv6, GENEVE, IPv4 options, padding. */
function syntheticPackets(): Uint8Array[] {
  const get = text('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n');
  const innerTcp = v4(
    '172.16.0.5',
    '172.16.0.9',
    6,
    tcpSeg(
      '172.16.0.5',
      '172.16.0.9',
      40000,
      443,
      tcp.TcpFlag.SYN,
      new Uint8Array(0),
      Uint8Array.of(2, 4, 5, 0xb4, 1, 1, 4, 2),
    ),
  );
  const gwlbOptions = geneve.encodeGeneveOptions([
    { optionClass: 0x0108, type: 1, reserved: 0, data: new Uint8Array(8).fill(7) },
    { optionClass: 0x0108, type: 3, reserved: 0, data: Uint8Array.of(0, 0, 0, 42) },
  ]);
  const gen = (inner: Uint8Array, protocolType: number, vni: number): Uint8Array =>
    concat(
      geneve.encode({
        version: 0,
        oam: false,
        critical: false,
        reserved1: 0,
        reserved2: 0,
        protocolType,
        vni,
        options: gwlbOptions,
      }),
      inner,
    );
  const innerEth = concat(
    eth(0x0800),
    v4('192.168.7.1', '192.168.7.2', 17, udpDgram('192.168.7.1', '192.168.7.2', 5353, 53, text('q'))),
  );
  const echo6 = (src: string, dst: string): Uint8Array => {
    const m = icmpv6.encode({
      type: 128,
      code: 0,
      checksum: 0,
      rest: Uint8Array.of(0, 1, 0, 7),
      data: text('ping6'),
    });
    const c = icmpv6.icmpv6Checksum(parseAddress(src), parseAddress(dst), m);
    m[2] = c >>> 8;
    m[3] = c & 0xff;
    return m;
  };
  return [
    concat(
      eth(0x0800),
      v4(
        '10.0.0.1',
        '10.0.0.2',
        6,
        tcpSeg('10.0.0.1', '10.0.0.2', 51000, 80, tcp.TcpFlag.PSH | tcp.TcpFlag.ACK, get),
      ),
    ),
    concat(
      eth(0x0800, [{ tpid: 0x8100, pcp: 3, dei: false, vid: 100 }]),
      v4('10.1.0.1', '10.1.0.53', 17, udpDgram('10.1.0.1', '10.1.0.53', 33000, 53, text('dns?'))),
    ),
    concat(
      eth(0x86dd, [
        { tpid: 0x88a8, pcp: 0, dei: false, vid: 200 },
        { tpid: 0x8100, pcp: 5, dei: true, vid: 300 },
      ]),
      v6(
        '2001:db8::1',
        '2001:db8::2',
        6,
        tcpSeg(
          '2001:db8::1',
          '2001:db8::2',
          443,
          51001,
          tcp.TcpFlag.SYN | tcp.TcpFlag.ACK,
          new Uint8Array(0),
        ),
      ),
    ),
    // IPv6 with hop-by-hop (router alert), destination options, AH and a first fragment, carrying UDP.
    concat(
      eth(0x86dd),
      v6(
        '2001:db8:1::10',
        'ff02::16',
        0,
        udpDgram('2001:db8:1::10', 'ff02::16', 5000, 6000, new Uint8Array(24).fill(1)),
        [
          { type: 'hop-by-hop', nextHeader: 60, options: Uint8Array.of(5, 2, 0, 0, 1, 0) },
          { type: 'destination-options', nextHeader: 51, options: Uint8Array.of(1, 4, 0, 0, 0, 0) },
          {
            type: 'ah',
            nextHeader: 44,
            reserved: 0,
            spi: 0x100,
            sequence: 1,
            icv: new Uint8Array(12).fill(0xaa),
          },
          {
            type: 'fragment',
            nextHeader: 17,
            reserved: 0,
            reservedBits: 0,
            fragmentOffset: 0,
            moreFragments: true,
            identification: 77,
          },
        ],
      ),
    ),
    // A later IPv6 fragment: no transport header in it.
    concat(
      eth(0x86dd),
      v6('2001:db8:1::10', 'ff02::16', 44, new Uint8Array(16).fill(2), [
        {
          type: 'fragment',
          nextHeader: 17,
          reserved: 0,
          reservedBits: 0,
          fragmentOffset: 32,
          moreFragments: false,
          identification: 77,
        },
      ]),
    ),
    // IPv6 routing header (segment routing, type 4) before ICMPv6.
    concat(
      eth(0x86dd),
      v6('2001:db8::a', '2001:db8::b', 43, echo6('2001:db8::a', '2001:db8::b'), [
        {
          type: 'routing',
          nextHeader: 58,
          routingType: 4,
          segmentsLeft: 0,
          data: concat(Uint8Array.of(0, 0, 0, 0), parseAddress('2001:db8::b')),
        },
      ]),
    ),
    concat(eth(0x86dd), v6('fe80::1', 'fe80::2', 58, echo6('fe80::1', 'fe80::2'))),
    // IPv4 first and later fragments.
    concat(
      eth(0x0800),
      v4(
        '10.2.0.1',
        '10.2.0.2',
        17,
        udpDgram('10.2.0.1', '10.2.0.2', 7000, 7001, new Uint8Array(1000)).subarray(0, 512),
        { moreFragments: true, identification: 5 },
      ),
    ),
    concat(
      eth(0x0800),
      v4('10.2.0.1', '10.2.0.2', 17, new Uint8Array(496), { fragmentOffset: 512, identification: 5 }),
    ),
    // IPv4 with a router alert option, carrying an ICMP echo.
    concat(
      eth(0x0800),
      v4(
        '10.3.0.1',
        '10.3.0.2',
        1,
        icmp.encode({ type: 8, code: 0, rest: Uint8Array.of(0, 9, 0, 1), data: text('abcdefgh') }),
        { options: Uint8Array.of(0x94, 4, 0, 0), ttl: 1 },
      ),
    ),
    // A short frame padded to 60 bytes: the padding is not UDP payload.
    concat(
      eth(0x0800),
      v4('10.4.0.1', '10.4.0.2', 17, udpDgram('10.4.0.1', '10.4.0.2', 9, 9, text('x'))),
      new Uint8Array(60 - 14 - 29),
    ),
    // GENEVE as AWS Gateway Load Balancer sends it: raw IPv4 inside, TLV options.
    concat(
      eth(0x0800),
      v4(
        '10.5.0.1',
        '10.5.0.2',
        17,
        udpDgram('10.5.0.1', '10.5.0.2', 41000, 6081, gen(innerTcp, 0x0800, 0x123456)),
      ),
    ),
    concat(
      eth(0x0800),
      v4('10.5.0.1', '10.5.0.2', 17, udpDgram('10.5.0.1', '10.5.0.2', 41001, 6081, gen(innerEth, 0x6558, 7))),
    ),
    // VXLAN carrying a VLAN-tagged inner frame.
    concat(
      eth(0x0800),
      v4(
        '10.6.0.1',
        '10.6.0.2',
        17,
        udpDgram(
          '10.6.0.1',
          '10.6.0.2',
          50000,
          4789,
          concat(
            vxlan.encode(vxlan.vxlanHeaderFor(4242)),
            concat(eth(0x0800, [{ tpid: 0x8100, pcp: 0, dei: false, vid: 9 }]), innerTcp),
          ),
        ),
      ),
    ),
    // ARP: not IP.
    concat(eth(0x0806), Uint8Array.of(0, 1, 8, 0, 6, 4, 0, 1), new Uint8Array(20)),
  ];
}

describe.skipIf(!haveTshark)('files we write, read back by tshark', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'shadownet-pcap-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const packets = syntheticPackets();
  const records = packets.map((data, i) => ({
    seconds: 1_700_000_000 + i,
    nanoseconds: 123_456_789 + i,
    data,
    originalLength: data.length + (i === 0 ? 100 : 0),
  }));
  const files: { name: string; bytes: () => Uint8Array; nanos: (ns: number) => number }[] = [
    {
      name: 'le-micro.pcap',
      bytes: () => encodePcap(records, { littleEndian: true }),
      nanos: (ns) => Math.floor(ns / 1000) * 1000,
    },
    {
      name: 'be-micro.pcap',
      bytes: () => encodePcap(records, { littleEndian: false }),
      nanos: (ns) => Math.floor(ns / 1000) * 1000,
    },
    {
      name: 'be-nano.pcap',
      bytes: () => encodePcap(records, { littleEndian: false, nanosecond: true }),
      nanos: (ns) => ns,
    },
    {
      name: 'le-nano.pcap',
      bytes: () => encodePcap(records, { littleEndian: true, nanosecond: true }),
      nanos: (ns) => ns,
    },
    {
      name: 'le-ns.pcapng',
      bytes: () => encodePcapng(records, { interfaces: [{ tsresol: 9, name: 'mirror0' }] }),
      nanos: (ns) => ns,
    },
    {
      name: 'be-ms.pcapng',
      bytes: () => encodePcapng(records, { littleEndian: false, interfaces: [{ tsresol: 3 }] }),
      nanos: (ns) => Math.floor(ns / 1e6) * 1e6,
    },
    // 2^-20 s units: 1/1048576 s, a binary resolution.
    {
      name: 'le-bin20.pcapng',
      bytes: () => encodePcapng(records, { interfaces: [{ tsresol: 0x80 | 20 }] }),
      nanos: (ns) => Math.floor((Math.floor((ns * 2 ** 20) / 1e9) * 1e9) / 2 ** 20),
    },
  ];

  for (const f of files) {
    it(`${f.name}: same packets, lengths and timestamps`, () => {
      const path = join(dir, f.name);
      writeFileSync(path, f.bytes());
      const rows = tsharkFields(path, ['frame.time_epoch', 'frame.cap_len', ...FIELDS], {
        preferences: PREFS,
      });
      expect(rows.length).toBe(packets.length);
      rows.forEach((cols, i) => {
        const ns = f.nanos(records[i].nanoseconds);
        expect(cols[0]).toBe(`${records[i].seconds}.${String(ns).padStart(9, '0')}`);
        expect(cols[1]).toBe(String(packets[i].length));
        const row = Object.fromEntries(FIELDS.map((name, k) => [name, cols[k + 2] ?? ''])) as Row;
        expect({ i, ...codecRow(packets[i], 1, records[i].originalLength) }).toEqual({ i, ...row });
        expect({ i, ...dissectRow(packets[i], 1, records[i].originalLength) }).toEqual({
          i,
          ...forDissect(row),
        });
      });
      // tshark rewrites the file as classic pcap; the bytes it read are the bytes we wrote.
      const copy = join(dir, `${f.name}.copy.pcap`);
      execFileSync('tshark', ['-r', path, '-F', 'pcap', '-w', copy], { stdio: 'ignore' });
      expect(readPcap(readFileSync(copy)).records.map((r) => [...r.data])).toEqual(
        packets.map((p) => [...p]),
      );
      if (f.name.endsWith('.pcapng'))
        expect(readPcapng(readFileSync(path)).records.map((r) => r.nanoseconds)).toEqual(
          records.map((r) => f.nanos(r.nanoseconds)),
        );
    });
  }
});

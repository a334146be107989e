/**
 * Just enough link/IP/TCP parsing to pull TCP payloads out of real captures
 * for tests: Ethernet (with 802.1Q/802.1ad tags), Linux SLL and SLL2, raw IP
 * and BSD loopback; IPv4 and IPv6 (skipping the common extension headers).
 */
import { LinkType, pcapRecords, decodePcapHeader } from '../../src/wire/pcap.js';
import { formatAddress } from '../../src/core/prefix.js';

export interface TcpSegment {
  /** 1-based packet number, as tcpdump prints it. */
  readonly packet: number;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly flags: number;
  readonly payload: Uint8Array;
}

const u16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];

/** Offset and ethertype of the network layer in a frame of `linkType`, or null. */
function networkLayer(linkType: number, f: Uint8Array): { off: number; etherType: number } | null {
  switch (linkType) {
    case LinkType.ETHERNET: {
      if (f.length < 14) return null;
      let off = 12;
      let et = u16(f, off);
      while ((et === 0x8100 || et === 0x88a8) && off + 6 <= f.length) {
        off += 4;
        et = u16(f, off);
      }
      return { off: off + 2, etherType: et };
    }
    case LinkType.LINUX_SLL:
      return f.length < 16 ? null : { off: 16, etherType: u16(f, 14) };
    case LinkType.LINUX_SLL2:
      return f.length < 20 ? null : { off: 20, etherType: u16(f, 0) };
    case LinkType.RAW:
      return f.length < 1 ? null : { off: 0, etherType: f[0] >> 4 === 6 ? 0x86dd : 0x0800 };
    case LinkType.NULL: {
      if (f.length < 4) return null;
      const fam = f[0] || f[3];
      return { off: 4, etherType: fam === 2 ? 0x0800 : 0x86dd };
    }
    default:
      return null;
  }
}

/** Parse one frame; null when it is not TCP over IP. */
export function tcpOf(linkType: number, frame: Uint8Array, packet = 0): TcpSegment | null {
  const nl = networkLayer(linkType, frame);
  if (!nl) return null;
  let o = nl.off;
  let src: string;
  let dst: string;
  let end: number;
  if (nl.etherType === 0x0800) {
    if (o + 20 > frame.length) return null;
    const ihl = (frame[o] & 0x0f) * 4;
    if (frame[o + 9] !== 6) return null;
    end = Math.min(frame.length, o + u16(frame, o + 2));
    src = formatAddress(frame, o + 12, 4);
    dst = formatAddress(frame, o + 16, 4);
    o += ihl;
  } else if (nl.etherType === 0x86dd) {
    if (o + 40 > frame.length) return null;
    let next = frame[o + 6];
    end = Math.min(frame.length, o + 40 + u16(frame, o + 4));
    src = formatAddress(frame, o + 8, 16);
    dst = formatAddress(frame, o + 24, 16);
    o += 40;
    while (next === 0 || next === 43 || next === 60) {
      if (o + 2 > end) return null;
      next = frame[o];
      o += (frame[o + 1] + 1) * 8;
    }
    if (next !== 6) return null;
  } else return null;
  if (o + 20 > end) return null;
  const dataOff = (frame[o + 12] >> 4) * 4;
  return {
    packet,
    src,
    dst,
    srcPort: u16(frame, o),
    dstPort: u16(frame, o + 2),
    seq: ((frame[o + 4] << 24) | (frame[o + 5] << 16) | (frame[o + 6] << 8) | frame[o + 7]) >>> 0,
    flags: frame[o + 13],
    payload: frame.subarray(Math.min(end, o + dataOff), end),
  };
}

/** Every TCP segment of a pcap file, in capture order. */
export function tcpSegments(file: Uint8Array): TcpSegment[] {
  const header = decodePcapHeader(file);
  const out: TcpSegment[] = [];
  let n = 0;
  for (const r of pcapRecords(file, header)) {
    n++;
    const s = tcpOf(header.linkType, r.data, n);
    if (s) out.push(s);
  }
  return out;
}

/**
 * Hand-built Ethernet/IPv4/IPv6 frames for tests (independent of the
 * project's codecs, so a codec bug cannot hide itself).
 */
import { parseAddress } from '../../src/core/index.js';

export interface FrameSpec {
  src: string;
  dst: string;
  protocol?: 'tcp' | 'udp' | 'icmp';
  srcPort?: number;
  dstPort?: number;
  /** Payload bytes after the transport header. */
  payload?: number;
  tcpFlags?: number;
}

function checksum(b: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An Ethernet II frame carrying IPv4 or IPv6 (by the address family) and TCP/UDP/ICMP. */
export function frame(spec: FrameSpec): Uint8Array {
  const src = parseAddress(spec.src);
  const dst = parseAddress(spec.dst);
  const v6 = src.length === 16;
  const proto = spec.protocol ?? 'tcp';
  const l4 = proto === 'tcp' ? 20 : 8;
  const payload = spec.payload ?? 0;
  const ipHeader = v6 ? 40 : 20;
  const total = 14 + ipHeader + l4 + payload;
  const b = new Uint8Array(total);
  b.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1], 0);
  b[12] = v6 ? 0x86 : 0x08;
  b[13] = v6 ? 0xdd : 0x00;
  const ip = 14;
  const protoNum = proto === 'tcp' ? 6 : proto === 'udp' ? 17 : v6 ? 58 : 1;
  if (v6) {
    b[ip] = 0x60;
    const plen = l4 + payload;
    b[ip + 4] = plen >> 8;
    b[ip + 5] = plen & 0xff;
    b[ip + 6] = protoNum;
    b[ip + 7] = 64;
    b.set(src, ip + 8);
    b.set(dst, ip + 24);
  } else {
    b[ip] = 0x45;
    const tl = 20 + l4 + payload;
    b[ip + 2] = tl >> 8;
    b[ip + 3] = tl & 0xff;
    b[ip + 8] = 64;
    b[ip + 9] = protoNum;
    b.set(src, ip + 12);
    b.set(dst, ip + 16);
    const c = checksum(b, ip, ip + 20);
    b[ip + 10] = c >> 8;
    b[ip + 11] = c & 0xff;
  }
  const t = ip + ipHeader;
  if (proto === 'icmp') {
    b[t] = 8;
  } else {
    const sp = spec.srcPort ?? 40000;
    const dp = spec.dstPort ?? 80;
    b[t] = sp >> 8;
    b[t + 1] = sp & 0xff;
    b[t + 2] = dp >> 8;
    b[t + 3] = dp & 0xff;
    if (proto === 'tcp') {
      b[t + 12] = 5 << 4;
      b[t + 13] = spec.tcpFlags ?? 0x18;
    } else {
      const ul = 8 + payload;
      b[t + 4] = ul >> 8;
      b[t + 5] = ul & 0xff;
    }
  }
  return b;
}

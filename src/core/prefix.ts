import { InvalidAddressError, InvalidPrefixError } from './errors.js';

/** Address family identifiers as BGP (RFC 4760) numbers them. */
export const Afi = { IPV4: 1, IPV6: 2 } as const;
export type Afi = (typeof Afi)[keyof typeof Afi];

/**
 * An IP prefix: `address` holds the network-order address bytes (4 for IPv4,
 * 16 for IPv6) with every bit past `length` zero.
 */
export interface Prefix {
  readonly afi: Afi;
  readonly length: number;
  readonly address: Uint8Array;
}

export function addressLength(afi: Afi): 4 | 16 {
  return afi === Afi.IPV4 ? 4 : 16;
}

export function maxPrefixLength(afi: Afi): 32 | 128 {
  return afi === Afi.IPV4 ? 32 : 128;
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseIpv4Into(s: string, out: Uint8Array, off: number): boolean {
  const m = IPV4_RE.exec(s);
  if (!m) return false;
  for (let i = 0; i < 4; i++) {
    const part = m[i + 1];
    const v = Number(part);
    if (v > 255 || (part.length > 1 && part[0] === '0')) return false;
    out[off + i] = v;
  }
  return true;
}

/** Parse a textual IPv4 or IPv6 address into 4 or 16 bytes, or undefined. */
export function tryParseAddress(s: string): Uint8Array | undefined {
  if (s.includes(':')) return tryParseIpv6(s);
  const out = new Uint8Array(4);
  return parseIpv4Into(s, out, 0) ? out : undefined;
}

/** Parse a textual IPv4 or IPv6 address; throws {@link InvalidAddressError}. */
export function parseAddress(s: string): Uint8Array {
  const a = tryParseAddress(s);
  if (!a) throw new InvalidAddressError(s);
  return a;
}

function tryParseIpv6(s: string): Uint8Array | undefined {
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const out = new Uint8Array(16);
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return undefined;
  const parseGroups = (part: string, allowV4: boolean): number[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    const words: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (allowV4 && i === groups.length - 1 && g.includes('.')) {
        const v4 = new Uint8Array(4);
        if (!parseIpv4Into(g, v4, 0)) return undefined;
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      words.push(parseInt(g, 16));
    }
    return words;
  };
  let words: number[];
  if (dbl >= 0) {
    const head = parseGroups(s.slice(0, dbl), false);
    const tail = parseGroups(s.slice(dbl + 2), true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = parseGroups(s, true);
    if (!all || all.length !== 8) return undefined;
    words = all;
  }
  for (let i = 0; i < 8; i++) {
    out[i * 2] = words[i] >> 8;
    out[i * 2 + 1] = words[i] & 0xff;
  }
  return out;
}

/**
 * Format 4 or 16 address bytes. IPv6 follows RFC 5952 and prints embedded
 * IPv4 the way glibc's inet_ntop does, so output can be compared with tools
 * such as bgpdump byte for byte.
 */
export function formatAddress(b: Uint8Array, offset = 0, len: 4 | 16 = b.length - offset === 4 ? 4 : 16): string {
  if (len === 4) return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[offset + i * 2] << 8) | b[offset + i * 2 + 1]);
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (w[i] === 0) {
      if (curBase < 0) {
        curBase = i;
        curLen = 1;
      } else curLen++;
    } else if (curBase >= 0) {
      if (curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase >= 0 && curLen > bestLen) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    // Embedded IPv4 (::a.b.c.d or ::ffff:a.b.c.d), as inet_ntop prints it.
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      out += `${b[offset + 12]}.${b[offset + 13]}.${b[offset + 14]}.${b[offset + 15]}`;
      break;
    }
    out += w[i].toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** Zero every bit past `length` (in place) and return the array. */
export function maskAddress(addr: Uint8Array, length: number): Uint8Array {
  for (let i = 0; i < addr.length; i++) {
    const bits = length - i * 8;
    if (bits >= 8) continue;
    addr[i] = bits <= 0 ? 0 : addr[i] & ((0xff << (8 - bits)) & 0xff);
  }
  return addr;
}

/**
 * Parse `a.b.c.d/n` or `x::/n`. A bare address is a host prefix. With
 * `strict` (the default) host bits set past the length are an error, as an
 * operator would want to be told; otherwise they are masked off.
 */
export function parsePrefix(s: string, strict = true): Prefix {
  const slash = s.indexOf('/');
  const addrText = slash >= 0 ? s.slice(0, slash) : s;
  const address = tryParseAddress(addrText);
  if (!address) throw new InvalidPrefixError(s, 'address part is not an IPv4 or IPv6 address');
  const afi: Afi = address.length === 4 ? Afi.IPV4 : Afi.IPV6;
  const max = maxPrefixLength(afi);
  let length = max as number;
  if (slash >= 0) {
    const lt = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lt) || Number(lt) > max) throw new InvalidPrefixError(s, `length must be 0..${max}`);
    length = Number(lt);
  }
  const masked = maskAddress(address.slice(), length);
  if (strict && !bytesEqual(masked, address)) {
    throw new InvalidPrefixError(s, `host bits are set past /${length} (did you mean ${formatAddress(masked)}/${length}?)`);
  }
  return { afi, length, address: masked };
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.address)}/${p.length}`;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when `inner` lies within `outer` (same family, at least as long, same leading bits). */
export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  if (outer.afi !== inner.afi || inner.length < outer.length) return false;
  return addressInPrefix(outer, inner.address);
}

/** True when `address` (4 or 16 bytes) lies within `p`. */
export function addressInPrefix(p: Prefix, address: Uint8Array): boolean {
  if (address.length !== p.address.length) return false;
  const full = p.length >> 3;
  for (let i = 0; i < full; i++) if (address[i] !== p.address[i]) return false;
  const rem = p.length & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (address[full] & mask) === p.address[full];
}

/** IPv4 address bytes as an unsigned 32-bit number. */
export function ipv4ToNumber(b: Uint8Array, offset = 0): number {
  return ((b[offset] << 24) | (b[offset + 1] << 16) | (b[offset + 2] << 8) | b[offset + 3]) >>> 0;
}

export function numberToIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

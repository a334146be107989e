/**
 * NLRI prefix runs (RFC 4271 §4.3, RFC 4760 §5, RFC 7911 §3 path identifiers).
 * This is the hot path of UPDATE decoding: one pass validates and counts, a
 * second fills one address store that every prefix views a slice of.
 */
import { fail, readU32, writeU32 } from './header.js';
import { NotificationCode, UpdateSubcode } from './errors.js';
import type { NlriPrefix } from './types.js';
import { Afi } from '../../core/prefix.js';
import type { Prefix } from '../../core/prefix.js';

/** Where an NLRI run sits, for the error a malformed run raises. */
export interface NlriErrorSite {
  readonly field: string;
  readonly subcode: number;
}

const NLRI_FIELD: NlriErrorSite = { field: 'update.nlri', subcode: UpdateSubcode.INVALID_NETWORK_FIELD };

/**
 * Decode the prefixes in [offset, end). A malformed run cannot be resynchronised,
 * so it resets the session (RFC 7606 §5.3).
 */
export function decodeNlriRun(
  buf: Uint8Array,
  offset: number,
  end: number,
  afi: 1 | 2,
  addPath: boolean,
  site: NlriErrorSite = NLRI_FIELD,
): NlriPrefix[] {
  const alen = afi === Afi.IPV4 ? 4 : 16;
  const maxBits = alen * 8;
  const bad = (what: string, at: number): never =>
    fail(what, NotificationCode.UPDATE_MESSAGE, site.subcode, site.field, at);
  let n = 0;
  let o = offset;
  while (o < end) {
    if (addPath) {
      if (o + 4 > end) bad('path identifier truncated', o);
      o += 4;
    }
    if (o >= end) bad('prefix length missing after path identifier', o);
    const bits = buf[o];
    // RFC 7606 §5.3: a length longer than the address family allows is a malformed NLRI.
    if (bits > maxBits) bad(`prefix length ${bits} exceeds ${maxBits}`, o);
    const next = o + 1 + ((bits + 7) >> 3);
    // RFC 7606 §5.3: a prefix that overruns the field is a malformed NLRI.
    if (next > end) bad(`prefix /${bits} overruns the field`, o);
    o = next;
    n++;
  }
  const out = new Array<NlriPrefix>(n);
  if (n === 0) return out;
  const store = new Uint8Array(n * alen);
  o = offset;
  for (let i = 0; i < n; i++) {
    let pathId = 0;
    if (addPath) {
      pathId = readU32(buf, o);
      o += 4;
    }
    const bits = buf[o++];
    const bytes = (bits + 7) >> 3;
    const base = i * alen;
    for (let j = 0; j < bytes; j++) store[base + j] = buf[o + j];
    // Prefix addresses carry no bits past the length (core Prefix contract).
    if (bits & 7) store[base + bytes - 1] &= (0xff << (8 - (bits & 7))) & 0xff;
    o += bytes;
    const address = store.subarray(base, base + alen);
    out[i] = addPath ? { afi, length: bits, address, pathId } : { afi, length: bits, address };
  }
  return out;
}

/** Bytes a run of prefixes takes on the wire. */
export function nlriRunLength(prefixes: readonly NlriPrefix[], addPath: boolean): number {
  let n = 0;
  for (const p of prefixes) n += (addPath ? 5 : 1) + ((p.length + 7) >> 3);
  return n;
}

/** Write a run of prefixes at `offset`; returns the bytes written. */
export function encodeNlriRun(prefixes: readonly NlriPrefix[], buf: Uint8Array, offset: number, addPath: boolean): number {
  let o = offset;
  for (const p of prefixes) {
    if (addPath) {
      writeU32(buf, o, p.pathId ?? 0);
      o += 4;
    }
    buf[o++] = p.length;
    const bytes = (p.length + 7) >> 3;
    for (let j = 0; j < bytes; j++) buf[o + j] = p.address[j];
    o += bytes;
  }
  return o - offset;
}

/** True when a run should carry path identifiers: negotiated, or any prefix has one. */
export function runHasPathIds(prefixes: readonly NlriPrefix[], negotiated: boolean): boolean {
  if (negotiated) return true;
  for (const p of prefixes) if (p.pathId !== undefined) return true;
  return false;
}

/**
 * A number that identifies an IPv4 prefix (address and length), cheap to use
 * as a Map key on the hot path: address × 64 + length, below 2^38.
 */
export function ipv4PrefixKey(p: Prefix): number {
  const a = p.address;
  return (((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0) * 64 + p.length;
}

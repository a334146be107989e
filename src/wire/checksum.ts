/**
 * The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-headers that TCP,
 * UDP and ICMPv6 checksums cover (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1).
 * Pure functions over byte ranges; they allocate nothing.
 */

/**
 * One's-complement sum of `buf[offset, offset + length)` as 16-bit big-endian
 * words, folded to 16 bits and added to `initial`. An odd final byte is
 * padded with zero (RFC 1071 §4.1). Not complemented: chain partial sums, then
 * call {@link finishChecksum}.
 */
export function onesComplementSum(
  buf: Uint8Array,
  offset = 0,
  length = buf.length - offset,
  initial = 0,
): number {
  let sum = initial;
  const end = offset + length;
  let i = offset;
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Complement a folded sum into the value written in a checksum field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The Internet checksum of a byte range (the value to write in the field while it holds zero). */
export function internetChecksum(
  buf: Uint8Array,
  offset = 0,
  length = buf.length - offset,
  initial = 0,
): number {
  return finishChecksum(onesComplementSum(buf, offset, length, initial));
}

/**
 * Partial sum of the pseudo-header for an upper-layer checksum: source and
 * destination addresses (4 bytes each for IPv4, 16 for IPv6), the protocol
 * (next header) and the upper-layer length. The two layouts sum the same
 * fields, so one function serves both.
 */
export function pseudoHeaderSum(
  source: Uint8Array,
  destination: Uint8Array,
  protocol: number,
  upperLayerLength: number,
  sourceOffset = 0,
  destinationOffset = 0,
  addressLength: 4 | 16 = source.length - sourceOffset === 16 ? 16 : 4,
): number {
  let sum = onesComplementSum(source, sourceOffset, addressLength);
  sum = onesComplementSum(destination, destinationOffset, addressLength, sum);
  // RFC 8200 §8.1: the length is 32 bits for IPv6; its high half is zero below 64 KiB.
  sum += (upperLayerLength >>> 16) + (upperLayerLength & 0xffff) + protocol;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** IP protocol numbers whose checksum covers a pseudo-header. */
const UDP = 17;

/**
 * The checksum of a TCP, UDP or ICMPv6 segment `segment[offset, offset+length)`
 * (checksum field included, as zero or as found). For UDP a computed zero is
 * sent as 0xffff (RFC 768). Addresses are 4 or 16 bytes.
 */
export function transportChecksum(
  source: Uint8Array,
  destination: Uint8Array,
  protocol: number,
  segment: Uint8Array,
  offset = 0,
  length = segment.length - offset,
): number {
  const sum = onesComplementSum(
    segment,
    offset,
    length,
    pseudoHeaderSum(source, destination, protocol, length),
  );
  const c = finishChecksum(sum);
  return protocol === UDP && c === 0 ? 0xffff : c;
}

/**
 * True when the segment's stored checksum is right: the sum over the pseudo-
 * header and the segment (stored checksum included) folds to 0xffff. A UDP
 * checksum of zero means "not computed" over IPv4 and also verifies.
 */
export function verifyTransportChecksum(
  source: Uint8Array,
  destination: Uint8Array,
  protocol: number,
  segment: Uint8Array,
  offset = 0,
  length = segment.length - offset,
): boolean {
  if (
    protocol === UDP &&
    source.length === 4 &&
    length >= 8 &&
    segment[offset + 6] === 0 &&
    segment[offset + 7] === 0
  )
    return true;
  return (
    onesComplementSum(segment, offset, length, pseudoHeaderSum(source, destination, protocol, length)) ===
    0xffff
  );
}

/** Write the 16-bit checksum `value` big-endian at `buf[offset]`. */
export function writeChecksum(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 8;
  buf[offset + 1] = value & 0xff;
}

/**
 * Appends sacrificial routes to an MRT TABLE_DUMP_V2 file (RFC 6396 §4.3).
 * `gobgp mrt inject` (3.10) can exit before its last few hundred routes
 * reach gobgpd; routes appended after the real table absorb that loss, so
 * every route of the table itself arrives. They sit in 198.18.0.0/15
 * (RFC 2544 benchmarking space), as /25s: at most 1,024.
 */
import { appendFileSync } from 'node:fs';

export const PADDING_RANGE = '198.18.0.0/15';

export function appendPadding(path, { count = 1024, peerIndex = 0, asn = 64512, timestamp = Math.floor(Date.UTC(2026, 0, 5) / 1000), firstSequence = 1 << 30 } = {}) {
  if (count > 1024) throw new RangeError('at most 1024 padding routes fit in 198.18.0.0/15 as /25s');
  // ORIGIN igp, AS_PATH [asn] (4-octet in TABLE_DUMP_V2), NEXT_HOP 198.51.100.250.
  const attrs = Buffer.from([0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, asn >>> 24, (asn >>> 16) & 0xff, (asn >>> 8) & 0xff, asn & 0xff, 0x40, 3, 4, 198, 51, 100, 250]);
  const records = [];
  for (let i = 0; i < count; i++) {
    const third = i >> 1;
    const prefix = [25, 198, 18 + (third >> 8), third & 0xff, (i & 1) << 7];
    const body = Buffer.alloc(4 + prefix.length + 2 + 2 + 4 + 2 + attrs.length);
    let o = body.writeUInt32BE((firstSequence + i) >>> 0, 0);
    for (const b of prefix) o = body.writeUInt8(b, o);
    o = body.writeUInt16BE(1, o);
    o = body.writeUInt16BE(peerIndex, o);
    o = body.writeUInt32BE(timestamp, o);
    o = body.writeUInt16BE(attrs.length, o);
    attrs.copy(body, o);
    const header = Buffer.alloc(12);
    header.writeUInt32BE(timestamp, 0);
    header.writeUInt16BE(13, 4); // TABLE_DUMP_V2
    header.writeUInt16BE(2, 6); // RIB_IPV4_UNICAST
    header.writeUInt32BE(body.length, 8);
    records.push(header, body);
  }
  appendFileSync(path, Buffer.concat(records));
  return count;
}

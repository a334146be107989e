/**
 * DNS messages (RFC 1035 §4): header, questions and resource records, with
 * typed data for A, AAAA, CNAME, MX, TXT and the EDNS(0) OPT pseudo-record
 * (RFC 6891); every other type is kept as raw bytes and re-encodes
 * byte-exact. Decoding follows compression pointers (RFC 1035 §4.1.4) and
 * rejects pointer loops; encoding writes names uncompressed, which every
 * reader accepts.
 *
 * Names are text in master-file form (RFC 1035 §5.1): labels joined by ".",
 * with "." and "\" inside a label and non-printable bytes escaped as `\.`,
 * `\\` and `\DDD`. The root is "" (or ".").
 */
import { ShadownetError } from '../core/errors.js';
import { formatAddress, parseAddress } from '../core/prefix.js';

/** Resource record types the project meets (IANA "DNS Parameters"). */
export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  HTTPS: 65,
  ANY: 255,
} as const;
export type DnsType = (typeof DnsType)[keyof typeof DnsType];

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DnsType).map(([k, v]) => [v, k]));

/** `A`, `AAAA`, …, or `UNKNOWN_<n>`. */
export function dnsTypeName(code: number): string {
  return TYPE_NAMES[code] ?? `UNKNOWN_${code}`;
}

export const DnsClass = { IN: 1, CH: 3, ANY: 255 } as const;
export type DnsClass = (typeof DnsClass)[keyof typeof DnsClass];

export const DnsRcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type DnsRcode = (typeof DnsRcode)[keyof typeof DnsRcode];

/** EDNS(0) option codes (IANA). */
export const EdnsOption = { COOKIE: 10, PADDING: 12 } as const;

export const DnsErrorCode = {
  TRUNCATED: 'SHADOWNET_ERR_DNS_TRUNCATED',
  DECODE: 'SHADOWNET_ERR_DNS_DECODE',
  ENCODE: 'SHADOWNET_ERR_DNS_ENCODE',
} as const;
export type DnsErrorCode = (typeof DnsErrorCode)[keyof typeof DnsErrorCode];

/** Malformed DNS bytes or an unencodable message; names the field and its offset. */
export class DnsError extends ShadownetError {
  constructor(
    code: DnsErrorCode,
    message: string,
    readonly field: string,
    readonly offset: number,
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`);
    this.name = 'DnsError';
  }
}

export interface DnsFlags {
  /** true in a response. */
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  /** The reserved Z bit (RFC 1035 §4.1.1), kept as found. */
  readonly z: boolean;
  /** Authentic data, checking disabled (RFC 4035 §3.2). */
  readonly ad: boolean;
  readonly cd: boolean;
  readonly rcode: number;
}

export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface EdnsOptionValue {
  readonly code: number;
  readonly data: Uint8Array;
}

export type DnsRecordData =
  | { readonly type: 'A'; readonly address: string }
  | { readonly type: 'AAAA'; readonly address: string }
  | { readonly type: 'CNAME'; readonly target: string }
  | { readonly type: 'MX'; readonly preference: number; readonly exchange: string }
  /** Each character-string is at most 255 bytes (RFC 1035 §3.3.14). */
  | { readonly type: 'TXT'; readonly strings: readonly Uint8Array[] }
  /** EDNS(0) options (RFC 6891 §6.1.2); the record's class is the UDP payload size, its TTL the extended flags. */
  | { readonly type: 'OPT'; readonly options: readonly EdnsOptionValue[] }
  | { readonly type: 'unknown'; readonly code: number; readonly bytes: Uint8Array };

export interface DnsRecord {
  readonly name: string;
  readonly class: number;
  readonly ttl: number;
  readonly data: DnsRecordData;
}

export interface DnsMessage {
  readonly id: number;
  readonly flags: DnsFlags;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  readonly additionals: readonly DnsRecord[];
}

const HEADER = 12;
const MAX_NAME = 255;
const MAX_LABEL = 63;

/** Flags of a plain recursive query. */
export const QUERY_FLAGS: DnsFlags = {
  qr: false,
  opcode: 0,
  aa: false,
  tc: false,
  rd: true,
  ra: false,
  z: false,
  ad: false,
  cd: false,
  rcode: 0,
};

/** Flags of a recursive resolver's successful answer. */
export const RESPONSE_FLAGS: DnsFlags = { ...QUERY_FLAGS, qr: true, ra: true };

// ---- names ----

/** Split master-file text into label bytes; throws on an empty or oversized label. */
export function nameToLabels(name: string, field = 'name', offset = 0): Uint8Array[] {
  if (name === '' || name === '.') return [];
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) {
      const d = /^\d{3}/.exec(text.slice(i + 1));
      if (d) {
        const v = Number(d[0]);
        if (v > 255) throw new DnsError(DnsErrorCode.ENCODE, `escape \\${d[0]} in ${JSON.stringify(name)} is above 255`, field, offset);
        cur.push(v);
        i += 3;
      } else if (i + 1 < text.length) {
        cur.push(text.charCodeAt(++i) & 0xff);
      } else throw new DnsError(DnsErrorCode.ENCODE, `dangling "\\" in ${JSON.stringify(name)}`, field, offset);
    } else if (c === 0x2e) {
      labels.push(Uint8Array.from(cur));
      cur = [];
    } else {
      if (c > 0xff) throw new DnsError(DnsErrorCode.ENCODE, `${JSON.stringify(name)} has a character outside Latin-1 (use punycode)`, field, offset);
      cur.push(c);
    }
  }
  labels.push(Uint8Array.from(cur));
  let wire = 1;
  for (const l of labels) {
    // RFC 1035 §2.3.4: labels are 63 octets or less, names 255 or less; empty labels only at the root.
    if (l.length === 0) throw new DnsError(DnsErrorCode.ENCODE, `${JSON.stringify(name)} has an empty label`, field, offset);
    if (l.length > MAX_LABEL) throw new DnsError(DnsErrorCode.ENCODE, `a label of ${JSON.stringify(name)} is ${l.length} bytes (max 63)`, field, offset);
    wire += 1 + l.length;
  }
  if (wire > MAX_NAME) throw new DnsError(DnsErrorCode.ENCODE, `${JSON.stringify(name)} takes ${wire} bytes (max 255)`, field, offset);
  return labels;
}

/** Bytes a name takes uncompressed on the wire (labels with their length bytes, and the root). */
export function nameEncodingLength(name: string): number {
  let n = 1;
  for (const l of nameToLabels(name)) n += 1 + l.length;
  return n;
}

function labelText(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c <= 0x20 || c >= 0x7f) s += '\\' + String(c).padStart(3, '0');
    else s += String.fromCharCode(c);
  }
  return s;
}

function writeName(name: string, out: Uint8Array, o: number, field: string): number {
  for (const l of nameToLabels(name, field, o)) {
    out[o++] = l.length;
    out.set(l, o);
    o += l.length;
  }
  out[o++] = 0;
  return o;
}

/** Decode a possibly compressed name at `offset`; `bytes` counts only what sits at `offset`. */
export function decodeName(buf: Uint8Array, offset: number, field = 'name'): { value: string; bytes: number } {
  const labels: string[] = [];
  let o = offset;
  let end = -1;
  let wire = 1;
  // RFC 1035 §4.1.4: a pointer names a prior occurrence, so each jump must go strictly backwards; that rules out loops.
  let limit = offset;
  while (true) {
    if (o >= buf.length) throw new DnsError(DnsErrorCode.TRUNCATED, 'name runs past the end of the message', field, o);
    const len = buf[o];
    if ((len & 0xc0) === 0xc0) {
      if (o + 1 >= buf.length) throw new DnsError(DnsErrorCode.TRUNCATED, 'compression pointer cut short', field, o);
      const target = ((len & 0x3f) << 8) | buf[o + 1];
      if (end < 0) end = o + 2;
      if (target >= limit) throw new DnsError(DnsErrorCode.DECODE, `compression pointer to ${target} does not point backwards (loop)`, field, o);
      limit = target;
      o = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsError(DnsErrorCode.DECODE, `label type 0x${(len & 0xc0).toString(16)} is not supported`, field, o);
    if (len === 0) {
      if (end < 0) end = o + 1;
      break;
    }
    if (o + 1 + len > buf.length) throw new DnsError(DnsErrorCode.TRUNCATED, `label of ${len} bytes runs past the end`, field, o);
    wire += 1 + len;
    if (wire > MAX_NAME) throw new DnsError(DnsErrorCode.DECODE, 'name is longer than 255 bytes', field, offset);
    labels.push(labelText(buf, o + 1, o + 1 + len));
    o += 1 + len;
  }
  return { value: labels.join('.'), bytes: end - offset };
}

// ---- records ----

function rdataLength(d: DnsRecordData, field: string): number {
  switch (d.type) {
    case 'A':
      return 4;
    case 'AAAA':
      return 16;
    case 'CNAME':
      return nameEncodingLength(d.target);
    case 'MX':
      return 2 + nameEncodingLength(d.exchange);
    case 'TXT': {
      let n = 0;
      for (const s of d.strings) {
        if (s.length > 255) throw new DnsError(DnsErrorCode.ENCODE, `TXT string of ${s.length} bytes (max 255)`, field, 0);
        n += 1 + s.length;
      }
      return n;
    }
    case 'OPT':
      return d.options.reduce((n, opt) => n + 4 + opt.data.length, 0);
    case 'unknown':
      return d.bytes.length;
  }
}

function typeCode(d: DnsRecordData): number {
  return d.type === 'unknown' ? d.code : DnsType[d.type];
}

/** Bytes one resource record takes, uncompressed. */
export function recordEncodingLength(r: DnsRecord): number {
  return nameEncodingLength(r.name) + 10 + rdataLength(r.data, 'rdata');
}

function writeRecord(r: DnsRecord, out: Uint8Array, o: number, field: string): number {
  o = writeName(r.name, out, o, `${field}.name`);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const rdlen = rdataLength(r.data, `${field}.data`);
  if (rdlen > 0xffff) throw new DnsError(DnsErrorCode.ENCODE, `rdata of ${rdlen} bytes (max 65535)`, `${field}.data`, o);
  dv.setUint16(o, typeCode(r.data));
  dv.setUint16(o + 2, r.class);
  dv.setUint32(o + 4, r.ttl >>> 0);
  dv.setUint16(o + 8, rdlen);
  o += 10;
  const d = r.data;
  switch (d.type) {
    case 'A':
    case 'AAAA': {
      let a: Uint8Array | undefined;
      try {
        a = parseAddress(d.address);
      } catch {
        a = undefined;
      }
      if (!a || a.length !== rdlen) throw new DnsError(DnsErrorCode.ENCODE, `${JSON.stringify(d.address)} is not an ${d.type === 'A' ? 'IPv4' : 'IPv6'} address`, `${field}.data.address`, o);
      out.set(a, o);
      return o + rdlen;
    }
    case 'CNAME':
      return writeName(d.target, out, o, `${field}.data.target`);
    case 'MX':
      dv.setUint16(o, d.preference);
      return writeName(d.exchange, out, o + 2, `${field}.data.exchange`);
    case 'TXT':
      for (const s of d.strings) {
        out[o++] = s.length;
        out.set(s, o);
        o += s.length;
      }
      return o;
    case 'OPT':
      for (const opt of d.options) {
        dv.setUint16(o, opt.code);
        dv.setUint16(o + 2, opt.data.length);
        out.set(opt.data, o + 4);
        o += 4 + opt.data.length;
      }
      return o;
    case 'unknown':
      out.set(d.bytes, o);
      return o + d.bytes.length;
  }
}

function readRecord(buf: Uint8Array, o: number, field: string): { value: DnsRecord; next: number } {
  const n = decodeName(buf, o, `${field}.name`);
  o += n.bytes;
  if (o + 10 > buf.length) throw new DnsError(DnsErrorCode.TRUNCATED, 'record header cut short', `${field}.type`, o);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const code = dv.getUint16(o);
  const cls = dv.getUint16(o + 2);
  const ttl = dv.getUint32(o + 4);
  const rdlen = dv.getUint16(o + 8);
  const start = o + 10;
  const end = start + rdlen;
  if (end > buf.length) throw new DnsError(DnsErrorCode.TRUNCATED, `rdata of ${rdlen} bytes runs past the end`, `${field}.data`, start);
  let data: DnsRecordData;
  const wrongLength = (want: string) =>
    new DnsError(DnsErrorCode.DECODE, `${dnsTypeName(code)} rdata of ${rdlen} bytes (expected ${want})`, `${field}.data`, start);
  switch (code) {
    case DnsType.A:
      if (rdlen !== 4) throw wrongLength('4');
      data = { type: 'A', address: formatAddress(buf, start, 4) };
      break;
    case DnsType.AAAA:
      if (rdlen !== 16) throw wrongLength('16');
      data = { type: 'AAAA', address: formatAddress(buf, start, 16) };
      break;
    case DnsType.CNAME: {
      const t = decodeName(buf.subarray(0, end), start, `${field}.data.target`);
      if (t.bytes !== rdlen) throw wrongLength('one name');
      data = { type: 'CNAME', target: t.value };
      break;
    }
    case DnsType.MX: {
      if (rdlen < 3) throw wrongLength('at least 3');
      const x = decodeName(buf.subarray(0, end), start + 2, `${field}.data.exchange`);
      if (x.bytes !== rdlen - 2) throw wrongLength('a preference and one name');
      data = { type: 'MX', preference: dv.getUint16(start), exchange: x.value };
      break;
    }
    case DnsType.TXT: {
      const strings: Uint8Array[] = [];
      let p = start;
      while (p < end) {
        const len = buf[p];
        if (p + 1 + len > end) throw new DnsError(DnsErrorCode.DECODE, `TXT string of ${len} bytes runs past the rdata`, `${field}.data.strings[${strings.length}]`, p);
        strings.push(buf.slice(p + 1, p + 1 + len));
        p += 1 + len;
      }
      data = { type: 'TXT', strings };
      break;
    }
    case DnsType.OPT: {
      const options: EdnsOptionValue[] = [];
      let p = start;
      while (p < end) {
        if (p + 4 > end) throw new DnsError(DnsErrorCode.DECODE, 'EDNS option header cut short', `${field}.data.options[${options.length}]`, p);
        const len = dv.getUint16(p + 2);
        if (p + 4 + len > end) throw new DnsError(DnsErrorCode.DECODE, `EDNS option of ${len} bytes runs past the rdata`, `${field}.data.options[${options.length}]`, p);
        options.push({ code: dv.getUint16(p), data: buf.slice(p + 4, p + 4 + len) });
        p += 4 + len;
      }
      data = { type: 'OPT', options };
      break;
    }
    default:
      data = { type: 'unknown', code, bytes: buf.slice(start, end) };
  }
  return { value: { name: n.value, class: cls, ttl, data }, next: end };
}

// ---- messages ----

export function encodingLength(m: DnsMessage): number {
  let n = HEADER;
  for (const q of m.questions) n += nameEncodingLength(q.name) + 4;
  for (const r of [...m.answers, ...m.authorities, ...m.additionals]) n += recordEncodingLength(r);
  return n;
}

export function encode(m: DnsMessage, buf?: Uint8Array, offset = 0): Uint8Array {
  const len = encodingLength(m);
  const out = buf ?? new Uint8Array(offset + len);
  if (out.length < offset + len) throw new DnsError(DnsErrorCode.ENCODE, `buffer too small: need ${len} bytes`, 'message', offset);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const f = m.flags;
  dv.setUint16(offset, m.id & 0xffff);
  dv.setUint16(
    offset + 2,
    (f.qr ? 0x8000 : 0) |
      ((f.opcode & 0xf) << 11) |
      (f.aa ? 0x400 : 0) |
      (f.tc ? 0x200 : 0) |
      (f.rd ? 0x100 : 0) |
      (f.ra ? 0x80 : 0) |
      (f.z ? 0x40 : 0) |
      (f.ad ? 0x20 : 0) |
      (f.cd ? 0x10 : 0) |
      (f.rcode & 0xf),
  );
  const sections = [m.answers, m.authorities, m.additionals];
  for (const [i, c] of [m.questions.length, ...sections.map((s) => s.length)].entries()) {
    if (c > 0xffff) throw new DnsError(DnsErrorCode.ENCODE, `${c} entries in one section (max 65535)`, 'counts', offset + 4 + 2 * i);
    dv.setUint16(offset + 4 + 2 * i, c);
  }
  let o = offset + HEADER;
  m.questions.forEach((q, i) => {
    o = writeName(q.name, out, o, `questions[${i}].name`);
    dv.setUint16(o, q.type);
    dv.setUint16(o + 2, q.class);
    o += 4;
  });
  (['answers', 'authorities', 'additionals'] as const).forEach((s) => {
    m[s].forEach((r, i) => {
      o = writeRecord(r, out, o, `${s}[${i}]`);
    });
  });
  return out;
}

/**
 * Decode the message at `offset`, running to the end of `buf` (the UDP
 * payload, or a TCP message after its 2-byte length). Compression pointers are
 * offsets from the start of the message.
 */
export function decode(buf: Uint8Array, offset = 0): { value: DnsMessage; bytes: number } {
  const msg = offset === 0 ? buf : buf.subarray(offset);
  if (msg.length < HEADER) throw new DnsError(DnsErrorCode.TRUNCATED, `${msg.length} bytes are shorter than the 12-byte header`, 'header', offset);
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const fl = dv.getUint16(2);
  const flags: DnsFlags = {
    qr: (fl & 0x8000) !== 0,
    opcode: (fl >>> 11) & 0xf,
    aa: (fl & 0x400) !== 0,
    tc: (fl & 0x200) !== 0,
    rd: (fl & 0x100) !== 0,
    ra: (fl & 0x80) !== 0,
    z: (fl & 0x40) !== 0,
    ad: (fl & 0x20) !== 0,
    cd: (fl & 0x10) !== 0,
    rcode: fl & 0xf,
  };
  const counts = [dv.getUint16(4), dv.getUint16(6), dv.getUint16(8), dv.getUint16(10)];
  let o = HEADER;
  const questions: DnsQuestion[] = [];
  const rethrow = (e: unknown): never => {
    if (e instanceof DnsError) throw new DnsError(e.code as DnsErrorCode, e.message.replace(/ \(field .*\)$/, ''), e.field, e.offset + offset);
    throw e;
  };
  try {
    for (let i = 0; i < counts[0]; i++) {
      const n = decodeName(msg, o, `questions[${i}].name`);
      o += n.bytes;
      if (o + 4 > msg.length) throw new DnsError(DnsErrorCode.TRUNCATED, 'question cut short', `questions[${i}].type`, o);
      questions.push({ name: n.value, type: dv.getUint16(o), class: dv.getUint16(o + 2) });
      o += 4;
    }
    const sections: DnsRecord[][] = [[], [], []];
    (['answers', 'authorities', 'additionals'] as const).forEach((s, si) => {
      for (let i = 0; i < counts[si + 1]; i++) {
        const r = readRecord(msg, o, `${s}[${i}]`);
        sections[si].push(r.value);
        o = r.next;
      }
    });
    return {
      value: { id: dv.getUint16(0), flags, questions, answers: sections[0], authorities: sections[1], additionals: sections[2] },
      bytes: o,
    };
  } catch (e) {
    return rethrow(e);
  }
}

/** An OPT pseudo-record (RFC 6891 §6.1.2) advertising `udpPayloadSize`, optionally padded (RFC 7830) with `padding` zero bytes. */
export function optRecord(udpPayloadSize = 1232, padding?: number): DnsRecord {
  const options = padding === undefined ? [] : [{ code: EdnsOption.PADDING, data: new Uint8Array(padding) }];
  return { name: '', class: udpPayloadSize, ttl: 0, data: { type: 'OPT', options } };
}

/** The codec as one object. */
export const dnsMessage = { encode, decode, encodingLength };

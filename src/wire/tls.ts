/**
 * Enough TLS to build and read the start of a connection: records (RFC 8446
 * §5.1, the framing TLS 1.2 shares), handshake message headers (§4), and the
 * ClientHello and ServerHello bodies (§4.1.2, §4.1.3) with the server_name
 * (RFC 6066 §3), ALPN (RFC 7301), supported_versions (RFC 8446 §4.2.1) and
 * padding (RFC 7685) extensions typed; other extensions are kept raw and
 * re-encode byte-exact. Encrypted records are carried as opaque fragments.
 */
import { ShadownetError } from '../core/errors.js';

/** Record content types (RFC 8446 §5.1). */
export const TlsContentType = {
  CHANGE_CIPHER_SPEC: 20,
  ALERT: 21,
  HANDSHAKE: 22,
  APPLICATION_DATA: 23,
  HEARTBEAT: 24,
} as const;
export type TlsContentType = (typeof TlsContentType)[keyof typeof TlsContentType];

/** Protocol versions as carried on the wire. */
export const TlsVersion = { TLS1_0: 0x0301, TLS1_1: 0x0302, TLS1_2: 0x0303, TLS1_3: 0x0304 } as const;
export type TlsVersion = (typeof TlsVersion)[keyof typeof TlsVersion];

export const TlsHandshakeType = {
  CLIENT_HELLO: 1,
  SERVER_HELLO: 2,
  NEW_SESSION_TICKET: 4,
  ENCRYPTED_EXTENSIONS: 8,
  CERTIFICATE: 11,
  CERTIFICATE_VERIFY: 15,
  FINISHED: 20,
} as const;
export type TlsHandshakeType = (typeof TlsHandshakeType)[keyof typeof TlsHandshakeType];

export const TlsExtensionType = {
  SERVER_NAME: 0,
  SUPPORTED_GROUPS: 10,
  SIGNATURE_ALGORITHMS: 13,
  ALPN: 16,
  PADDING: 21,
  SUPPORTED_VERSIONS: 43,
  KEY_SHARE: 51,
} as const;

const CONTENT_NAMES: Record<number, string> = Object.fromEntries(Object.entries(TlsContentType).map(([k, v]) => [v, k]));

/** `HANDSHAKE`, `APPLICATION_DATA`, …, or `UNKNOWN_<n>`. */
export function tlsContentTypeName(code: number): string {
  return CONTENT_NAMES[code] ?? `UNKNOWN_${code}`;
}

export const TlsErrorCode = {
  TRUNCATED: 'SHADOWNET_ERR_TLS_TRUNCATED',
  DECODE: 'SHADOWNET_ERR_TLS_DECODE',
  ENCODE: 'SHADOWNET_ERR_TLS_ENCODE',
} as const;
export type TlsErrorCode = (typeof TlsErrorCode)[keyof typeof TlsErrorCode];

/** Malformed TLS bytes or an unencodable structure; names the field and its offset. */
export class TlsError extends ShadownetError {
  constructor(
    code: TlsErrorCode,
    message: string,
    readonly field: string,
    readonly offset: number,
  ) {
    super(code, `${message} (field ${field} at offset ${offset})`);
    this.name = 'TlsError';
  }
}

// RFC 8446 §5.2: a TLSCiphertext fragment is at most 2^14 + 256 bytes; TLS 1.2 allowed 2^14 + 2048.
export const MAX_FRAGMENT = 16384 + 2048;

// ---- records ----

export interface TlsRecord {
  readonly contentType: number;
  /** legacy_record_version: 0x0301 on a first ClientHello, 0x0303 otherwise. */
  readonly version: number;
  readonly fragment: Uint8Array;
}

export function recordEncodingLength(r: TlsRecord): number {
  return 5 + r.fragment.length;
}

export function encodeRecord(r: TlsRecord, buf?: Uint8Array, offset = 0): Uint8Array {
  const len = recordEncodingLength(r);
  const out = buf ?? new Uint8Array(offset + len);
  if (out.length < offset + len) throw new TlsError(TlsErrorCode.ENCODE, `buffer too small: need ${len} bytes`, 'record', offset);
  if (r.fragment.length > MAX_FRAGMENT)
    throw new TlsError(TlsErrorCode.ENCODE, `fragment of ${r.fragment.length} bytes exceeds ${MAX_FRAGMENT}`, 'fragment', offset + 5);
  out[offset] = r.contentType;
  out[offset + 1] = r.version >>> 8;
  out[offset + 2] = r.version & 0xff;
  out[offset + 3] = r.fragment.length >>> 8;
  out[offset + 4] = r.fragment.length & 0xff;
  out.set(r.fragment, offset + 5);
  return out;
}

/** Decode one record at `offset`; the fragment is a copy. */
export function decodeRecord(buf: Uint8Array, offset = 0): { value: TlsRecord; bytes: number } {
  if (buf.length - offset < 5) throw new TlsError(TlsErrorCode.TRUNCATED, 'record header cut short', 'record', offset);
  const len = (buf[offset + 3] << 8) | buf[offset + 4];
  if (len > MAX_FRAGMENT) throw new TlsError(TlsErrorCode.DECODE, `record length ${len} exceeds ${MAX_FRAGMENT} (record_overflow)`, 'length', offset + 3);
  if (buf.length - offset - 5 < len) throw new TlsError(TlsErrorCode.TRUNCATED, `record of ${len} bytes cut short`, 'fragment', offset + 5);
  if ((buf[offset + 1] !== 3) || buf[offset + 2] > 4)
    throw new TlsError(TlsErrorCode.DECODE, `record version 0x${((buf[offset + 1] << 8) | buf[offset + 2]).toString(16)} is not TLS`, 'version', offset + 1);
  return {
    value: { contentType: buf[offset], version: (buf[offset + 1] << 8) | buf[offset + 2], fragment: buf.slice(offset + 5, offset + 5 + len) },
    bytes: 5 + len,
  };
}

export const tlsRecord = { encode: encodeRecord, decode: decodeRecord, encodingLength: recordEncodingLength };

// ---- extensions ----

export type TlsExtension =
  | { readonly type: 'server_name'; readonly hostName: string }
  | { readonly type: 'alpn'; readonly protocols: readonly string[] }
  /** In a ClientHello a list; in a ServerHello exactly one version. */
  | { readonly type: 'supported_versions'; readonly versions: readonly number[] }
  | { readonly type: 'padding'; readonly length: number }
  | { readonly type: 'unknown'; readonly code: number; readonly data: Uint8Array };

type HelloSide = 'client' | 'server';

const ascii = (s: string, field: string, offset: number): Uint8Array => {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7e || c < 0x21) throw new TlsError(TlsErrorCode.ENCODE, `${JSON.stringify(s)} is not printable ASCII`, field, offset);
    b[i] = c;
  }
  return b;
};

function extensionDataLength(e: TlsExtension, side: HelloSide): number {
  switch (e.type) {
    case 'server_name':
      return 2 + 1 + 2 + e.hostName.length;
    case 'alpn':
      return 2 + e.protocols.reduce((n, p) => n + 1 + p.length, 0);
    case 'supported_versions':
      return side === 'client' ? 1 + 2 * e.versions.length : 2;
    case 'padding':
      return e.length;
    case 'unknown':
      return e.data.length;
  }
}

function extensionCode(e: TlsExtension): number {
  switch (e.type) {
    case 'server_name':
      return TlsExtensionType.SERVER_NAME;
    case 'alpn':
      return TlsExtensionType.ALPN;
    case 'supported_versions':
      return TlsExtensionType.SUPPORTED_VERSIONS;
    case 'padding':
      return TlsExtensionType.PADDING;
    case 'unknown':
      return e.code;
  }
}

function extensionsLength(exts: readonly TlsExtension[], side: HelloSide): number {
  return exts.reduce((n, e) => n + 4 + extensionDataLength(e, side), 0);
}

function writeExtensions(exts: readonly TlsExtension[], side: HelloSide, out: Uint8Array, o: number): number {
  const total = extensionsLength(exts, side);
  if (total > 0xffff) throw new TlsError(TlsErrorCode.ENCODE, `extensions of ${total} bytes (max 65535)`, 'extensions', o);
  put16(out, o, total);
  o += 2;
  exts.forEach((e, i) => {
    const field = `extensions[${i}]`;
    const len = extensionDataLength(e, side);
    if (len > 0xffff) throw new TlsError(TlsErrorCode.ENCODE, `extension of ${len} bytes`, field, o);
    put16(out, o, extensionCode(e));
    put16(out, o + 2, len);
    o += 4;
    switch (e.type) {
      case 'server_name': {
        // RFC 6066 §3: a ServerNameList holding one host_name (type 0).
        const name = ascii(e.hostName, `${field}.hostName`, o);
        put16(out, o, 3 + name.length);
        out[o + 2] = 0;
        put16(out, o + 3, name.length);
        out.set(name, o + 5);
        break;
      }
      case 'alpn': {
        put16(out, o, len - 2);
        let p = o + 2;
        for (const proto of e.protocols) {
          // RFC 7301 §3.1: protocol names are 1..255 bytes.
          if (proto.length < 1 || proto.length > 255) throw new TlsError(TlsErrorCode.ENCODE, `ALPN protocol name of ${proto.length} bytes`, `${field}.protocols`, p);
          out[p] = proto.length;
          out.set(ascii(proto, `${field}.protocols`, p), p + 1);
          p += 1 + proto.length;
        }
        break;
      }
      case 'supported_versions':
        if (side === 'client') {
          out[o] = 2 * e.versions.length;
          e.versions.forEach((v, j) => put16(out, o + 1 + 2 * j, v));
        } else {
          if (e.versions.length !== 1) throw new TlsError(TlsErrorCode.ENCODE, 'a ServerHello selects exactly one version', `${field}.versions`, o);
          put16(out, o, e.versions[0]);
        }
        break;
      case 'padding':
        // RFC 7685 §3: the padding is zero bytes.
        out.fill(0, o, o + len);
        break;
      case 'unknown':
        out.set(e.data, o);
        break;
    }
    o += len;
  });
  return o;
}

function readExtensions(buf: Uint8Array, o: number, end: number, side: HelloSide): TlsExtension[] {
  const exts: TlsExtension[] = [];
  if (o === end) return exts; // RFC 8446 §4.1.2: TLS 1.2 peers may omit the extensions block.
  if (o + 2 > end) throw new TlsError(TlsErrorCode.TRUNCATED, 'extensions length cut short', 'extensions', o);
  const total = get16(buf, o);
  o += 2;
  if (o + total !== end) throw new TlsError(TlsErrorCode.DECODE, `extensions length ${total} does not fill the message`, 'extensions', o - 2);
  while (o < end) {
    const field = `extensions[${exts.length}]`;
    if (o + 4 > end) throw new TlsError(TlsErrorCode.TRUNCATED, 'extension header cut short', field, o);
    const code = get16(buf, o);
    const len = get16(buf, o + 2);
    const d = o + 4;
    const de = d + len;
    if (de > end) throw new TlsError(TlsErrorCode.TRUNCATED, `extension of ${len} bytes runs past the message`, field, o);
    const bad = (what: string) => new TlsError(TlsErrorCode.DECODE, what, field, d);
    const text = (s: number, n: number) => String.fromCharCode(...buf.subarray(s, s + n));
    let e: TlsExtension;
    if (code === TlsExtensionType.SERVER_NAME && len > 0) {
      // RFC 6066 §3: the server's acknowledgement is empty; a client's list holds one host_name.
      if (len < 5 || get16(buf, d) !== len - 2 || buf[d + 2] !== 0 || get16(buf, d + 3) !== len - 5) e = { type: 'unknown', code, data: buf.slice(d, de) };
      else e = { type: 'server_name', hostName: text(d + 5, len - 5) };
    } else if (code === TlsExtensionType.ALPN) {
      if (len < 2 || get16(buf, d) !== len - 2) throw bad('ALPN list length does not match the extension');
      const protocols: string[] = [];
      let p = d + 2;
      while (p < de) {
        const n = buf[p];
        if (n === 0 || p + 1 + n > de) throw bad('ALPN protocol name is empty or runs past the list');
        protocols.push(text(p + 1, n));
        p += 1 + n;
      }
      e = { type: 'alpn', protocols };
    } else if (code === TlsExtensionType.SUPPORTED_VERSIONS) {
      if (side === 'client') {
        if (len < 1 || buf[d] !== len - 1 || buf[d] % 2 !== 0) throw bad('supported_versions list length does not match');
        const versions: number[] = [];
        for (let p = d + 1; p < de; p += 2) versions.push(get16(buf, p));
        e = { type: 'supported_versions', versions };
      } else {
        if (len !== 2) throw bad('a ServerHello supported_versions holds one version');
        e = { type: 'supported_versions', versions: [get16(buf, d)] };
      }
    } else if (code === TlsExtensionType.PADDING && buf.subarray(d, de).every((b) => b === 0)) {
      e = { type: 'padding', length: len };
    } else {
      e = { type: 'unknown', code, data: buf.slice(d, de) };
    }
    exts.push(e);
    o = de;
  }
  return exts;
}

// ---- hellos ----

export interface ClientHello {
  /** legacy_version: 0x0303 for TLS 1.2 and 1.3 (RFC 8446 §4.1.2). */
  readonly version: number;
  /** 32 bytes. */
  readonly random: Uint8Array;
  /** legacy_session_id: 0..32 bytes. */
  readonly sessionId: Uint8Array;
  readonly cipherSuites: readonly number[];
  readonly compressionMethods: readonly number[];
  readonly extensions: readonly TlsExtension[];
}

export interface ServerHello {
  readonly version: number;
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly cipherSuite: number;
  readonly compressionMethod: number;
  readonly extensions: readonly TlsExtension[];
}

export type TlsHandshake =
  | { readonly type: 'client_hello'; readonly hello: ClientHello }
  | { readonly type: 'server_hello'; readonly hello: ServerHello }
  | { readonly type: 'unknown'; readonly code: number; readonly body: Uint8Array };

function helloBodyLength(h: TlsHandshake): number {
  switch (h.type) {
    case 'client_hello': {
      const c = h.hello;
      return 2 + 32 + 1 + c.sessionId.length + 2 + 2 * c.cipherSuites.length + 1 + c.compressionMethods.length + 2 + extensionsLength(c.extensions, 'client');
    }
    case 'server_hello': {
      const s = h.hello;
      return 2 + 32 + 1 + s.sessionId.length + 2 + 1 + 2 + extensionsLength(s.extensions, 'server');
    }
    case 'unknown':
      return h.body.length;
  }
}

/** Bytes of a handshake message: the 4-byte header and the body. */
export function handshakeEncodingLength(h: TlsHandshake): number {
  return 4 + helloBodyLength(h);
}

export function encodeHandshake(h: TlsHandshake, buf?: Uint8Array, offset = 0): Uint8Array {
  const len = handshakeEncodingLength(h);
  const out = buf ?? new Uint8Array(offset + len);
  if (out.length < offset + len) throw new TlsError(TlsErrorCode.ENCODE, `buffer too small: need ${len} bytes`, 'handshake', offset);
  const body = len - 4;
  if (body > 0xffffff) throw new TlsError(TlsErrorCode.ENCODE, `handshake body of ${body} bytes`, 'length', offset + 1);
  out[offset] = h.type === 'client_hello' ? 1 : h.type === 'server_hello' ? 2 : h.code;
  out[offset + 1] = body >>> 16;
  out[offset + 2] = (body >>> 8) & 0xff;
  out[offset + 3] = body & 0xff;
  let o = offset + 4;
  if (h.type === 'unknown') {
    out.set(h.body, o);
    return out;
  }
  const c = h.hello;
  if (c.random.length !== 32) throw new TlsError(TlsErrorCode.ENCODE, `random of ${c.random.length} bytes (must be 32)`, 'random', o + 2);
  if (c.sessionId.length > 32) throw new TlsError(TlsErrorCode.ENCODE, `session id of ${c.sessionId.length} bytes (max 32)`, 'sessionId', o + 34);
  put16(out, o, c.version);
  out.set(c.random, o + 2);
  out[o + 34] = c.sessionId.length;
  out.set(c.sessionId, o + 35);
  o += 35 + c.sessionId.length;
  if (h.type === 'client_hello') {
    const ch = h.hello;
    if (ch.cipherSuites.length === 0) throw new TlsError(TlsErrorCode.ENCODE, 'a ClientHello offers at least one cipher suite', 'cipherSuites', o);
    put16(out, o, 2 * ch.cipherSuites.length);
    ch.cipherSuites.forEach((s, i) => put16(out, o + 2 + 2 * i, s));
    o += 2 + 2 * ch.cipherSuites.length;
    out[o] = ch.compressionMethods.length;
    out.set(ch.compressionMethods, o + 1);
    o += 1 + ch.compressionMethods.length;
    writeExtensions(ch.extensions, 'client', out, o);
  } else {
    const sh = h.hello;
    put16(out, o, sh.cipherSuite);
    out[o + 2] = sh.compressionMethod;
    writeExtensions(sh.extensions, 'server', out, o + 3);
  }
  return out;
}

/** Decode one handshake message at `offset` (it must lie whole in `buf`). */
export function decodeHandshake(buf: Uint8Array, offset = 0): { value: TlsHandshake; bytes: number } {
  if (buf.length - offset < 4) throw new TlsError(TlsErrorCode.TRUNCATED, 'handshake header cut short', 'handshake', offset);
  const code = buf[offset];
  const len = (buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3];
  const start = offset + 4;
  const end = start + len;
  if (end > buf.length) throw new TlsError(TlsErrorCode.TRUNCATED, `handshake body of ${len} bytes cut short (fragmented across records?)`, 'body', start);
  if (code !== TlsHandshakeType.CLIENT_HELLO && code !== TlsHandshakeType.SERVER_HELLO)
    return { value: { type: 'unknown', code, body: buf.slice(start, end) }, bytes: 4 + len };
  let o = start;
  const need = (n: number, field: string) => {
    if (o + n > end) throw new TlsError(TlsErrorCode.TRUNCATED, `${field} runs past the message`, field, o);
  };
  need(35, 'random');
  const version = get16(buf, o);
  const random = buf.slice(o + 2, o + 34);
  const sidLen = buf[o + 34];
  if (sidLen > 32) throw new TlsError(TlsErrorCode.DECODE, `session id of ${sidLen} bytes (max 32)`, 'sessionId', o + 34);
  o += 35;
  need(sidLen, 'sessionId');
  const sessionId = buf.slice(o, o + sidLen);
  o += sidLen;
  if (code === TlsHandshakeType.CLIENT_HELLO) {
    need(2, 'cipherSuites');
    const csLen = get16(buf, o);
    if (csLen % 2 !== 0 || csLen === 0) throw new TlsError(TlsErrorCode.DECODE, `cipher suites length ${csLen} is not a positive even number`, 'cipherSuites', o);
    o += 2;
    need(csLen, 'cipherSuites');
    const cipherSuites: number[] = [];
    for (let i = 0; i < csLen; i += 2) cipherSuites.push(get16(buf, o + i));
    o += csLen;
    need(1, 'compressionMethods');
    const cmLen = buf[o];
    o += 1;
    need(cmLen, 'compressionMethods');
    const compressionMethods = [...buf.subarray(o, o + cmLen)];
    o += cmLen;
    const extensions = readExtensions(buf, o, end, 'client');
    return { value: { type: 'client_hello', hello: { version, random, sessionId, cipherSuites, compressionMethods, extensions } }, bytes: 4 + len };
  }
  need(3, 'cipherSuite');
  const cipherSuite = get16(buf, o);
  const compressionMethod = buf[o + 2];
  const extensions = readExtensions(buf, o + 3, end, 'server');
  return { value: { type: 'server_hello', hello: { version, random, sessionId, cipherSuite, compressionMethod, extensions } }, bytes: 4 + len };
}

export const tlsHandshake = { encode: encodeHandshake, decode: decodeHandshake, encodingLength: handshakeEncodingLength };

/** A handshake message wrapped in one record (it must fit in one). */
export function handshakeRecord(h: TlsHandshake, version: number = TlsVersion.TLS1_2): Uint8Array {
  return encodeRecord({ contentType: TlsContentType.HANDSHAKE, version, fragment: encodeHandshake(h) });
}

/** The SNI host name a ClientHello carries, if any. */
export function serverNameOf(hello: ClientHello): string | undefined {
  for (const e of hello.extensions) if (e.type === 'server_name') return e.hostName;
  return undefined;
}

/** The ALPN protocols a hello carries, if any. */
export function alpnOf(hello: ClientHello | ServerHello): readonly string[] | undefined {
  for (const e of hello.extensions) if (e.type === 'alpn') return e.protocols;
  return undefined;
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

function get16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/**
 * Application payloads of exact sizes: HTTP/1.1 messages, TLS 1.3 flights,
 * SSH transport packets and DNS messages whose byte length is chosen by the
 * caller, so a flow's packet and byte counts can be honoured exactly. Each
 * builder has a minimum size; anything above it is absorbed in a way the
 * protocol allows (a request body or cookie, a Content-Length body, more
 * encrypted records, EDNS(0) padding, longer tunnelled labels).
 */
import * as dns from '../../../wire/dns.js';
import * as tls from '../../../wire/tls.js';
import { createRng, mixSeed, mixSeed2, type Rng } from './rng.js';

const enc = new TextEncoder();
const ascii = (s: string): Uint8Array => enc.encode(s);

/** Choices that fix the sizes of a flow's fixed messages, drawn from its seed (same seed, same shape). */
export interface FlowShape {
  readonly path: string;
  readonly userAgent: string;
  readonly server: string;
  readonly sshClient: string;
  readonly sshServer: string;
  /** Bytes of the TLS server's first encrypted flight (certificate and friends). */
  readonly tlsServerFlight: number;
}

const PATHS = ['/', '/index.html', '/api/v1/items', '/api/v1/orders?page=2', '/static/app.js', '/healthz', '/v2/catalog/search?q=shoes', '/login'];
const AGENTS = ['curl/8.5.0', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', 'python-requests/2.31.0', 'Go-http-client/1.1', 'okhttp/4.12.0'];
const SERVERS = ['nginx/1.24.0', 'Apache/2.4.58', 'envoy', 'gunicorn'];
const SSH_CLIENTS = ['SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13', 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', 'SSH-2.0-PuTTY_Release_0.80', 'SSH-2.0-paramiko_3.4.0'];
const SSH_SERVERS = ['SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13', 'SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10', 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3'];

// Independent 32-bit draws from one seed: splitmix32 outputs of successive states.
function draw(h: number, k: number): number {
  let z = (h + Math.imul(k, 0x9e3779b9)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
const pickOf = <T>(items: readonly T[], h: number, k: number): T => items[Math.floor((draw(h, k) / 0x100000000) * items.length)];

export function flowShape(seed: number): FlowShape {
  // Six draws from one hash of the seed: a flow's shape is read for every flow, materialized or not.
  const h = mixSeed2(seed, 'shape');
  return {
    path: pickOf(PATHS, h, 1),
    userAgent: pickOf(AGENTS, h, 2),
    server: pickOf(SERVERS, h, 3),
    sshClient: pickOf(SSH_CLIENTS, h, 4),
    sshServer: pickOf(SSH_SERVERS, h, 5),
    tlsServerFlight: 1800 + Math.floor((draw(h, 6) / 0x100000000) * 2600),
  };
}

function digits(n: number): number {
  return String(n).length;
}

/**
 * A header block ending in `Content-Length: N` plus an N-byte body, `size`
 * bytes in all. Content-Length's own digits change the header's size, so a
 * size that falls between two digit counts takes one byte of optional
 * whitespace before the value (RFC 9110 §5.6.3: OWS).
 */
function withBody(head: string, size: number, body: (n: number) => Uint8Array): Uint8Array | undefined {
  for (const ows of ['', ' ']) {
    const base = ascii(head).length + 'Content-Length: '.length + ows.length + 4;
    for (let d = 1; d <= 10; d++) {
      const n = size - base - d;
      if (n >= 0 && digits(n) === d) {
        const text = `${head}Content-Length: ${ows}${n}\r\n\r\n`;
        const out = new Uint8Array(size);
        out.set(ascii(text));
        out.set(body(n), text.length);
        return out;
      }
    }
  }
  return undefined;
}

/**
 * Opaque bytes (ciphertext, binary bodies) come from one pool of random bytes
 * made from a fixed seed, read from an offset each use draws: the same seed
 * gives the same bytes, without a generator call per byte.
 */
const POOL_SIZE = 1 << 20;
const POOL = createRng(0x5eed).bytes(new Uint8Array(POOL_SIZE));

/** Fill `out` with opaque bytes: the pool from an offset `rng` draws, wrapping around. */
export function opaqueBytes(out: Uint8Array, rng: Rng): Uint8Array {
  let at = rng.int(POOL_SIZE);
  for (let o = 0; o < out.length; ) {
    const n = Math.min(out.length - o, POOL_SIZE - at);
    out.set(POOL.subarray(at, at + n), o);
    o += n;
    at = 0;
  }
  return out;
}

const LOREM = ascii('<p>shadownet emulated content: the quick brown fox jumps over the lazy dog.</p>\n');

// The line repeated over 64 KiB less a partial line: bodies are copied from it in large pieces.
const LOREM_BLOCK = (() => {
  const b = new Uint8Array(Math.floor(65536 / LOREM.length) * LOREM.length);
  for (let i = 0; i < b.length; i += LOREM.length) b.set(LOREM, i);
  return b;
})();

function textBody(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += LOREM_BLOCK.length) out.set(LOREM_BLOCK.subarray(0, Math.min(LOREM_BLOCK.length, n - i)), i);
  return out;
}

function requestHead(shape: FlowShape, host: string, ua: string, method = 'GET'): string {
  return `${method} ${shape.path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${ua}\r\nAccept: */*\r\n`;
}

export function httpRequestMin(shape: FlowShape, host: string): number {
  // requestHead's length, by arithmetic (the parts are ASCII).
  return 'GET  HTTP/1.1\r\nHost: \r\nUser-Agent: \r\nAccept: */*\r\n'.length + shape.path.length + host.length + shape.userAgent.length + 2;
}

/**
 * An HTTP/1.1 request of exactly `size` bytes (≥ {@link httpRequestMin}): a
 * GET whose User-Agent or Cookie grows with small slack, a POST with a body
 * beyond that.
 */
export function httpRequest(shape: FlowShape, host: string, size: number, rng: Rng): Uint8Array {
  const min = httpRequestMin(shape, host);
  const slack = size - min;
  if (slack < 0) throw new RangeError(`HTTP request of ${size} bytes is below the minimum ${min}`);
  if (slack === 0) return ascii(requestHead(shape, host, shape.userAgent) + '\r\n');
  if (slack < 15) return ascii(requestHead(shape, host, `${shape.userAgent}+${token(rng, slack - 1)}`) + '\r\n');
  if (slack <= 4000) return ascii(requestHead(shape, host, shape.userAgent) + `Cookie: sid=${token(rng, slack - 14)}\r\n\r\n`);
  const head = requestHead(shape, host, shape.userAgent, 'POST') + 'Content-Type: application/octet-stream\r\n';
  // One spare character in the User-Agent covers the sizes no Content-Length reaches.
  return (
    withBody(head, size, (n) => opaqueBytes(new Uint8Array(n), rng)) ??
    withBody(requestHead(shape, host, shape.userAgent + '1', 'POST') + 'Content-Type: application/octet-stream\r\n', size, (n) => opaqueBytes(new Uint8Array(n), rng))!
  );
}

function responseHead(shape: FlowShape): string {
  return `HTTP/1.1 200 OK\r\nServer: ${shape.server}\r\nContent-Type: text/html; charset=utf-8\r\n`;
}

export function httpResponseMin(shape: FlowShape): number {
  return 'HTTP/1.1 200 OK\r\nServer: \r\nContent-Type: text/html; charset=utf-8\r\n'.length + shape.server.length + 'Content-Length: 0\r\n\r\n'.length;
}

/** An HTTP/1.1 200 response of exactly `size` bytes (≥ {@link httpResponseMin}). */
export function httpResponse(shape: FlowShape, size: number): Uint8Array {
  const min = httpResponseMin(shape);
  if (size < min) throw new RangeError(`HTTP response of ${size} bytes is below the minimum ${min}`);
  return withBody(responseHead(shape), size, textBody)!;
}

const TOKEN = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
function token(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += TOKEN[rng.int(TOKEN.length)];
  return s;
}

// ---- TLS ----

/** Bytes of one encrypted TLS 1.3 record at least (type byte and a 16-byte AEAD tag). */
export const TLS_MIN_RECORD = 5 + 17;
const TLS_MAX_RECORD = 5 + 16384 + 256;
const CCS = 6;

function raw(code: number, bytes: number[] | Uint8Array): tls.TlsExtension {
  return { type: 'unknown', code, data: Uint8Array.from(bytes) };
}

/** The ClientHello record, encoded field by field. */
export function encodeClientHello(host: string, rng: Rng): Uint8Array {
  const key = rng.bytes(new Uint8Array(32));
  const keyShare = new Uint8Array(2 + 4 + 32);
  keyShare.set([0, 36, 0x00, 0x1d, 0, 32]);
  keyShare.set(key, 6);
  return tls.handshakeRecord(
    {
      type: 'client_hello',
      hello: {
        version: tls.TlsVersion.TLS1_2,
        random: rng.bytes(new Uint8Array(32)),
        sessionId: rng.bytes(new Uint8Array(32)),
        cipherSuites: [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8],
        compressionMethods: [0],
        extensions: [
          { type: 'server_name', hostName: host },
          raw(tls.TlsExtensionType.SUPPORTED_GROUPS, [0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18]),
          raw(tls.TlsExtensionType.SIGNATURE_ALGORITHMS, [0, 8, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x08, 0x07]),
          { type: 'alpn', protocols: ['h2', 'http/1.1'] },
          { type: 'supported_versions', versions: [tls.TlsVersion.TLS1_3, tls.TlsVersion.TLS1_2] },
          raw(tls.TlsExtensionType.KEY_SHARE, keyShare),
        ],
      },
    },
    tls.TlsVersion.TLS1_0,
  );
}

/** The ServerHello record, encoded field by field. */
export function encodeServerHello(rng: Rng): Uint8Array {
  const keyShare = new Uint8Array(4 + 32);
  keyShare.set([0x00, 0x1d, 0, 32]);
  rng.bytes(keyShare.subarray(4));
  return tls.handshakeRecord({
    type: 'server_hello',
    hello: {
      version: tls.TlsVersion.TLS1_2,
      random: rng.bytes(new Uint8Array(32)),
      sessionId: rng.bytes(new Uint8Array(32)),
      cipherSuite: 0x1301,
      compressionMethod: 0,
      extensions: [
        { type: 'supported_versions', versions: [tls.TlsVersion.TLS1_3] },
        raw(tls.TlsExtensionType.KEY_SHARE, keyShare),
      ],
    },
  });
}

// A hello differs from flow to flow only in its random fields: each is a copy of a template
// with those fields drawn in the order the encoder draws them. RFC 8446 §4.1.2-3: the record
// header (5), handshake header (4) and legacy_version (2) come first, then random (32),
// the session id's length (1) and the id (32); key_share, whose key ends the record, is the
// last extension.
const RANDOM_AT = 11;
const SESSION_ID_AT = 44;
const helloTemplates = new Map<string, Uint8Array>();
let serverHelloTemplate: Uint8Array | undefined;

/** The ClientHello record for `host`, the bytes {@link encodeClientHello} gives for the same generator. */
export function clientHello(host: string, rng: Rng): Uint8Array {
  let t = helloTemplates.get(host);
  if (!t) {
    t = encodeClientHello(host, createRng(0));
    if (helloTemplates.size >= 1024) helloTemplates.clear();
    helloTemplates.set(host, t);
  }
  const out = t.slice();
  rng.bytes(out.subarray(out.length - 32));
  rng.bytes(out.subarray(RANDOM_AT, RANDOM_AT + 32));
  rng.bytes(out.subarray(SESSION_ID_AT, SESSION_ID_AT + 32));
  return out;
}

/** The ServerHello record, the bytes {@link encodeServerHello} gives for the same generator. */
export function serverHello(rng: Rng): Uint8Array {
  serverHelloTemplate ??= encodeServerHello(createRng(0));
  const out = serverHelloTemplate.slice();
  rng.bytes(out.subarray(out.length - 32));
  rng.bytes(out.subarray(RANDOM_AT, RANDOM_AT + 32));
  rng.bytes(out.subarray(SESSION_ID_AT, SESSION_ID_AT + 32));
  return out;
}

const helloSizes = new Map<string, number>();
/** Bytes of the ClientHello record for `host` (its size depends on the name only). */
function CLIENT_HELLO_SIZE(host: string): number {
  let n = helloSizes.get(host);
  if (n === undefined) {
    n = clientHello(host, createRng(0)).length;
    if (helloSizes.size >= 4096) helloSizes.clear();
    helloSizes.set(host, n);
  }
  return n;
}
const SERVER_HELLO_SIZE = serverHello(createRng(0)).length;

/** Encrypted application-data records filling exactly `size` bytes (0, or ≥ {@link TLS_MIN_RECORD}). */
export function tlsRecords(size: number, rng: Rng): Uint8Array {
  if (size === 0) return new Uint8Array(0);
  if (size < TLS_MIN_RECORD) throw new RangeError(`${size} bytes cannot hold an encrypted TLS record`);
  const n = Math.ceil(size / TLS_MAX_RECORD);
  const out = new Uint8Array(size);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const len = Math.floor(size / n) + (i < size % n ? 1 : 0);
    // RFC 8446 §5.2: an opaque application_data record, legacy version 0x0303, then the ciphertext.
    const frag = len - 5;
    out[o] = tls.TlsContentType.APPLICATION_DATA;
    out[o + 1] = tls.TlsVersion.TLS1_2 >>> 8;
    out[o + 2] = tls.TlsVersion.TLS1_2 & 0xff;
    out[o + 3] = frag >>> 8;
    out[o + 4] = frag & 0xff;
    opaqueBytes(out.subarray(o + 5, o + len), rng);
    o += len;
  }
  return out;
}

function ccs(): Uint8Array {
  return tls.encodeRecord({ contentType: tls.TlsContentType.CHANGE_CIPHER_SPEC, version: tls.TlsVersion.TLS1_2, fragment: Uint8Array.of(1) });
}

/** A stretch of one direction's byte stream, sent as one burst. */
export interface Turn {
  readonly toServer: boolean;
  readonly size: number;
  /** Build the bytes (only when materializing). */
  readonly bytes: () => Uint8Array;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The byte-stream layouts a TCP flow can carry. */
export type StreamLayout = 'http' | 'tls' | 'ssh' | 'raw';

export function streamMinimum(layout: StreamLayout, shape: FlowShape, host: string): { client: number; server: number } {
  switch (layout) {
    case 'http':
      return { client: httpRequestMin(shape, host), server: httpResponseMin(shape) };
    case 'tls':
      return { client: CLIENT_HELLO_SIZE(host) + CCS + TLS_MIN_RECORD, server: SERVER_HELLO_SIZE + CCS + TLS_MIN_RECORD };
    case 'ssh':
      return sshMinimum(shape);
    case 'raw':
      return { client: 0, server: 0 };
  }
}

/**
 * The turns of a TCP conversation carrying `client` and `server` payload
 * bytes. Sizes depend only on the layout, the shape and the two totals, so
 * the flow's builder and its materializer agree on them.
 */
export function streamTurns(layout: StreamLayout, shape: FlowShape, host: string, client: number, server: number, seed: number): Turn[] {
  const rng = () => createRng(mixSeed(seed, 'content', layout));
  const turns: Turn[] = [];
  const add = (toServer: boolean, size: number, bytes: () => Uint8Array) => {
    if (size > 0) turns.push({ toServer, size, bytes });
  };
  switch (layout) {
    case 'http':
      add(true, client, () => httpRequest(shape, host, client, rng()));
      add(false, server, () => httpResponse(shape, server));
      break;
    case 'raw':
      add(true, client, () => opaqueBytes(new Uint8Array(client), createRng(mixSeed(seed, 'raw-c'))));
      add(false, server, () => opaqueBytes(new Uint8Array(server), createRng(mixSeed(seed, 'raw-s'))));
      break;
    case 'tls': {
      // RFC 8446 §2: ClientHello; ServerHello and the encrypted server flight; client Finished and data; server data.
      const ch = CLIENT_HELLO_SIZE(host);
      const restS = server - SERVER_HELLO_SIZE - CCS;
      const flight = restS - shape.tlsServerFlight >= TLS_MIN_RECORD ? shape.tlsServerFlight : restS;
      add(true, ch, () => clientHello(host, createRng(mixSeed(seed, 'ch'))));
      add(false, SERVER_HELLO_SIZE + CCS + flight, () => concat([serverHello(createRng(mixSeed(seed, 'sh'))), ccs(), tlsRecords(flight, createRng(mixSeed(seed, 'sf')))]));
      add(true, client - ch, () => concat([ccs(), tlsRecords(client - ch - CCS, createRng(mixSeed(seed, 'cd')))]));
      add(false, restS - flight, () => tlsRecords(restS - flight, createRng(mixSeed(seed, 'sd'))));
      break;
    }
    case 'ssh':
      sshTurns(shape, client, server, seed, add);
      break;
  }
  return turns;
}

/** Turns and data segments per direction of a TCP conversation (what {@link streamSegments} reports). */
export interface StreamSegments {
  turns: number;
  client: number;
  server: number;
}

/**
 * The number of turns of {@link streamTurns} and the data segments of
 * `mss` bytes they take per direction, by arithmetic alone (nothing is
 * built): what a flow's counts need. Writes into and returns `out`.
 */
export function streamSegments(layout: StreamLayout, shape: FlowShape, host: string, client: number, server: number, mss: number, out: StreamSegments): StreamSegments {
  out.turns = 0;
  out.client = 0;
  out.server = 0;
  const add = (toServer: boolean, size: number) => {
    if (size <= 0) return;
    out.turns++;
    if (toServer) out.client += Math.ceil(size / mss);
    else out.server += Math.ceil(size / mss);
  };
  switch (layout) {
    case 'http':
    case 'raw':
      add(true, client);
      add(false, server);
      break;
    case 'tls': {
      const ch = CLIENT_HELLO_SIZE(host);
      const restS = server - SERVER_HELLO_SIZE - CCS;
      const flight = restS - shape.tlsServerFlight >= TLS_MIN_RECORD ? shape.tlsServerFlight : restS;
      add(true, ch);
      add(false, SERVER_HELLO_SIZE + CCS + flight);
      add(true, client - ch);
      add(false, restS - flight);
      break;
    }
    case 'ssh': {
      const min = sshMinimum(shape);
      const ec = client - min.client;
      const es = server - min.server;
      const rounds = sshRounds(ec, es);
      add(true, shape.sshClient.length + 2);
      add(false, shape.sshServer.length + 2);
      add(true, SSH_SIZES.kex);
      add(false, SSH_SIZES.kex);
      add(true, SSH_SIZES.init);
      add(false, SSH_SIZES.reply);
      for (let i = 0; i < rounds; i++) {
        const c = Math.floor(ec / rounds) + (i < ec % rounds ? 1 : 0);
        const sv = Math.floor(es / rounds) + (i < es % rounds ? 1 : 0);
        add(true, i === 0 ? SSH_SIZES.newKeys + c : c);
        add(false, sv);
      }
      break;
    }
  }
  return out;
}

/**
 * The hash a flow's shape is drawn from ({@link flowShape} reads its six
 * fields from it): {@link streamMinimumOf} and {@link streamSegmentsOf} read
 * only the lengths they need from it, without building the shape.
 */
export function shapeHash(seed: number): number {
  return mixSeed2(seed, 'shape');
}

const pickIndex = (n: number, h: number, k: number): number => Math.floor((draw(h, k) / 0x100000000) * n);
const lengths = (items: readonly string[]): Uint16Array => Uint16Array.from(items, (s) => s.length);
const PATH_LENGTHS = lengths(PATHS);
const AGENT_LENGTHS = lengths(AGENTS);
const SERVER_LENGTHS = lengths(SERVERS);
const SSH_CLIENT_LENGTHS = lengths(SSH_CLIENTS);
const SSH_SERVER_LENGTHS = lengths(SSH_SERVERS);
const HTTP_REQUEST_FIXED = 'GET  HTTP/1.1\r\nHost: \r\nUser-Agent: \r\nAccept: */*\r\n'.length + 2;
const HTTP_RESPONSE_FIXED = 'HTTP/1.1 200 OK\r\nServer: \r\nContent-Type: text/html; charset=utf-8\r\n'.length + 'Content-Length: 0\r\n\r\n'.length;

/** Payload bytes per direction (what {@link streamMinimumOf} reports). */
export interface StreamMinimum {
  client: number;
  server: number;
}

/**
 * {@link streamMinimum} for the shape of hash `h` ({@link shapeHash}), by
 * arithmetic over the lengths the shape picks. Writes into and returns `out`.
 */
export function streamMinimumOf(layout: StreamLayout, h: number, host: string, out: StreamMinimum): StreamMinimum {
  switch (layout) {
    case 'http':
      out.client = HTTP_REQUEST_FIXED + PATH_LENGTHS[pickIndex(PATHS.length, h, 1)] + host.length + AGENT_LENGTHS[pickIndex(AGENTS.length, h, 2)];
      out.server = HTTP_RESPONSE_FIXED + SERVER_LENGTHS[pickIndex(SERVERS.length, h, 3)];
      break;
    case 'tls':
      out.client = CLIENT_HELLO_SIZE(host) + CCS + TLS_MIN_RECORD;
      out.server = SERVER_HELLO_SIZE + CCS + TLS_MIN_RECORD;
      break;
    case 'ssh':
      out.client = SSH_CLIENT_LENGTHS[pickIndex(SSH_CLIENTS.length, h, 4)] + 2 + SSH_SIZES.kex + SSH_SIZES.init + SSH_SIZES.newKeys;
      out.server = SSH_SERVER_LENGTHS[pickIndex(SSH_SERVERS.length, h, 5)] + 2 + SSH_SIZES.kex + SSH_SIZES.reply;
      break;
    case 'raw':
      out.client = 0;
      out.server = 0;
      break;
  }
  return out;
}

function addSegments(out: StreamSegments, toServer: boolean, size: number, mss: number): void {
  if (size <= 0) return;
  out.turns++;
  if (toServer) out.client += Math.ceil(size / mss);
  else out.server += Math.ceil(size / mss);
}

/**
 * {@link streamSegments} for the shape of hash `h` ({@link shapeHash}),
 * without building the shape. Writes into and returns `out`.
 */
export function streamSegmentsOf(layout: StreamLayout, h: number, host: string, client: number, server: number, mss: number, out: StreamSegments): StreamSegments {
  out.turns = 0;
  out.client = 0;
  out.server = 0;
  switch (layout) {
    case 'http':
    case 'raw':
      addSegments(out, true, client, mss);
      addSegments(out, false, server, mss);
      break;
    case 'tls': {
      const ch = CLIENT_HELLO_SIZE(host);
      const restS = server - SERVER_HELLO_SIZE - CCS;
      const serverFlight = 1800 + Math.floor((draw(h, 6) / 0x100000000) * 2600);
      const flight = restS - serverFlight >= TLS_MIN_RECORD ? serverFlight : restS;
      addSegments(out, true, ch, mss);
      addSegments(out, false, SERVER_HELLO_SIZE + CCS + flight, mss);
      addSegments(out, true, client - ch, mss);
      addSegments(out, false, restS - flight, mss);
      break;
    }
    case 'ssh': {
      const identC = SSH_CLIENT_LENGTHS[pickIndex(SSH_CLIENTS.length, h, 4)] + 2;
      const identS = SSH_SERVER_LENGTHS[pickIndex(SSH_SERVERS.length, h, 5)] + 2;
      const ec = client - (identC + SSH_SIZES.kex + SSH_SIZES.init + SSH_SIZES.newKeys);
      const es = server - (identS + SSH_SIZES.kex + SSH_SIZES.reply);
      const rounds = sshRounds(ec, es);
      addSegments(out, true, identC, mss);
      addSegments(out, false, identS, mss);
      addSegments(out, true, SSH_SIZES.kex, mss);
      addSegments(out, false, SSH_SIZES.kex, mss);
      addSegments(out, true, SSH_SIZES.init, mss);
      addSegments(out, false, SSH_SIZES.reply, mss);
      for (let i = 0; i < rounds; i++) {
        const c = Math.floor(ec / rounds) + (i < ec % rounds ? 1 : 0);
        const sv = Math.floor(es / rounds) + (i < es % rounds ? 1 : 0);
        addSegments(out, true, i === 0 ? SSH_SIZES.newKeys + c : c, mss);
        addSegments(out, false, sv, mss);
      }
      break;
    }
  }
  return out;
}

// ---- SSH (RFC 4253) ----

function sshString(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length);
  out.set(b, 4);
  return out;
}

/** RFC 4253 §6: packet_length, padding_length, payload, ≥4 bytes of padding, to a multiple of 8 (no MAC before NEWKEYS). */
function sshPacket(payload: Uint8Array, rng: Rng): Uint8Array {
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const out = new Uint8Array(5 + payload.length + pad);
  new DataView(out.buffer).setUint32(0, 1 + payload.length + pad);
  out[4] = pad;
  out.set(payload, 5);
  rng.bytes(out.subarray(5 + payload.length));
  return out;
}

function kexInit(rng: Rng): Uint8Array {
  const lists = [
    'curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ext-info-c',
    'ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256',
    'chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com',
    'chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com',
    'umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com',
    'umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com',
    'none,zlib@openssh.com',
    'none,zlib@openssh.com',
    '',
    '',
  ];
  return concat([Uint8Array.of(20), rng.bytes(new Uint8Array(16)), ...lists.map((l) => sshString(ascii(l))), new Uint8Array(5)]);
}

function ecdhReply(rng: Rng): Uint8Array {
  const alg = ascii('ssh-ed25519');
  const hostKey = sshString(concat([sshString(alg), sshString(rng.bytes(new Uint8Array(32)))]));
  const sig = sshString(concat([sshString(alg), sshString(rng.bytes(new Uint8Array(64)))]));
  return concat([Uint8Array.of(31), hostKey, sshString(rng.bytes(new Uint8Array(32))), sig]);
}

function sshFixed(shape: FlowShape, seed: number) {
  const r = createRng(mixSeed(seed, 'ssh'));
  return {
    identC: ascii(shape.sshClient + '\r\n'),
    identS: ascii(shape.sshServer + '\r\n'),
    kexC: sshPacket(kexInit(r), r),
    kexS: sshPacket(kexInit(r), r),
    initC: sshPacket(concat([Uint8Array.of(30), sshString(r.bytes(new Uint8Array(32)))]), r),
    replyS: concat([sshPacket(ecdhReply(r), r), sshPacket(Uint8Array.of(21), r)]),
    newKeysC: sshPacket(Uint8Array.of(21), r),
  };
}

const SSH_SIZES = (() => {
  const f = sshFixed(flowShape(0), 0);
  return { kex: f.kexC.length, init: f.initC.length, reply: f.replyS.length, newKeys: f.newKeysC.length };
})();

function sshMinimum(shape: FlowShape): { client: number; server: number } {
  return {
    client: shape.sshClient.length + 2 + SSH_SIZES.kex + SSH_SIZES.init + SSH_SIZES.newKeys,
    server: shape.sshServer.length + 2 + SSH_SIZES.kex + SSH_SIZES.reply,
  };
}

/** After NEWKEYS everything is encrypted (RFC 4253 §7.3): interactive rounds of opaque bytes. */
function sshRounds(ec: number, es: number): number {
  return Math.max(1, Math.min(64, Math.floor(ec / 48), Math.floor(es / 48)));
}

function sshTurns(shape: FlowShape, client: number, server: number, seed: number, add: (toServer: boolean, size: number, bytes: () => Uint8Array) => void): void {
  const min = sshMinimum(shape);
  const ec = client - min.client;
  const es = server - min.server;
  const rounds = sshRounds(ec, es);
  const part = (total: number, i: number) => Math.floor(total / rounds) + (i < total % rounds ? 1 : 0);
  let f: ReturnType<typeof sshFixed> | undefined;
  const fixed = () => (f ??= sshFixed(shape, seed));
  const enc = createRng(mixSeed(seed, 'ssh-enc'));
  add(true, shape.sshClient.length + 2, () => fixed().identC);
  add(false, shape.sshServer.length + 2, () => fixed().identS);
  add(true, SSH_SIZES.kex, () => fixed().kexC);
  add(false, SSH_SIZES.kex, () => fixed().kexS);
  add(true, SSH_SIZES.init, () => fixed().initC);
  add(false, SSH_SIZES.reply, () => fixed().replyS);
  for (let i = 0; i < rounds; i++) {
    const c = part(ec, i);
    const s = part(es, i);
    if (i === 0) add(true, SSH_SIZES.newKeys + c, () => concat([fixed().newKeysC, opaqueBytes(new Uint8Array(c), enc)]));
    else add(true, c, () => opaqueBytes(new Uint8Array(c), enc));
    add(false, s, () => opaqueBytes(new Uint8Array(s), enc));
  }
}

// ---- DNS ----

const nameLengths = new Map<string, number>();
/** Wire length of a name (cached: flows ask for the same few names again and again). */
function nameLength(name: string): number {
  let n = nameLengths.get(name);
  if (n === undefined) {
    n = dns.nameEncodingLength(name);
    if (nameLengths.size >= 4096) nameLengths.clear();
    nameLengths.set(name, n);
  }
  return n;
}

/** Bytes of a query for `name` with EDNS(0) padding of `padding` bytes. */
export function dnsQuerySize(name: string, padding = 0): number {
  return 12 + nameLength(name) + 4 + 11 + 4 + padding;
}

export function dnsQuery(id: number, name: string, type: number, size: number): Uint8Array {
  const pad = size - dnsQuerySize(name);
  if (pad < 0) throw new RangeError(`DNS query of ${size} bytes is below the minimum ${dnsQuerySize(name)}`);
  return dns.encode({
    id,
    flags: dns.QUERY_FLAGS,
    questions: [{ name, type, class: dns.DnsClass.IN }],
    answers: [],
    authorities: [],
    additionals: [dns.optRecord(1232, pad)],
  });
}

/** Bytes of an answer for `name` carrying one record whose rdata is `rdata` bytes, with `padding`. */
export function dnsAnswerSize(name: string, rdata: number, padding = 0): number {
  const n = nameLength(name);
  return 12 + n + 4 + n + 10 + rdata + 11 + 4 + padding;
}

export function dnsAnswer(id: number, name: string, type: number, data: dns.DnsRecordData, size: number): Uint8Array {
  const m: dns.DnsMessage = {
    id,
    flags: dns.RESPONSE_FLAGS,
    questions: [{ name, type, class: dns.DnsClass.IN }],
    answers: [{ name, class: dns.DnsClass.IN, ttl: 300, data }],
    authorities: [],
    additionals: [dns.optRecord(1232, 0)],
  };
  const pad = size - dns.encodingLength(m);
  if (pad < 0) throw new RangeError(`DNS answer of ${size} bytes is below its minimum`);
  return dns.encode({ ...m, additionals: [dns.optRecord(1232, pad)] });
}

/** TXT rdata of exactly `size` bytes (≥ 1): 255-byte strings and a remainder. */
export function txtStrings(size: number, rng: Rng): Uint8Array[] {
  const strings: Uint8Array[] = [];
  let left = size;
  while (left > 256) {
    strings.push(base64ish(rng, 255));
    left -= 256;
  }
  strings.push(base64ish(rng, left - 1));
  return strings;
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function base64ish(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = B64.charCodeAt(rng.int(64));
  return out;
}

/**
 * Data labels of exactly `wire` bytes on the wire (≥ 2; length bytes
 * included): as many full 63-character labels as fit, then the rest.
 */
export function tunnelLabels(wire: number, rng: Rng): string {
  const sizes: number[] = [];
  let left = wire;
  while (left > 0) {
    // A lone length byte would be the root: leave at least two bytes for the last label.
    const take = left >= 64 ? (left - 64 === 1 ? 63 : 64) : left;
    sizes.push(take - 1);
    left -= take;
  }
  return sizes.map((n) => Array.from({ length: n }, () => B32[rng.int(32)]).join('')).join('.');
}

/**
 * A deliberately small BGP speaker for tests that must send bytes no real
 * daemon would: it builds messages by hand (independently of shadownet's
 * codec, so a codec bug cannot hide itself) and records what comes back.
 */
import { connect, type Socket } from 'node:net';
import { parseAddress, parsePrefix } from '../../../src/core/index.js';
import { sleep, waitFor } from './proc.js';

const MARKER = new Uint8Array(16).fill(0xff);

/** Flags + code + value as one path attribute (extended length when needed). */
export function rawAttribute(flags: number, code: number, value: Uint8Array | number[]): Uint8Array {
  const v = value instanceof Uint8Array ? value : Uint8Array.from(value);
  const ext = v.length > 255 || (flags & 0x10) !== 0;
  const out = new Uint8Array((ext ? 4 : 3) + v.length);
  out[0] = ext ? flags | 0x10 : flags;
  out[1] = code;
  if (ext) {
    out[2] = v.length >> 8;
    out[3] = v.length & 0xff;
    out.set(v, 4);
  } else {
    out[2] = v.length;
    out.set(v, 3);
  }
  return out;
}

const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** Well-formed attributes, for building UPDATEs around one bad one. */
export const attr = {
  origin: (o = 0): Uint8Array => rawAttribute(0x40, 1, [o]),
  /** One AS_SEQUENCE of 4-octet ASNs. */
  asPath: (asns: number[]): Uint8Array =>
    rawAttribute(0x40, 2, asns.length ? [2, asns.length, ...asns.flatMap(u32)] : []),
  nextHop: (ip: string): Uint8Array => rawAttribute(0x40, 3, parseAddress(ip)),
  med: (n: number): Uint8Array => rawAttribute(0x80, 4, u32(n)),
  localPref: (n: number): Uint8Array => rawAttribute(0x40, 5, u32(n)),
  atomicAggregate: (): Uint8Array => rawAttribute(0x40, 6, []),
  communities: (cs: [number, number][]): Uint8Array =>
    rawAttribute(0xc0, 8, cs.flatMap(([a, b]) => u32(((a << 16) | b) >>> 0))),
  largeCommunities: (ls: [number, number, number][]): Uint8Array => rawAttribute(0xc0, 32, ls.flatMap((l) => l.flatMap(u32))),
  /** MP_REACH_NLRI for IPv6 unicast with one global next hop. */
  mpReachIpv6: (nextHop: string, prefixes: string[]): Uint8Array =>
    rawAttribute(0x80, 14, [0, 2, 1, 16, ...parseAddress(nextHop), 0, ...prefixes.flatMap(nlriBytes)]),
  mpUnreachIpv6: (prefixes: string[]): Uint8Array => rawAttribute(0x80, 15, [0, 2, 1, ...prefixes.flatMap(nlriBytes)]),
};

/** Prefix as NLRI bytes: length, then the significant octets. */
export function nlriBytes(prefix: string): number[] {
  const p = parsePrefix(prefix);
  return [p.length, ...Array.from(p.address.subarray(0, Math.ceil(p.length / 8)))];
}

export function message(type: number, body: Uint8Array | number[]): Uint8Array {
  const b = body instanceof Uint8Array ? body : Uint8Array.from(body);
  const out = new Uint8Array(19 + b.length);
  out.set(MARKER, 0);
  out[16] = out.length >> 8;
  out[17] = out.length & 0xff;
  out[18] = type;
  out.set(b, 19);
  return out;
}

export interface RawUpdate {
  /** IPv4 prefixes to withdraw, or raw withdrawn-routes bytes. */
  withdrawn?: string[] | Uint8Array;
  attributes?: Uint8Array[];
  /** IPv4 prefixes to announce, or raw NLRI bytes. */
  nlri?: string[] | Uint8Array;
}

export function updateMessage(u: RawUpdate): Uint8Array {
  const w = u.withdrawn instanceof Uint8Array ? Array.from(u.withdrawn) : (u.withdrawn ?? []).flatMap(nlriBytes);
  const attrs = (u.attributes ?? []).flatMap((a) => Array.from(a));
  const nlri = u.nlri instanceof Uint8Array ? Array.from(u.nlri) : (u.nlri ?? []).flatMap(nlriBytes);
  return message(2, [w.length >> 8, w.length & 0xff, ...w, attrs.length >> 8, attrs.length & 0xff, ...attrs, ...nlri]);
}

export function openMessage(o: { asn: number; holdTime: number; routerId: string; families?: ('ipv4' | 'ipv6')[] }): Uint8Array {
  const caps: number[] = [];
  for (const f of o.families ?? ['ipv4', 'ipv6']) caps.push(1, 4, 0, f === 'ipv4' ? 1 : 2, 0, 1);
  caps.push(2, 0); // route refresh
  caps.push(65, 4, ...u32(o.asn)); // RFC 6793 four-octet AS
  const params = [2, caps.length, ...caps];
  const myAs = o.asn > 0xffff ? 23456 : o.asn;
  return message(1, [4, myAs >> 8, myAs & 0xff, o.holdTime >> 8, o.holdTime & 0xff, ...parseAddress(o.routerId), params.length, ...params]);
}

export const keepaliveMessage = (): Uint8Array => message(4, []);

export interface RawMessage {
  type: number;
  body: Uint8Array;
}

export interface Notification {
  code: number;
  subcode: number;
  data: Uint8Array;
}

export interface RawPeerOptions {
  host: string;
  port: number;
  /** Source address: speakers match peers by it. */
  localAddress: string;
  asn: number;
  routerId: string;
  holdTime?: number;
  families?: ('ipv4' | 'ipv6')[];
}

/** A TCP BGP session driven by the test, byte by byte if it likes. */
export class RawBgpPeer {
  readonly messages: RawMessage[] = [];
  closed = false;
  #buf = new Uint8Array(0);
  #closedPromise: Promise<void>;

  private constructor(readonly socket: Socket) {
    this.#closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        resolve();
      });
    });
    socket.on('error', () => {
      // close follows; the test looks at `closed` and the messages.
    });
    socket.on('data', (chunk: Buffer) => {
      const merged = new Uint8Array(this.#buf.length + chunk.length);
      merged.set(this.#buf);
      merged.set(chunk, this.#buf.length);
      let off = 0;
      while (merged.length - off >= 19) {
        const len = (merged[off + 16] << 8) | merged[off + 17];
        if (len < 19 || merged.length - off < len) break;
        this.messages.push({ type: merged[off + 18], body: merged.slice(off + 19, off + len) });
        if (merged[off + 18] === 4 && this.autoKeepalive) this.send(keepaliveMessage());
        off += len;
      }
      this.#buf = merged.slice(off);
    });
  }

  /** Answer every KEEPALIVE with one (keeps the session up without timers). */
  autoKeepalive = true;

  /** Opens the TCP connection from `localAddress` (no BGP messages yet). */
  static connect(o: { host: string; port: number; localAddress: string }): Promise<RawBgpPeer> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: o.host, port: o.port, localAddress: o.localAddress });
      s.once('connect', () => resolve(new RawBgpPeer(s)));
      s.once('error', reject);
    });
  }

  /** Connects, exchanges OPENs and KEEPALIVEs; resolves when Established. */
  static async establish(o: RawPeerOptions, timeoutMs = 10_000): Promise<RawBgpPeer> {
    const p = await RawBgpPeer.connect(o);
    p.send(openMessage({ asn: o.asn, holdTime: o.holdTime ?? 90, routerId: o.routerId, families: o.families }));
    await p.waitFor('OPEN from the speaker', (m) => m.type === 1, timeoutMs);
    p.send(keepaliveMessage());
    await p.waitFor('KEEPALIVE from the speaker', (m) => m.type === 4, timeoutMs);
    return p;
  }

  send(bytes: Uint8Array): void {
    if (!this.closed) this.socket.write(bytes);
  }

  sendUpdate(u: RawUpdate): void {
    this.send(updateMessage(u));
  }

  async waitFor(what: string, match: (m: RawMessage) => boolean, timeoutMs = 10_000): Promise<RawMessage> {
    return waitFor(what, () => {
      const m = this.messages.find(match);
      if (m) return m;
      if (this.closed) throw new Error(`connection closed before ${what}`);
      return undefined;
    }, timeoutMs, 20);
  }

  /** The first NOTIFICATION received, if any. */
  notification(): Notification | undefined {
    const m = this.messages.find((x) => x.type === 3);
    return m && { code: m.body[0], subcode: m.body[1], data: m.body.slice(2) };
  }

  /** Waits for the speaker to close the connection (or `timeoutMs`); true when it did. */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    return Promise.race([this.#closedPromise.then(() => true), sleep(timeoutMs).then(() => false)]);
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * The native UDP batch sender (native/udp-batch.c, built into
 * build/udp-batch.node by `npm install` / `npm run build`): one sendmmsg(2)
 * per up to 256 datagrams to one destination. Absent (not built, not Linux),
 * {@link udpBatch} answers null and the VXLAN target sends with Node's dgram,
 * one system call per datagram.
 */
import { createRequire } from 'node:module';
import { constants } from 'node:os';

export interface UdpBatch {
  /** A non-blocking unconnected UDP socket, bound when `bindAddress` or `bindPort` is given. Throws an Error with `code` on failure. */
  open(family: 4 | 6, bindAddress: Uint8Array | null, bindPort: number): number;
  /**
   * Send datagrams `data[offsets[i], offsets[i] + lengths[i])`, i < count, to
   * `address`:`port`; returns how many were handled (sent or refused). Refused
   * ones are counted in `errors[errno]`. Fewer than `count` means the socket
   * buffer is full.
   */
  send(fd: number, family: 4 | 6, address: Uint8Array, port: number, data: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, errors: Uint32Array): number;
  close(fd: number): void;
}

let loaded: UdpBatch | null | undefined;
let why = '';

/** The native sender, or null when it is not available ({@link udpBatchUnavailableReason} says why). */
export function udpBatch(): UdpBatch | null {
  if (loaded !== undefined) return loaded;
  try {
    loaded = createRequire(import.meta.url)('../../../build/udp-batch.node') as UdpBatch;
  } catch (err) {
    loaded = null;
    why = err instanceof Error ? err.message.split('\n')[0] : String(err);
  }
  return loaded;
}

/** Why {@link udpBatch} answered null ('' when it did not). */
export function udpBatchUnavailableReason(): string {
  return why;
}

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** Kebab-case reason for an errno number, as the dgram path names send errors: `send-econnrefused`. */
export function sendErrorReason(errno: number): string {
  const name = errnoNames.get(errno);
  return name ? `send-${name.toLowerCase()}` : 'send-failed';
}

/**
 * The native UDP batch sender (native/udp-batch.c, built into
 * build/udp-batch.node by `npm install` / `npm run build`): one sendmmsg(2)
 * per up to 256 datagrams to one destination, optionally with UDP GSO (see
 * {@link UdpBatch.send}). Absent (not built, not Linux), {@link udpBatch}
 * answers null and the VXLAN target sends with Node's dgram, one system call
 * per datagram.
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
   *
   * `gso` 1 asks for UDP generic segmentation offload (UDP_SEGMENT): a run of
   * datagrams of one length (at most one shorter one may end it) leaves as
   * one message the kernel cuts into the same datagrams, up to 64 datagrams
   * and 65,000 bytes a message. A GSO message the kernel refuses counts each
   * of its datagrams in `errors`. When the refusal means GSO is not possible
   * on this path (EINVAL, EIO, ENOPROTOOPT, EOPNOTSUPP, EMSGSIZE: no UDP GSO
   * in the kernel, a datagram larger than the route's MTU, no checksum
   * offload), its datagrams are sent one per message instead: nothing is
   * lost or sent twice. A size refusal (EINVAL, EMSGSIZE) lowers the largest
   * length grouped to just below the refused one for the rest of the call;
   * any other ends GSO for the call. Datagrams longer than `gsoMaxSize`
   * (when not 0) are never grouped.
   *
   * `gsoOut` (at least 2 entries), when given, is written by every call:
   * `gsoOut[0]` datagrams that left inside GSO messages, `gsoOut[1]` the
   * errno with which the kernel refused GSO (0 when it did not), and, with a
   * third entry, `gsoOut[2]` after a refusal: the largest length still
   * grouped (the caller passes it as `gsoMaxSize` from then on), or 0: stop
   * asking for GSO on this socket.
   */
  send(
    fd: number,
    family: 4 | 6,
    address: Uint8Array,
    port: number,
    data: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    errors: Uint32Array,
    gso?: 0 | 1,
    gsoOut?: Uint32Array,
    gsoMaxSize?: number,
  ): number;
  close(fd: number): void;
  /** Copy `src[srcOffsets[i], +lengths[i])` to `dst[dstOffsets[i]]` for i < count in one call; a range outside its array throws a RangeError before anything is copied. Absent in older builds. */
  copy?(dst: Uint8Array, dstOffsets: Uint32Array, src: Uint8Array, srcOffsets: Uint32Array, lengths: Uint32Array, count: number): void;
  /** `size` zeroed bytes starting on a 4096-byte boundary (O_DIRECT capture writes need aligned memory). Absent in older builds. */
  alignedBuffer?(size: number): ArrayBuffer;
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

/** The errno's name (`EMSGSIZE`), or `errno <n>` when the platform has none. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** Kebab-case reason for an errno number, as the dgram path names send errors: `send-econnrefused`. */
export function sendErrorReason(errno: number): string {
  const name = errnoNames.get(errno);
  return name ? `send-${name.toLowerCase()}` : 'send-failed';
}

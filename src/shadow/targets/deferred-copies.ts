/**
 * Byte ranges a target copies out of an engine batch into its own buffer,
 * gathered during the batch and copied in one call of the native helper
 * (native/udp-batch.c `copy`) when flushed: one typed-array copy per packet
 * costs an allocation and a call into the runtime each. Without the helper
 * every range is copied at once. Neither buffer may change before
 * {@link flush}: a target flushes at the end of each batch (the engine may
 * reuse the batch's buffers once `process` returns) and before it hands its
 * own buffer on; a change of either buffer flushes by itself.
 */
import { udpBatch, type UdpBatch } from './udp-batch.js';

export class DeferredCopies {
  readonly #copy: NonNullable<UdpBatch['copy']> | null;
  readonly #to: Uint32Array;
  readonly #from: Uint32Array;
  readonly #length: Uint32Array;
  #n = 0;
  #src: Uint8Array | null = null;
  #dst: Uint8Array | null = null;

  /** Up to `max` ranges wait for one call. */
  constructor(max = 1024) {
    const helper = udpBatch();
    this.#copy = helper?.copy ? helper.copy.bind(helper) : null;
    this.#to = new Uint32Array(max);
    this.#from = new Uint32Array(max);
    this.#length = new Uint32Array(max);
  }

  /** Copy `src[from, from + length)` to `dst[at]`, now or at the next {@link flush}. */
  add(dst: Uint8Array, at: number, src: Uint8Array, from: number, length: number): void {
    if (this.#copy === null) {
      dst.set(src.subarray(from, from + length), at);
      return;
    }
    if (src !== this.#src || dst !== this.#dst || this.#n === this.#to.length) {
      this.flush();
      this.#src = src;
      this.#dst = dst;
    }
    const n = this.#n++;
    this.#to[n] = at;
    this.#from[n] = from;
    this.#length[n] = length;
  }

  /** Make the copies gathered so far. */
  flush(): void {
    const n = this.#n;
    if (n === 0) return;
    this.#copy!(this.#dst!, this.#to, this.#src!, this.#from, this.#length, n);
    this.#n = 0;
    this.#src = this.#dst = null;
  }
}

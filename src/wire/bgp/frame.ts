/**
 * Stream framing for BGP over TCP: bytes arrive in arbitrary pieces; whole
 * messages come out. Marker and length are checked as soon as their bytes
 * arrive, so a bad header fails at once instead of waiting for a body that
 * may never come.
 */
import { checkMarker, checkMarkerAndLength } from './header.js';
import { HEADER_LENGTH, MAX_MESSAGE_LENGTH } from './types.js';

export class BgpFrameReader {
  private buf: Uint8Array;
  private start = 0;
  private end = 0;

  /** `maxLength`: 4096, or 65535 once RFC 8654 extended messages are negotiated. */
  constructor(private maxLength = MAX_MESSAGE_LENGTH) {
    this.buf = new Uint8Array(Math.max(maxLength, 4096));
  }

  /** Raise the limit (after OPEN negotiated extended messages). */
  setMaxLength(maxLength: number): void {
    this.maxLength = maxLength;
  }

  /** Bytes held that do not yet form a whole message. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Append bytes from the stream; throws BgpDecodeError if the pending header is already bad. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const held = this.end - this.start;
    if (this.end + chunk.length > this.buf.length) {
      if (held + chunk.length <= this.buf.length) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const grown = new Uint8Array(Math.max(this.buf.length * 2, held + chunk.length));
        grown.set(this.buf.subarray(this.start, this.end));
        this.buf = grown;
      }
      this.start = 0;
      this.end = held;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
    this.checkPending();
  }

  /** Drop `n` buffered bytes without returning them (e.g. after an error, to resynchronise in a file). */
  consume(n: number): void {
    this.start = Math.min(this.end, this.start + n);
  }

  /**
   * The next whole message (header included, a copy the caller may keep), or
   * null until enough bytes have arrived. Throws BgpDecodeError carrying the
   * RFC 4271 §6.1 NOTIFICATION for a bad marker or length.
   */
  next(): Uint8Array | null {
    const held = this.end - this.start;
    if (held < 18) {
      checkMarker(this.buf, this.start, held);
      return null;
    }
    const len = checkMarkerAndLength(this.buf, this.start, this.maxLength);
    if (held < len || held < HEADER_LENGTH) return null;
    const msg = this.buf.slice(this.start, this.start + len);
    this.start += len;
    if (this.start === this.end) this.start = this.end = 0;
    return msg;
  }

  private checkPending(): void {
    const held = this.end - this.start;
    if (held >= 18) checkMarkerAndLength(this.buf, this.start, this.maxLength);
    else checkMarker(this.buf, this.start, held);
  }
}


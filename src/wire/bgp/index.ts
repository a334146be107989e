/**
 * BGP-4 codec: pure functions over bytes (no I/O).
 * CONTRACT (implemented by the codec module files; signatures are fixed):
 */
import type { RouteAttributes } from '../../core/index.js';
import type { BgpMessage, DecodeContext, NlriPrefix, PathAttribute, UpdateIssue } from './types.js';

export * from './types.js';
export * from './errors.js';

const todo = (): never => {
  throw new Error('not implemented yet');
};

/** Decode one whole message (header included) at `offset`. Throws BgpDecodeError. */
export function decodeMessage(
  _buf: Uint8Array,
  _offset = 0,
  _ctx: DecodeContext = {},
): { value: BgpMessage; bytes: number } {
  return todo();
}
/** Encode a message (header included). Writes into `buf` at `offset` when given. */
export function encodeMessage(_msg: BgpMessage, _buf?: Uint8Array, _offset = 0, _ctx: DecodeContext = {}): Uint8Array {
  return todo();
}
export function encodingLength(_msg: BgpMessage, _ctx: DecodeContext = {}): number {
  return todo();
}
/** Decode a path attributes block (e.g. from MRT). RFC 7606 problems are returned as issues. */
export function decodePathAttributes(
  _buf: Uint8Array,
  _offset: number,
  _length: number,
  _ctx: DecodeContext = {},
): { attributes: PathAttribute[]; issues: UpdateIssue[] } {
  return todo();
}
export function encodePathAttributes(_attrs: readonly PathAttribute[], _ctx: DecodeContext = {}): Uint8Array {
  return todo();
}
/** Decode a run of NLRI prefixes in [offset, end). Throws BgpDecodeError. */
export function decodeNlri(_buf: Uint8Array, _offset: number, _end: number, _afi: 1 | 2, _addPath = false): NlriPrefix[] {
  return todo();
}
/** Normalise wire attributes into RouteAttributes (AS4_PATH / AS4_AGGREGATOR reconciled per RFC 6793 §4.2.3). */
export function toRouteAttributes(_attrs: readonly PathAttribute[], _ctx: DecodeContext = {}): RouteAttributes {
  return todo();
}
/** Incremental frame reader for a TCP stream. */
export class BgpFrameReader {
  constructor(_maxLength = 4096) {}
  push(_chunk: Uint8Array): void {
    todo();
  }
  next(): Uint8Array | null {
    return todo();
  }
}

/**
 * UPDATE message (RFC 4271 §4.3) with multiprotocol NLRI (RFC 4760), ADD-PATH
 * (RFC 7911) and RFC 7606 error handling.
 */
import { decodeAttributeBlock, attributesLength, encodeAttributesInto } from './attributes.js';
import { NotificationCode, UpdateSubcode } from './errors.js';
import { decodeHeader, encodeHeader, fail, maxLengthFor, readU16, writeU16 } from './header.js';
import { decodeNlriRun, encodeNlriRun, nlriRunLength, runHasPathIds } from './nlri.js';
import { AttrCode, HEADER_LENGTH, MessageType } from './types.js';
import type { DecodeContext, NlriPrefix, UpdateIssue, UpdateMessage } from './types.js';

const UPDATE_ERR = NotificationCode.UPDATE_MESSAGE;
const IPV4_UNICAST = '1/1';
const withdrawnSite = { field: 'update.withdrawn', subcode: UpdateSubcode.INVALID_NETWORK_FIELD };
const nlriSite = { field: 'update.nlri', subcode: UpdateSubcode.INVALID_NETWORK_FIELD };

function bodyLength(m: UpdateMessage, ctx: DecodeContext): number {
  const ap = ctx.addPathReceive?.has(IPV4_UNICAST) ?? false;
  return 4 + nlriRunLength(m.withdrawn, runHasPathIds(m.withdrawn, ap)) + attributesLength(m.attributes, ctx) + nlriRunLength(m.nlri, runHasPathIds(m.nlri, ap));
}

/**
 * Decode an UPDATE body in [start, end). Throws BgpDecodeError (session-reset)
 * when the NLRI cannot be located or parsed; other problems land in `issues`.
 */
export function decodeUpdateBody(buf: Uint8Array, start: number, end: number, ctx: DecodeContext): UpdateMessage {
  const malformed = (what: string, field: string, at: number): never =>
    fail(what, UPDATE_ERR, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, field, at);
  if (start + 4 > end) malformed('UPDATE body shorter than its two length fields', 'update', start);
  const wLen = readU16(buf, start);
  const wEnd = start + 2 + wLen;
  // RFC 4271 §6.3 / RFC 7606 §4: lengths inconsistent with the message length leave
  // the NLRI unlocatable → Malformed Attribute List, session reset.
  if (wEnd + 2 > end) malformed(`withdrawn routes length ${wLen} overruns the message`, 'update.withdrawnLength', start);
  const aLen = readU16(buf, wEnd);
  const aStart = wEnd + 2;
  const aEnd = aStart + aLen;
  if (aEnd > end) malformed(`total path attribute length ${aLen} overruns the message`, 'update.attributesLength', wEnd);
  const addPath = ctx.addPathReceive?.has(IPV4_UNICAST) ?? false;
  const withdrawn = decodeNlriRun(buf, start + 2, wEnd, 1, addPath, withdrawnSite);
  const block = decodeAttributeBlock(buf, aStart, aLen, ctx, start);
  const nlri = decodeNlriRun(buf, aEnd, end, 1, addPath, nlriSite);
  const issues: UpdateIssue[] = block.issues;
  let mpNlri = false;
  for (const a of block.attributes) {
    if (a.type === 'mp-reach' && (a.nlri.length > 0 || (a.rawNlri?.length ?? 0) > 0)) mpNlri = true;
  }
  if (nlri.length > 0 || mpNlri) {
    // RFC 7606 §3(d): a missing well-known mandatory attribute → treat-as-withdraw.
    // NEXT_HOP is only mandatory for NLRI in the NLRI field (RFC 4760 §3).
    const missing = (code: number, reason: string): void => {
      if (!block.present.has(code)) {
        issues.push({ action: 'treat-as-withdraw', attrCode: code, code: UPDATE_ERR, subcode: UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE, reason, offset: wEnd - start });
      }
    };
    missing(AttrCode.ORIGIN, 'missing-origin');
    missing(AttrCode.AS_PATH, 'missing-as-path');
    if (nlri.length > 0) missing(AttrCode.NEXT_HOP, 'missing-next-hop');
  }
  return { type: 'update', withdrawn, attributes: block.attributes, nlri, issues };
}

/** UPDATE message codec; works on whole messages, header included. */
export const updateCodec = {
  encodingLength(m: UpdateMessage, ctx: DecodeContext = {}): number {
    return HEADER_LENGTH + bodyLength(m, ctx);
  },

  encode(m: UpdateMessage, buf?: Uint8Array, offset = 0, ctx: DecodeContext = {}): Uint8Array {
    const len = HEADER_LENGTH + bodyLength(m, ctx);
    buf ??= new Uint8Array(offset + len);
    encodeHeader(buf, offset, len, MessageType.UPDATE);
    const ap = ctx.addPathReceive?.has(IPV4_UNICAST) ?? false;
    let o = offset + HEADER_LENGTH;
    const wLen = encodeNlriRun(m.withdrawn, buf, o + 2, runHasPathIds(m.withdrawn, ap));
    writeU16(buf, o, wLen);
    o += 2 + wLen;
    const aLen = encodeAttributesInto(m.attributes, buf, o + 2, ctx);
    writeU16(buf, o, aLen);
    o += 2 + aLen;
    encodeNlriRun(m.nlri, buf, o, runHasPathIds(m.nlri, ap));
    return buf;
  },

  decode(buf: Uint8Array, offset = 0, ctx: DecodeContext = {}): { value: UpdateMessage; bytes: number } {
    const h = decodeHeader(buf, offset, maxLengthFor(ctx));
    if (h.type !== MessageType.UPDATE) throw new RangeError(`not an UPDATE message (type ${h.type})`);
    return { value: decodeUpdateBody(buf, offset + HEADER_LENGTH, offset + h.length, ctx), bytes: h.length };
  },
};

/** True when an UPDATE is an End-of-RIB marker (RFC 4724 §2) for IPv4 unicast or, via MP_UNREACH, another family. */
export function endOfRibFamily(m: UpdateMessage): { afi: number; safi: number } | null {
  if (m.withdrawn.length > 0 || m.nlri.length > 0) return null;
  if (m.attributes.length === 0) return { afi: 1, safi: 1 };
  if (m.attributes.length === 1) {
    const a = m.attributes[0];
    if (a.type === 'mp-unreach' && a.withdrawn.length === 0 && (a.rawWithdrawn?.length ?? 0) === 0) return { afi: a.afi, safi: a.safi };
  }
  return null;
}

/** Every prefix an UPDATE announces (NLRI field and MP_REACH_NLRI). */
export function announcedPrefixes(m: UpdateMessage): NlriPrefix[] {
  const out = [...m.nlri];
  for (const a of m.attributes) if (a.type === 'mp-reach') out.push(...a.nlri);
  return out;
}

/** Every prefix an UPDATE withdraws (withdrawn field and MP_UNREACH_NLRI). */
export function withdrawnPrefixes(m: UpdateMessage): NlriPrefix[] {
  const out = [...m.withdrawn];
  for (const a of m.attributes) if (a.type === 'mp-unreach') out.push(...a.withdrawn);
  return out;
}

/** The strongest RFC 7606 action among an UPDATE's issues, or null when it is clean. */
export function strongestIssueAction(issues: readonly UpdateIssue[]): UpdateIssue['action'] | null {
  let best: UpdateIssue['action'] | null = null;
  for (const i of issues) {
    if (i.action === 'treat-as-withdraw') return 'treat-as-withdraw';
    best = 'attribute-discard';
  }
  return best;
}


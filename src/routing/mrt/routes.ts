/**
 * Routes out of an MRT file, for replay: RIB entries of TABLE_DUMP and
 * TABLE_DUMP_V2 become announcements, BGP4MP UPDATEs become announcements
 * and withdrawals (IPv4 NLRI field and MP_REACH/MP_UNREACH, unicast only),
 * and BGP4MP state changes become `state` items, all in file order.
 */
import type { Prefix, RouteAttributes } from '../../core/index.js';
import { SessionState } from '../../core/types.js';
import {
  decodeMessage,
  decodePathAttributes,
  toRouteAttributes,
  type DecodeContext,
  type NlriPrefix,
  type PathAttribute,
} from '../../wire/bgp/index.js';
import { MrtDecodeError, type MrtBody, type MrtPeerEntry, type MrtRecord } from '../../wire/mrt.js';
import { newMrtReadStats, readMrt, type MrtSource, type ReadMrtOptions } from './reader.js';

export interface MrtPeer {
  readonly address: string;
  readonly asn: number;
  readonly bgpId?: string;
}

export type MrtRoute =
  | {
      readonly type: 'route';
      /** Milliseconds since the epoch (record time, with microseconds for _ET records). */
      readonly time: number;
      readonly peer: MrtPeer;
      readonly action: 'announce' | 'withdraw';
      readonly prefix: Prefix;
      readonly pathId?: number;
      /** Present on announcements. */
      readonly attributes?: RouteAttributes;
    }
  | {
      readonly type: 'state';
      readonly time: number;
      readonly peer: MrtPeer;
      readonly from: SessionState | 'unknown';
      readonly to: SessionState | 'unknown';
      /** RFC 6396 §4.4.1 state codes as recorded. */
      readonly fromCode: number;
      readonly toCode: number;
    };

export interface MrtRoutesOptions extends ReadMrtOptions {
  /** Also replay messages the recording speaker sent (MESSAGE_LOCAL subtypes). Default false. */
  includeLocal?: boolean;
  /** Keep at most this many distinct attribute sets shared between RIB entries. Default 50,000. */
  internLimit?: number;
}

const STATE_BY_CODE: Record<number, SessionState> = {
  1: SessionState.IDLE,
  2: SessionState.CONNECT,
  3: SessionState.ACTIVE,
  4: SessionState.OPEN_SENT,
  5: SessionState.OPEN_CONFIRM,
  6: SessionState.ESTABLISHED,
};

const TABLE_CTX: DecodeContext = { fourOctetAs: true, mpReachNextHopOnly: true };
const TABLE_DUMP_CTX: DecodeContext = { fourOctetAs: false, mpReachNextHopOnly: true };
const ADDPATH_ALL: ReadonlySet<string> = new Set(['1/1', '1/2', '2/1', '2/2']);

function recordTime(r: MrtRecord): number {
  return r.timestamp * 1000 + Math.floor((r.microseconds ?? 0) / 1000);
}

function stripPathId(p: NlriPrefix): Prefix {
  return { afi: p.afi, length: p.length, address: p.address };
}

/**
 * Replay items from an MRT file or stream. Records that do not decode (or
 * whose BGP content is malformed) are skipped, counted in `stats.badRecords`
 * and reported through `onBadRecord`; the rest are still delivered.
 */
export async function* mrtRoutes(source: MrtSource, opts: MrtRoutesOptions = {}): AsyncGenerator<MrtRoute> {
  const stats = opts.stats ?? newMrtReadStats();
  const internLimit = opts.internLimit ?? 50_000;
  let peers: readonly MrtPeerEntry[] | undefined;
  const interned = new Map<string, RouteAttributes>();
  let index = 0;

  const attributesOf = (bytes: Uint8Array, ctx: DecodeContext): RouteAttributes => {
    const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    const hit = interned.get(key);
    if (hit) return hit;
    const { attributes } = decodePathAttributes(bytes, 0, bytes.length, ctx);
    const ra = toRouteAttributes(attributes, ctx);
    if (interned.size >= internLimit) interned.clear();
    interned.set(key, ra);
    return ra;
  };

  for await (const record of readMrt(source, { ...opts, stats })) {
    const items: MrtRoute[] = [];
    try {
      expand(record, record.body);
    } catch (err) {
      stats.records--;
      stats.badRecords++;
      const e =
        err instanceof MrtDecodeError
          ? err
          : new MrtDecodeError(`record content does not decode: ${(err as Error).message}`, 'body', 12, undefined, {
              cause: err,
            });
      opts.onBadRecord?.(e, { index, offset: -1 });
      if (opts.strict) throw e;
      items.length = 0;
    }
    index++;
    for (const it of items) yield it;

    function expand(r: MrtRecord, b: MrtBody): void {
      const time = recordTime(r);
      switch (b.kind) {
        case 'peer-index-table':
          peers = b.peers;
          return;
        case 'rib': {
          if (b.safi !== 1) return;
          if (!peers) throw new MrtDecodeError('RIB record before any PEER_INDEX_TABLE', 'peerIndexTable', 12);
          for (const e of b.entries) {
            const p = peers[e.peerIndex];
            if (!p) throw new MrtDecodeError(`peer index ${e.peerIndex} is not in the peer table`, 'peerIndex', 12);
            items.push({
              type: 'route',
              time,
              peer: { address: p.address, asn: p.asn, bgpId: p.bgpId },
              action: 'announce',
              prefix: b.prefix,
              ...(b.addPath ? { pathId: e.pathId } : {}),
              attributes: attributesOf(e.attributes, TABLE_CTX),
            });
          }
          return;
        }
        case 'table-dump':
          items.push({
            type: 'route',
            time,
            peer: { address: b.peerAddress, asn: b.peerAs },
            action: 'announce',
            prefix: b.prefix,
            attributes: attributesOf(b.attributes, TABLE_DUMP_CTX),
          });
          return;
        case 'bgp4mp-state-change':
          items.push({
            type: 'state',
            time,
            peer: { address: b.peerAddress, asn: b.peerAs },
            from: STATE_BY_CODE[b.oldState] ?? 'unknown',
            to: STATE_BY_CODE[b.newState] ?? 'unknown',
            fromCode: b.oldState,
            toCode: b.newState,
          });
          return;
        case 'bgp4mp-message': {
          if (b.local && !opts.includeLocal) return;
          const ctx: DecodeContext = {
            fourOctetAs: b.asnBytes === 4,
            extendedMessage: true,
            unknownMessageTypes: 'keep',
            checkOpen: false,
            ...(b.addPath ? { addPathReceive: ADDPATH_ALL } : {}),
          };
          const msg = decodeMessage(b.message, 0, ctx).value;
          if (msg.type !== 'update') return;
          const peer: MrtPeer = { address: b.peerAddress, asn: b.peerAs };
          // RFC 7606 §2: an UPDATE with a treat-as-withdraw problem withdraws what it announces.
          const treatAsWithdraw = msg.issues.some((i) => i.action === 'treat-as-withdraw');
          const withdraw = (p: NlriPrefix): void => {
            items.push({ type: 'route', time, peer, action: 'withdraw', prefix: stripPathId(p), ...(p.pathId !== undefined ? { pathId: p.pathId } : {}) });
          };
          for (const p of msg.withdrawn) withdraw(p);
          for (const a of msg.attributes) if (a.type === 'mp-unreach' && a.safi === 1) for (const p of a.withdrawn) withdraw(p);
          const announced: NlriPrefix[] = [...msg.nlri];
          for (const a of msg.attributes as readonly PathAttribute[]) if (a.type === 'mp-reach' && a.safi === 1) announced.push(...a.nlri);
          if (announced.length === 0) return;
          if (treatAsWithdraw) {
            for (const p of announced) withdraw(p);
            return;
          }
          const attributes = toRouteAttributes(msg.attributes, ctx);
          for (const p of announced) {
            items.push({
              type: 'route',
              time,
              peer,
              action: 'announce',
              prefix: stripPathId(p),
              ...(p.pathId !== undefined ? { pathId: p.pathId } : {}),
              attributes,
            });
          }
          return;
        }
        default:
          return;
      }
    }
  }
}

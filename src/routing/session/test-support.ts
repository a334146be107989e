/**
 * Helpers for tests that run speakers over loopback TCP. Not exported from
 * the session index.
 */
import { RealClock, type Clock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import type { SessionState } from '../../core/types.js';
import type { UpdateMessage } from '../../wire/bgp/index.js';
import type { BgpPeer, PeerSettings, StateChangeNotification } from './peer.js';
import { BgpSpeaker } from './speaker.js';

export interface Recorded {
  states: {
    peer: string;
    from: SessionState;
    to: SessionState;
    reason: string;
    notification?: StateChangeNotification;
  }[];
  updates: { peer: string; update: UpdateMessage }[];
  eor: { peer: string; afi: number; safi: number }[];
  refused: { address: string; port: number; reason: string }[];
  refresh: { peer: string; afi: number; safi: number }[];
  errors: { peer: string; err: Error }[];
}

export function recordingSpeaker(opts: {
  name: string;
  localAs: number;
  routerId: string;
  listen: { address: string; port: number } | null;
  peers: PeerSettings[];
  clock?: Clock;
}): { speaker: BgpSpeaker; rec: Recorded } {
  const rec: Recorded = { states: [], updates: [], eor: [], refused: [], refresh: [], errors: [] };
  const speaker = new BgpSpeaker({
    ...opts,
    clock: opts.clock ?? new RealClock(),
    logger: silentLogger(),
    handlers: {
      onStateChange: (p: BgpPeer, from, to, reason, notification) =>
        rec.states.push({ peer: p.address, from, to, reason, ...(notification ? { notification } : {}) }),
      onUpdate: (p, update) => rec.updates.push({ peer: p.address, update }),
      onEndOfRib: (p, afi, safi) => rec.eor.push({ peer: p.address, afi, safi }),
      onRefused: (address, port, reason) => rec.refused.push({ address, port, reason }),
      onRouteRefresh: (p, afi, safi) => rec.refresh.push({ peer: p.address, afi, safi }),
      onPeerError: (p, err) => rec.errors.push({ peer: p.address, err }),
    },
  });
  return { speaker, rec };
}

/** Poll `cond` until it holds (tests only; fails after `ms`). */
export async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

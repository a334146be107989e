/**
 * Budgets: token buckets limiting the bits per second and packets per second
 * that a session, and a copy target, may send. Buckets run on packet time
 * (the `tsSec`/`tsNsec` of the batch), so replaying a capture gives the same
 * decisions every time; packet time going backwards refills nothing.
 *
 * A bucket holds at most `burst = rate × burstSeconds` and starts full. A
 * packet costs its copied length × 8 bits and one packet; it passes when
 * every bucket it draws on holds the cost, and then all of them are charged
 * (a packet refused by one bucket costs the others nothing).
 *
 * Priority on a shared target: the sessions copying to one target are ranked
 * by priority (rank 0 = the most urgent priority value among them, equal
 * priorities share a rank; `levels` = number of distinct priorities). A
 * session of rank k may draw only while the target's buckets keep, after the
 * draw, a reserve of `burst × k / levels`. So the most urgent sessions may
 * empty the bucket, and as the target nears its budget the least urgent
 * shed first. With spare budget every session still reaches the full rate.
 *
 * Every refused packet is counted by reason: `session-budget` (the session's
 * own bucket), `target-budget` (the target's bucket is empty for anyone),
 * `target-budget-reserved-for-higher-priority` (what is left is kept for
 * more urgent sessions).
 */

/** Why a packet was shed (0: it was not). */
export const ShedReason = { NONE: 0, SESSION_BUDGET: 1, TARGET_BUDGET: 2, TARGET_RESERVED: 3 } as const;
export type ShedReason = (typeof ShedReason)[keyof typeof ShedReason];

const SHED_NAMES = ['none', 'session-budget', 'target-budget', 'target-budget-reserved-for-higher-priority'];
/** kebab-case name of a shed reason, `UNKNOWN_<n>` for others. */
export const shedReasonName = (r: number): string => SHED_NAMES[r] ?? `UNKNOWN_${r}`;

/** A budget as configured (`budget:` of a session or target). */
export interface BudgetConfig {
  readonly bitsPerSecond?: number;
  readonly packetsPerSecond?: number;
  /** Depth of the buckets in seconds of their rate (default 1). */
  readonly burstSeconds?: number;
}

/** A token bucket on packet time. */
export class TokenBucket {
  /** Tokens held now (as of the last refill). */
  tokens: number;
  #sec = NaN;
  #nsec = 0;

  constructor(
    /** Tokens added per second. */
    readonly rate: number,
    /** Capacity. */
    readonly burst: number,
  ) {
    if (!(rate > 0) || !(burst > 0)) throw new RangeError(`a token bucket needs a positive rate and burst, got rate ${rate}, burst ${burst}`);
    this.tokens = burst;
  }

  /** Add what accrued between the last refill and `tsSec`.`tsNsec`. */
  refill(tsSec: number, tsNsec: number): void {
    if (this.#sec !== this.#sec) {
      this.#sec = tsSec;
      this.#nsec = tsNsec;
      return;
    }
    const dt = tsSec - this.#sec + (tsNsec - this.#nsec) / 1e9;
    if (dt <= 0) return;
    this.#sec = tsSec;
    this.#nsec = tsNsec;
    const t = this.tokens + dt * this.rate;
    this.tokens = t > this.burst ? this.burst : t;
  }

  /** True when `cost` can be taken while keeping `reserve` tokens. */
  fits(cost: number, reserve = 0): boolean {
    return this.tokens - cost >= reserve;
  }

  take(cost: number): void {
    this.tokens -= cost;
  }
}

/** The bits and packets buckets of one budget (either may be absent). */
export class RateLimit {
  readonly bits: TokenBucket | null;
  readonly packets: TokenBucket | null;

  constructor(readonly config: BudgetConfig) {
    const burst = config.burstSeconds ?? 1;
    this.bits = config.bitsPerSecond ? new TokenBucket(config.bitsPerSecond, config.bitsPerSecond * burst) : null;
    this.packets = config.packetsPerSecond ? new TokenBucket(config.packetsPerSecond, Math.max(1, config.packetsPerSecond * burst)) : null;
  }

  refill(tsSec: number, tsNsec: number): void {
    this.bits?.refill(tsSec, tsNsec);
    this.packets?.refill(tsSec, tsNsec);
  }

  /** True when `bytes` (and one packet) fit while keeping `reserveFraction` of each bucket's burst. */
  fits(bytes: number, reserveFraction = 0): boolean {
    const b = this.bits;
    if (b !== null && !b.fits(bytes * 8, b.burst * reserveFraction)) return false;
    const p = this.packets;
    return p === null || p.fits(1, p.burst * reserveFraction);
  }

  take(bytes: number): void {
    this.bits?.take(bytes * 8);
    this.packets?.take(1);
  }
}

/** What {@link Budgets} needs of a session. */
export interface BudgetedSession {
  readonly name: string;
  readonly priority: number;
  readonly target: string;
  readonly budget?: BudgetConfig;
  readonly enabled?: boolean;
}

/** What {@link Budgets} needs of a target. */
export interface BudgetedTarget {
  readonly name: string;
  readonly budget?: BudgetConfig;
}

const sameConfig = (a: BudgetConfig, b: BudgetConfig | undefined): boolean =>
  b !== undefined && a.bitsPerSecond === b.bitsPerSecond && a.packetsPerSecond === b.packetsPerSecond && (a.burstSeconds ?? 1) === (b.burstSeconds ?? 1);

/**
 * The budgets of every session and target. Sessions are addressed by their
 * index in the list given (the same indexes the classifier returns).
 */
export class Budgets {
  readonly #session: (RateLimit | null)[];
  readonly #target: (RateLimit | null)[];
  /** Target slot of each session (-1: unknown target, no target budget). */
  readonly #targetOf: Int32Array;
  /** Reserve fraction of each session on its target. */
  readonly #reserve: Float64Array;
  readonly #sessionNames: string[];
  readonly #targetNames: string[];
  readonly #targetIndex = new Map<string, number>();
  /** Shed packets of each session (by index), keyed by reason. */
  readonly sessionShed: Record<string, number>[];
  /** Shed packets of each target (by name), keyed by reason. */
  readonly targetShed: Record<string, Record<string, number>> = {};

  /**
   * `previous`: the budgets this one replaces; buckets of sessions and
   * targets with the same name and budget keep their level, counters carry over.
   */
  constructor(sessions: readonly BudgetedSession[], targets: readonly BudgetedTarget[], previous?: Budgets) {
    targets.forEach((t, i) => this.#targetIndex.set(t.name, i));
    this.#targetNames = targets.map((t) => t.name);
    this.#target = targets.map((t) => {
      if (!t.budget) return null;
      const old = (previous ? previous.#targetLimit(t.name) : null);
      return old && sameConfig(old.config, t.budget) ? old : new RateLimit(t.budget);
    });
    for (const t of targets) this.targetShed[t.name] = { ...(previous?.targetShed[t.name] ?? {}) };
    this.#sessionNames = sessions.map((s) => s.name);
    this.#session = sessions.map((s) => {
      if (!s.budget) return null;
      const old = (previous ? previous.#sessionLimit(s.name) : null);
      return old && sameConfig(old.config, s.budget) ? old : new RateLimit(s.budget);
    });
    this.sessionShed = sessions.map((s) => ({ ...(previous?.shedOf(s.name) ?? {}) }));
    this.#targetOf = Int32Array.from(sessions.map((s) => this.#targetIndex.get(s.target) ?? -1));
    this.#reserve = new Float64Array(sessions.length);
    for (const t of targets) {
      const mine = sessions.filter((s) => s.target === t.name && s.enabled !== false);
      const levels = [...new Set(mine.map((s) => s.priority))].sort((a, b) => a - b);
      sessions.forEach((s, i) => {
        if (s.target === t.name) {
          const rank = levels.indexOf(s.priority);
          this.#reserve[i] = rank <= 0 ? 0 : rank / levels.length;
        }
      });
    }
  }

  /**
   * Decide whether session `session` may send a copy of `bytes` bytes at
   * packet time `tsSec`.`tsNsec`; charges the buckets when it may, counts
   * the reason when it may not. Returns {@link ShedReason.NONE} or the reason.
   */
  admit(session: number, bytes: number, tsSec: number, tsNsec: number): ShedReason {
    const s = this.#session[session];
    if (s !== null) {
      s.refill(tsSec, tsNsec);
      if (!s.fits(bytes)) return this.#shed(session, ShedReason.SESSION_BUDGET);
    }
    const ti = this.#targetOf[session];
    const t = ti < 0 ? null : this.#target[ti];
    if (t !== null) {
      t.refill(tsSec, tsNsec);
      const reserve = this.#reserve[session];
      if (!t.fits(bytes, reserve)) return this.#shed(session, t.fits(bytes) ? ShedReason.TARGET_RESERVED : ShedReason.TARGET_BUDGET);
      t.take(bytes);
    }
    s?.take(bytes);
    return ShedReason.NONE;
  }

  /** The reserve fraction session `session` must leave in its target's buckets. */
  reserveOf(session: number): number {
    return this.#reserve[session];
  }

  /** Shed counters of a session by name (empty when unknown). */
  shedOf(name: string): Record<string, number> {
    const i = this.#sessionNames.indexOf(name);
    return i < 0 ? {} : this.sessionShed[i];
  }

  #sessionLimit(name: string): RateLimit | null {
    const i = this.#sessionNames.indexOf(name);
    return i < 0 ? null : this.#session[i];
  }

  #targetLimit(name: string): RateLimit | null {
    const i = this.#targetIndex.get(name);
    return i === undefined ? null : this.#target[i];
  }

  #shed(session: number, reason: ShedReason): ShedReason {
    const name = SHED_NAMES[reason];
    const c = this.sessionShed[session];
    c[name] = (c[name] ?? 0) + 1;
    const ti = this.#targetOf[session];
    if (ti >= 0 && reason !== ShedReason.SESSION_BUDGET) {
      const tc = this.targetShed[this.#targetNames[ti]];
      tc[name] = (tc[name] ?? 0) + 1;
    }
    return reason;
  }
}

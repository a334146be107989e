/**
 * Time for every component. Nothing in shadownet calls `Date.now()` or
 * `setTimeout` directly: it asks its {@link Clock}, so the emulator's
 * simulated clock can run a week in seconds, deterministically.
 */
export interface Timer {
  /** Cancel the timer; safe to call more than once or after it fired. */
  cancel(): void;
  /** True while the timer is armed. */
  readonly active: boolean;
}

export interface Clock {
  /** Milliseconds since the Unix epoch (simulated or real). */
  now(): number;
  /** Run `fn` once after `ms` milliseconds. */
  setTimer(ms: number, fn: () => void): Timer;
  /** Run `fn` every `ms` milliseconds until cancelled. */
  setRepeating(ms: number, fn: () => void): Timer;
}

/** The wall clock. */
export class RealClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimer(ms: number, fn: () => void): Timer {
    let active = true;
    const handle = setTimeout(() => {
      active = false;
      fn();
    }, Math.max(0, ms));
    handle.unref?.();
    return {
      cancel() {
        active = false;
        clearTimeout(handle);
      },
      get active() {
        return active;
      },
    };
  }

  setRepeating(ms: number, fn: () => void): Timer {
    let active = true;
    const handle = setInterval(fn, Math.max(1, ms));
    handle.unref?.();
    return {
      cancel() {
        active = false;
        clearInterval(handle);
      },
      get active() {
        return active;
      },
    };
  }
}

interface Scheduled {
  at: number;
  seq: number;
  fn: () => void;
  every: number;
  active: boolean;
}

/**
 * A clock that moves only when told to. Timers due at the same instant fire
 * in the order they were set, so a run is repeatable for a given input.
 */
export class SimulatedClock implements Clock {
  #now: number;
  #seq = 0;
  #queue: Scheduled[] = [];

  constructor(startMs = Date.UTC(2026, 0, 5, 0, 0, 0)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): Timer {
    return this.#schedule(ms, fn, 0);
  }

  setRepeating(ms: number, fn: () => void): Timer {
    return this.#schedule(ms, fn, Math.max(1, ms));
  }

  /** Number of armed timers. */
  get pending(): number {
    return this.#queue.filter((s) => s.active).length;
  }

  /** Time of the next armed timer, or undefined. */
  nextAt(): number | undefined {
    this.#compact();
    return this.#queue[0]?.at;
  }

  /** Move time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  /** Move time forward to `t`, firing due timers in order. */
  advanceTo(t: number): void {
    for (;;) {
      this.#compact();
      const head = this.#queue[0];
      if (!head || head.at > t) break;
      this.#queue.shift();
      this.#now = Math.max(this.#now, head.at);
      if (head.every > 0) {
        head.at += head.every;
        head.seq = this.#seq++;
        this.#insert(head);
      } else {
        head.active = false;
      }
      head.fn();
    }
    if (t > this.#now) this.#now = t;
  }

  #schedule(ms: number, fn: () => void, every: number): Timer {
    const s: Scheduled = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, every, active: true };
    this.#insert(s);
    return {
      cancel: () => {
        s.active = false;
      },
      get active() {
        return s.active;
      },
    };
  }

  #insert(s: Scheduled): void {
    // Binary search keeps the queue ordered by (at, seq).
    let lo = 0;
    let hi = this.#queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.#queue[mid];
      if (m.at < s.at || (m.at === s.at && m.seq < s.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.#queue.splice(lo, 0, s);
  }

  #compact(): void {
    while (this.#queue.length > 0 && !this.#queue[0].active) this.#queue.shift();
  }
}

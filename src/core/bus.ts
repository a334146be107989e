/**
 * The Bus joins components. Topics are dot-separated tokens with NATS
 * semantics for subscriptions: `*` matches one token, `>` the rest
 * (`routing.events.>`). The in-process bus delivers synchronously, in publish
 * order, so events from one producer reach every subscriber in order.
 */
export interface Subscription {
  unsubscribe(): void;
}

export type BusHandler<T = unknown> = (message: T, topic: string) => void;

export interface Bus {
  publish<T>(topic: string, message: T): void;
  subscribe<T>(pattern: string, handler: BusHandler<T>): Subscription;
  close(): Promise<void>;
}

/** What the in-process bus counts, for metrics and tests. */
export interface BusStats {
  published: number;
  delivered: number;
  handlerErrors: number;
}

interface Sub {
  tokens: string[];
  exact: string | null;
  handler: BusHandler<unknown>;
  active: boolean;
}

export function topicMatches(pattern: string, topic: string): boolean {
  return matchTokens(pattern.split('.'), topic.split('.'));
}

function matchTokens(p: string[], t: string[]): boolean {
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return t.length > i;
    if (i >= t.length) return false;
    if (p[i] !== '*' && p[i] !== t[i]) return false;
  }
  return p.length === t.length;
}

/**
 * Synchronous in-process bus. A handler that throws is counted and reported
 * to `onHandlerError`; it never stops delivery to the other subscribers.
 */
export class InProcessBus implements Bus {
  readonly stats: BusStats = { published: 0, delivered: 0, handlerErrors: 0 };
  #exact = new Map<string, Sub[]>();
  #wild: Sub[] = [];
  /** Subscribers per concrete topic, computed once: publishing then costs one Map lookup. */
  #routes = new Map<string, Sub[]>();
  #closed = false;

  constructor(private readonly onHandlerError?: (err: unknown, topic: string) => void) {}

  publish<T>(topic: string, message: T): void {
    if (this.#closed) return;
    this.stats.published++;
    let subs = this.#routes.get(topic);
    if (!subs) {
      subs = this.#match(topic);
      if (this.#routes.size >= 10_000) this.#routes.clear();
      this.#routes.set(topic, subs);
    }
    for (let i = 0; i < subs.length; i++) this.#deliver(subs[i], message, topic);
  }

  #match(topic: string): Sub[] {
    const tokens = topic.split('.');
    return [...(this.#exact.get(topic) ?? []), ...this.#wild.filter((s) => matchTokens(s.tokens, tokens))];
  }

  /** True when someone listens on `topic`; lets producers skip building messages nobody reads. */
  hasSubscribers(topic: string): boolean {
    let subs = this.#routes.get(topic);
    if (!subs) {
      subs = this.#match(topic);
      this.#routes.set(topic, subs);
    }
    return subs.length > 0;
  }

  subscribe<T>(pattern: string, handler: BusHandler<T>): Subscription {
    const tokens = pattern.split('.');
    const wild = tokens.some((t) => t === '*' || t === '>');
    const sub: Sub = { tokens, exact: wild ? null : pattern, handler: handler as BusHandler<unknown>, active: true };
    if (wild) this.#wild = [...this.#wild, sub];
    else this.#exact.set(pattern, [...(this.#exact.get(pattern) ?? []), sub]);
    this.#routes.clear();
    return {
      unsubscribe: () => {
        if (!sub.active) return;
        sub.active = false;
        // Copy-on-write so a publish in progress keeps a stable list.
        if (wild) this.#wild = this.#wild.filter((s) => s !== sub);
        else {
          const rest = (this.#exact.get(pattern) ?? []).filter((s) => s !== sub);
          if (rest.length) this.#exact.set(pattern, rest);
          else this.#exact.delete(pattern);
        }
        // Copy-on-write: lists handed out earlier stay valid for a publish in progress.
        this.#routes = new Map();
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#exact.clear();
    this.#wild = [];
    this.#routes.clear();
  }

  #deliver(s: Sub, message: unknown, topic: string): void {
    if (!s.active) return;
    try {
      s.handler(message, topic);
      this.stats.delivered++;
    } catch (err) {
      this.stats.handlerErrors++;
      this.onHandlerError?.(err, topic);
    }
  }
}

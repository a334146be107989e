/**
 * The routing script of an emulation: announcements, withdrawals and
 * failovers of the appliances at set offsets from the start, plus the routing
 * attacks (prefix hijack, route leak) announced at their `at` and withdrawn
 * after their `duration`. Steps are scheduled on the injected Clock, so a
 * simulated clock runs a week's script in no time and in a repeatable order.
 */
import { ShadownetError, type Clock, type Timer } from '../../core/index.js';
import type { ShadownetConfig } from '../config.js';
import type { ApplianceFleet } from './appliances.js';
import { AttackPlan, parseOffset, type RoutingAttack } from './attacks.js';

export const ScriptErrorCode = {
  /** An `at` (or duration) that is not "1d2h30m", "90m", "45s", "500ms" or a number of seconds. */
  BAD_DURATION: 'SHADOWNET_ERR_SCRIPT_DURATION',
  /** A step that cannot be run (failover without `to`, ...). */
  BAD_STEP: 'SHADOWNET_ERR_SCRIPT_STEP',
} as const;
export type ScriptErrorCode = (typeof ScriptErrorCode)[keyof typeof ScriptErrorCode];

export class ScriptError extends ShadownetError {
  constructor(code: ScriptErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ScriptError';
  }
}

export { parseOffset };

/** What the script did, told as it happens. Times are from the script's clock. */
export type ScriptAction =
  | { readonly type: 'announce' | 'withdraw'; readonly time: number; readonly step: number; readonly vnet: string; readonly node: string; readonly prefix: string }
  | { readonly type: 'failover'; readonly time: number; readonly step: number; readonly vnet: string; readonly node: string; readonly to: string; readonly prefix: string }
  | {
      readonly type: 'attack-start' | 'attack-end';
      readonly time: number;
      readonly label: string;
      readonly kind: RoutingAttack['kind'];
      readonly vnet: string;
      readonly node: string;
      readonly prefix: string;
      readonly asPath: readonly number[];
    }
  | { readonly type: 'error'; readonly time: number; readonly what: string; readonly message: string };

/** One scheduled entry, in the order it will run. */
export interface ScheduledStep {
  /** ms of the script's clock. */
  readonly at: number;
  readonly describe: string;
}

export interface ScriptRunnerOptions {
  readonly config: ShadownetConfig;
  /** The appliances that carry the announcements out (the subset of the API used is small for tests to fake). */
  readonly fleet: Pick<ApplianceFleet, 'announce' | 'withdraw'>;
  readonly clock: Clock;
  /** The emulation's start (ms since the epoch); offsets count from here. Default `emulation.start`. */
  readonly startMs?: number;
  /** The attack plan whose routing attacks to run; default one built from the config and `startMs`. */
  readonly attacks?: AttackPlan;
  readonly onAction?: (a: ScriptAction) => void;
}

interface Entry {
  at: number;
  describe: string;
  run: () => void;
}

/** Runs `emulation.script` and the routing attacks of `emulation.attacks` on a clock. */
export class ScriptRunner {
  readonly startMs: number;
  /** Everything done so far, in order. */
  readonly actions: ScriptAction[] = [];
  readonly #opts: ScriptRunnerOptions;
  readonly #entries: Entry[] = [];
  #timers: Timer[] = [];

  constructor(opts: ScriptRunnerOptions) {
    this.#opts = opts;
    const em = opts.config.emulation;
    this.startMs = opts.startMs ?? Date.parse(em?.start ?? '2026-01-05T00:00:00Z');
    const fleet = opts.fleet;
    const clock = opts.clock;
    (em?.script ?? []).forEach((s, i) => {
      let offset: number;
      try {
        offset = parseOffset(s.at);
      } catch (err) {
        throw new ScriptError(ScriptErrorCode.BAD_DURATION, `emulation.script[${i}].at: ${(err as Error).message}`, { cause: err });
      }
      const at = this.startMs + offset;
      switch (s.action) {
        case 'announce':
          this.#entries.push({
            at,
            describe: `announce ${s.prefix} from ${s.vnet}/${s.node}`,
            run: () => {
              fleet.announce(s.vnet, s.node, s.prefix);
              this.#emit({ type: 'announce', time: clock.now(), step: i, vnet: s.vnet, node: s.node, prefix: s.prefix });
            },
          });
          break;
        case 'withdraw':
          this.#entries.push({
            at,
            describe: `withdraw ${s.prefix} from ${s.vnet}/${s.node}`,
            run: () => {
              fleet.withdraw(s.vnet, s.node, s.prefix);
              this.#emit({ type: 'withdraw', time: clock.now(), step: i, vnet: s.vnet, node: s.node, prefix: s.prefix });
            },
          });
          break;
        case 'failover': {
          const to = s.to;
          if (to === undefined)
            throw new ScriptError(ScriptErrorCode.BAD_STEP, `emulation.script[${i}].to: a failover needs the node that takes ${s.prefix} over`);
          this.#entries.push({
            at,
            describe: `fail ${s.prefix} over from ${s.vnet}/${s.node} to ${to}`,
            run: () => {
              fleet.withdraw(s.vnet, s.node, s.prefix);
              fleet.announce(s.vnet, to, s.prefix);
              this.#emit({ type: 'failover', time: clock.now(), step: i, vnet: s.vnet, node: s.node, to, prefix: s.prefix });
            },
          });
          break;
        }
      }
    });
    const plan = opts.attacks ?? new AttackPlan({ config: opts.config, startMs: this.startMs });
    for (const r of plan.routing) {
      const base = { label: r.label.id, kind: r.kind, vnet: r.vnet, node: r.node, prefix: r.prefix, asPath: r.asPath };
      this.#entries.push({
        at: r.label.start,
        describe: `${r.kind} ${r.label.id}: ${r.vnet}/${r.node} announces ${r.prefix}`,
        run: () => {
          fleet.announce(r.vnet, r.node, r.prefix, { asPath: r.asPath });
          this.#emit({ type: 'attack-start', time: clock.now(), ...base });
        },
      });
      this.#entries.push({
        at: r.label.end,
        describe: `${r.kind} ${r.label.id} ends: ${r.vnet}/${r.node} withdraws ${r.prefix}`,
        run: () => {
          fleet.withdraw(r.vnet, r.node, r.prefix);
          this.#emit({ type: 'attack-end', time: clock.now(), ...base });
        },
      });
    }
    // Stable sort: same-instant entries keep config order (script steps before attacks).
    this.#entries.sort((a, b) => a.at - b.at);
  }

  /** The schedule, in the order it runs. */
  schedule(): ScheduledStep[] {
    return this.#entries.map(({ at, describe }) => ({ at, describe }));
  }

  /** Arm a timer per entry; entries already due run on the clock's next turn, in order. */
  start(): void {
    this.stop();
    const clock = this.#opts.clock;
    for (const e of this.#entries) {
      this.#timers.push(
        clock.setTimer(Math.max(0, e.at - clock.now()), () => {
          try {
            e.run();
          } catch (err) {
            // One bad step (a node without an appliance, ...) must not stop the rest of the script.
            this.#emit({ type: 'error', time: clock.now(), what: e.describe, message: err instanceof Error ? err.message : String(err) });
          }
        }),
      );
    }
  }

  /** Cancel what has not run yet. */
  stop(): void {
    for (const t of this.#timers) t.cancel();
    this.#timers = [];
  }

  #emit(a: ScriptAction): void {
    this.actions.push(a);
    this.#opts.onAction?.(a);
  }
}

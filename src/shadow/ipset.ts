/**
 * Named IP sets: IPv4/IPv6 prefixes and addresses that mirror sessions can
 * match on (`sourceRoute.ipSet`, `destinationRoute.ipSet`). A set's content
 * is replaced atomically: {@link IpSetRegistry.replace} builds a complete new
 * table and swaps it in, so a lookup sees either the old set or the new one,
 * never a half-built one. Threat-intelligence feeds fill them at run time.
 */
import { parsePrefix, type Prefix } from '../core/index.js';
import { StaticPrefixTable } from './fact-table.js';

/** What {@link IpSetRegistry.replace} did with the entries it was given. */
export interface IpSetReplaceResult {
  /** Entries installed. */
  readonly installed: number;
  /** Entries skipped, with the reason (kebab-case) and a message. */
  readonly rejected: readonly { readonly entry: string; readonly reason: string; readonly message: string }[];
}

/**
 * The IP sets of the engine, each with a stable numeric id (its slot) that
 * compiled classifiers keep; `contains4`/`contains6` by id allocate nothing.
 */
export class IpSetRegistry {
  readonly #ids = new Map<string, number>();
  #names: string[] = [];
  #tables: StaticPrefixTable[] = [];
  /** Entries skipped across all replacements, keyed by kebab-case reason. */
  readonly rejected: Record<string, number> = {};

  /** Names of the sets, in id order. */
  get names(): readonly string[] {
    return this.#names;
  }

  /** True when a set with this name exists (possibly empty). */
  has(name: string): boolean {
    return this.#ids.has(name);
  }

  /** Id of a set, or -1. */
  id(name: string): number {
    return this.#ids.get(name) ?? -1;
  }

  /** Declare an empty set (no-op when it exists); returns its id. */
  declare(name: string): number {
    const known = this.#ids.get(name);
    if (known !== undefined) return known;
    const id = this.#names.length;
    this.#names.push(name);
    this.#tables.push(new StaticPrefixTable());
    this.#ids.set(name, id);
    return id;
  }

  /**
   * Replace the content of set `name` (declared if new) with `entries`:
   * prefixes ("192.0.2.0/24", "2001:db8::/32") or addresses (host
   * prefixes). Entries that do not parse are skipped and reported, never
   * thrown; host bits past the length are masked off. The new table is
   * swapped in only once complete.
   */
  replace(name: string, entries: Iterable<string | Prefix>): IpSetReplaceResult {
    const id = this.declare(name);
    const parsed: { prefix: Prefix; value: number }[] = [];
    const rejected: { entry: string; reason: string; message: string }[] = [];
    for (const e of entries) {
      if (typeof e !== 'string') {
        parsed.push({ prefix: e, value: 0 });
        continue;
      }
      try {
        parsed.push({ prefix: parsePrefix(e.trim(), false), value: 0 });
      } catch (err) {
        rejected.push({ entry: e, reason: 'bad-prefix', message: err instanceof Error ? err.message : String(err) });
        this.rejected['bad-prefix'] = (this.rejected['bad-prefix'] ?? 0) + 1;
      }
    }
    const table = new StaticPrefixTable(parsed);
    this.#tables[id] = table;
    return { installed: table.size, rejected };
  }

  /** Number of distinct prefixes in a set (0 when unknown). */
  size(name: string): number {
    const id = this.#ids.get(name);
    return id === undefined ? 0 : this.#tables[id].size;
  }

  /** True when the IPv4 address `addr` (uint32) is in set `id`. */
  contains4(id: number, addr: number): boolean {
    return this.#tables[id].lookup4(addr) >= 0;
  }

  /** True when the IPv6 address at `data[offset]` (16 bytes) is in set `id`. */
  contains6(id: number, data: Uint8Array, offset: number): boolean {
    return this.#tables[id].lookup6(data, offset) >= 0;
  }

  /** Same as {@link contains6} with the address as four big-endian int32 words. */
  contains6Words(id: number, a: number, b: number, c: number, d: number): boolean {
    return this.#tables[id].lookup6Words(a, b, c, d) >= 0;
  }

  /** Membership of an address given as text or bytes (not for hot paths). */
  contains(name: string, address: string | Uint8Array): boolean {
    const id = this.#ids.get(name);
    return id !== undefined && this.#tables[id].lookup(address) >= 0;
  }
}

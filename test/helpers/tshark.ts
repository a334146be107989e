import { execFileSync, spawnSync } from 'node:child_process';

let available: boolean | undefined;

/**
 * True when `tshark` can be run. When it cannot, prints once why the tests
 * that need it are skipped (install the Debian package `tshark`).
 */
export function requireTshark(): boolean {
  if (available === undefined) {
    const r = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
    available = r.status === 0;
    if (!available)
      console.warn(
        'skipped: tshark is not installed (apt-get install tshark); the tshark interop tests did not run',
      );
  }
  return available;
}

export interface TsharkFieldsOptions {
  /** Display filter (`-Y`). */
  readonly filter?: string;
  /** Which occurrences of a repeated field to print: all (default), first or last. */
  readonly occurrence?: 'a' | 'f' | 'l';
  /** `-d` decode-as rules, e.g. `udp.port==4790,vxlan`. */
  readonly decodeAs?: readonly string[];
  /** `-o` preference overrides, e.g. `tcp.desegment_tcp_streams:FALSE`. */
  readonly preferences?: readonly string[];
}

/**
 * Run `tshark -r file -T fields` and return one row per packet, one string per
 * field; repeated occurrences (inner layers of a tunnel) are joined with `,`.
 * Name resolution is off so addresses and ports print as numbers.
 */
export function tsharkFields(
  file: string,
  fields: readonly string[],
  opts: TsharkFieldsOptions = {},
): string[][] {
  const args = [
    '-n',
    '-r',
    file,
    '-T',
    'fields',
    '-E',
    'separator=/t',
    '-E',
    `occurrence=${opts.occurrence ?? 'a'}`,
    '-E',
    'aggregator=,',
  ];
  if (opts.filter) args.push('-Y', opts.filter);
  for (const d of opts.decodeAs ?? []) args.push('-d', d);
  for (const p of opts.preferences ?? []) args.push('-o', p);
  for (const f of fields) args.push('-e', f);
  const out = execFileSync('tshark', args, {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out
    .split('\n')
    .filter((line, i, all) => line !== '' || i < all.length - 1)
    .map((line) => line.split('\t'));
}

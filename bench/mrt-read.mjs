// MRT reading: stream a large TABLE_DUMP_V2 file (written by the project's
// MRT writer, gzip-compressed like RIS dumps) through `mrtRoutes` and through
// the bgpdump -m formatter, and time Debian's bgpdump on the same file.
// Peak RSS shows the file is streamed, not loaded. Prints one JSON line.
//   npm run build && node --expose-gc bench/mrt-read.mjs [--count 2000000]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { count: { type: 'string', default: '2000000' } } });
const count = Number(args.count);
const { writeSyntheticTableDump, mrtRoutes, bgpdumpLines } = await import(new URL('../dist/routing/mrt/index.js', import.meta.url).href);

const startRss = process.memoryUsage.rss();
const dir = mkdtempSync(join(tmpdir(), 'shadownet-bench-mrt-'));
const plain = join(dir, 'rib.mrt');
const gz = `${plain}.gz`;
let peak = 0;
const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
try {
  await writeSyntheticTableDump(plain, { count, seed: 7 });
  execFileSync('gzip', ['-k', '-1', plain]);
  const out = { bench: 'mrt-read', routes: count, fileMiB: +(statSync(plain).size / 1048576).toFixed(1), gzipMiB: +(statSync(gz).size / 1048576).toFixed(1) };
  globalThis.gc?.();
  peak = 0; // from here on: the reading only

  let t0 = performance.now();
  let n = 0;
  for await (const r of mrtRoutes(gz)) if (r.type === 'route') n++;
  out.routesSeconds = +((performance.now() - t0) / 1000).toFixed(2);
  out.routesPerSecond = Math.round(n / out.routesSeconds);
  if (n !== count) throw new Error(`read ${n} routes, wrote ${count}`);

  t0 = performance.now();
  let lines = 0;
  for await (const _line of bgpdumpLines(gz)) lines++;
  out.bgpdumpFormatSeconds = +((performance.now() - t0) / 1000).toFixed(2);
  out.idleRssMiB = +(startRss / 1048576).toFixed(1);
  out.peakRssWhileReadingMiB = +(peak / 1048576).toFixed(1);

  const b0 = performance.now();
  const r = spawnSync('bgpdump', ['-m', '-O', '/dev/null', gz]);
  out.debianBgpdumpSeconds = r.error ? null : +((performance.now() - b0) / 1000).toFixed(2);
  out.ratioToBgpdump = out.debianBgpdumpSeconds ? +(out.bgpdumpFormatSeconds / out.debianBgpdumpSeconds).toFixed(2) : null;
  out.lines = lines;
  console.log(JSON.stringify(out));
} finally {
  clearInterval(sample);
  rmSync(dir, { recursive: true, force: true });
}

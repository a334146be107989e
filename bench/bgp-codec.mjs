// BGP codec micro-benchmark: decode UPDATEs carrying many IPv4 prefixes (the
// shape of a full-table transfer) and encode them back. Prints one JSON line.
// Run after `npm run build`:  node bench/bgp-codec.mjs [seconds]
const { decodeMessage, encodeMessage } = await import(new URL('../dist/wire/bgp/index.js', import.meta.url).href);
const { parsePrefix } = await import(new URL('../dist/core/index.js', import.meta.url).href);

const seconds = Number(process.argv[2] ?? 3);
const ctx = { fourOctetAs: true };
const PER_UPDATE = 900; // what fits in 4096 bytes as /24s (4 bytes each)

const updates = [];
for (let u = 0; u < 64; u++) {
  const nlri = [];
  for (let i = 0; i < PER_UPDATE; i++) {
    const n = u * PER_UPDATE + i;
    nlri.push(parsePrefix(`${1 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}.0/24`));
  }
  updates.push(
    encodeMessage(
      {
        type: 'update',
        withdrawn: [],
        attributes: [
          { type: 'origin', flags: 0x40, value: 0 },
          { type: 'as-path', flags: 0x40, segments: [{ type: 2, asns: [65001, 64512 + u, 3356, 174] }], asnBytes: 4 },
          { type: 'next-hop', flags: 0x40, nextHop: '198.51.100.1' },
          { type: 'communities', flags: 0xc0, communities: [(65001 << 16) | u] },
        ],
        nlri,
        issues: [],
      },
      undefined,
      0,
      ctx,
    ),
  );
}

function measure(fn) {
  const samples = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    let n = 0;
    for (let r = 0; r < 20; r++) n += fn();
    samples.push(n / ((performance.now() - t0) / 1000));
  }
  samples.sort((a, b) => a - b);
  return Math.round(samples[samples.length >> 1]);
}

let sink = 0;
const decodeRate = measure(() => {
  for (const b of updates) sink += decodeMessage(b, 0, ctx).value.nlri.length;
  return updates.length * PER_UPDATE;
});
const decoded = updates.map((b) => decodeMessage(b, 0, ctx).value);
const encodeRate = measure(() => {
  for (const m of decoded) sink += encodeMessage(m, undefined, 0, ctx).length;
  return decoded.length * PER_UPDATE;
});

console.log(
  JSON.stringify({
    bench: 'bgp-codec',
    prefixesPerUpdate: PER_UPDATE,
    decodePrefixesPerSecond: decodeRate,
    encodePrefixesPerSecond: encodeRate,
    node: process.version,
    sink: sink > 0,
  }),
);

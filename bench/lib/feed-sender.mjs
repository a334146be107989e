#!/usr/bin/env node
// A BGP route source in its own process, so the receiver under test has a
// core to itself. Builds the deterministic feed, prints "ready", waits for
// "go" on stdin, then establishes and sends every UPDATE and an End-of-RIB,
// prints "sent", and holds the session until stdin closes.
//   node bench/lib/feed-sender.mjs '{"host":..,"port":..,"localAddress":..,"asn":..,"routerId":..,"count":..,"seed":..}'
import { createInterface } from 'node:readline';
import { buildFeed, sendFeed } from './feed.mjs';

const o = JSON.parse(process.argv[2]);
const feed = buildFeed({ count: o.count, seed: o.seed, firstAs: o.asn });
process.stdout.write(`ready ${feed.updates.length}\n`);
let conn;
const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  if (line.trim() !== 'go') return;
  conn = await sendFeed({ host: o.host, port: o.port, localAddress: o.localAddress, asn: o.asn, routerId: o.routerId, updates: feed.updates });
  process.stdout.write('sent\n');
});
lines.on('close', () => {
  conn?.socket?.destroy();
  process.exit(0);
});

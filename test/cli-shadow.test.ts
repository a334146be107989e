/**
 * `shadownet shadow` on a real capture: the copies it writes are what the
 * session selects, truncated as configured, and tshark reads them; the
 * summary counts every packet.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { missingDataMessage, sharedDataDir } from './helpers/shared-data.js';
import { requireTshark, tsharkFields } from './helpers/tshark.js';

const pcapDir = sharedDataDir('pcap');
const tshark = requireTshark();

describe.skipIf(!pcapDir || !tshark)('shadownet shadow', () => {
  it('copies the HTTP requests of a real capture, truncated, into a pcap tshark reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shadownet-shadow-'));
    const cfg = join(dir, 'c.yaml');
    writeFileSync(
      cfg,
      `vnets:
  - name: lab
    cidrs: [141.142.0.0/16, 192.150.187.0/24]
log: { level: silent }
shadow:
  targets: [{ name: ids, type: pcap, path: ${join(dir, 'unused.pcap')} }]
  sessions:
    - { name: web, vnet: lab, priority: 1, target: ids, truncate: 96, rules: [{ action: accept, direction: egress, protocol: tcp, destinationPorts: 80 }], scope: [141.142.0.0/16] }
`,
    );
    const out = join(dir, 'out');
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await main(['node', 'shadownet', 'shadow', '-c', cfg, '--pcap', join(pcapDir!, 'http_get.pcap'), '--out', out])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const all = tsharkFields(join(pcapDir!, 'http_get.pcap'), ['frame.len', 'tcp.dstport']);
    const expected = all.filter((r) => r[1] === '80').map((r) => [r[0], String(Math.min(96, Number(r[0]))), '141.142.228.5', '80']);
    const copies = tsharkFields(join(out, 'ids.pcap'), ['frame.len', 'frame.cap_len', 'ip.src', 'tcp.dstport']);
    expect(copies).toEqual(expected);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.engine.packets).toBe(all.length);
    expect(summary.sessions[0]).toMatchObject({ name: 'web', matched: expected.length, copied: expected.length, truncated: expected.filter((r) => r[0] !== r[1]).length });
  });
});
if (!pcapDir) it.skip(missingDataMessage('pcap'), () => undefined);

/**
 * `shadownet mirror-target --listen 127.0.0.1:4789 --out FILE.pcap`: a
 * mirror target of its own. Receives VXLAN (and GENEVE with --geneve-port)
 * from any sender — AWS Traffic Mirroring, shadownet's VXLAN targets — and
 * writes the inner packets to a capture file until Ctrl-C, --count or
 * --duration; then prints what it received, wrote and dropped (by reason).
 */
import type { Command } from 'commander';
import { isIP } from 'node:net';
import { RealClock } from '../../core/clock.js';
import { createLogger } from '../../core/log.js';
import type { PacketBatch } from '../../core/packet.js';
import { VxlanReceiver } from '../../shadow/sources/vxlan-receiver.js';
import { PcapTarget } from '../../shadow/targets/pcap.js';
import type { CopyRecord } from '../../shadow/types.js';
import { CliExit, ExitCode } from '../exit-codes.js';

interface MirrorTargetOptions {
  listen: string;
  out: string;
  pcapng?: boolean;
  count?: string;
  duration?: string;
  genevePort?: string;
  vni?: string;
  json?: boolean;
}

/** `127.0.0.1:4789`, `[::1]:4789`, or an address alone (port 4789). */
export function parseListen(text: string): { address: string; port: number } {
  const m =
    /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ??
    /^([^:]+)(?::(\d+))?$/.exec(text) ??
    (isIP(text) === 6 ? [text, text, undefined] : null);
  const address = m?.[1];
  const port = m?.[2] === undefined ? 4789 : Number(m[2]);
  if (!address || !isIP(address) || !(port >= 0 && port <= 65535))
    throw new CliExit(
      ExitCode.USAGE,
      `--listen must be ADDRESS:PORT (127.0.0.1:4789, [::1]:4789), not ${JSON.stringify(text)}`,
    );
  return { address, port };
}

function positive(name: string, text: string | undefined, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(n > 0) || (integer && !Number.isInteger(n)))
    throw new CliExit(
      ExitCode.USAGE,
      `${name} must be a positive ${integer ? 'integer' : 'number'}, not ${JSON.stringify(text)}`,
    );
  return n;
}

export function registerMirrorTargetCommand(program: Command): void {
  program
    .command('mirror-target')
    .description(
      'receive VXLAN (as AWS Traffic Mirroring sends it) and write the inner packets to a capture file',
    )
    .requiredOption('--listen <address:port>', 'UDP address and port to receive VXLAN on', '127.0.0.1:4789')
    .requiredOption('--out <file>', 'capture file to write (pcap, or pcapng with --pcapng)')
    .option('--pcapng', 'write pcapng instead of pcap')
    .option('--count <n>', 'stop after writing this many packets')
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--geneve-port <port>', 'also receive GENEVE on this UDP port (6081 is the standard one)')
    .option('--vni <list>', 'accept only these VNIs (comma-separated); others are counted as unknown')
    .option('--json', 'print the summary as JSON')
    .action(async (o: MirrorTargetOptions) => {
      const { address, port } = parseListen(o.listen);
      const count = positive('--count', o.count, true);
      const duration = positive('--duration', o.duration, false);
      const genevePort = o.genevePort === undefined ? undefined : Number(o.genevePort);
      if (
        genevePort !== undefined &&
        !(Number.isInteger(genevePort) && genevePort >= 0 && genevePort <= 65535)
      )
        throw new CliExit(
          ExitCode.USAGE,
          `--geneve-port must be a port 0..65535, not ${JSON.stringify(o.genevePort)}`,
        );
      let only: Set<number> | undefined;
      if (o.vni !== undefined) {
        only = new Set(o.vni.split(',').map((v) => Number(v.trim())));
        if ([...only].some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffff))
          throw new CliExit(ExitCode.USAGE, `--vni must list VNIs 0..16777215, not ${JSON.stringify(o.vni)}`);
      }
      const logger = createLogger({ level: process.env.SHADOWNET_LOG_LEVEL ?? 'warn' });
      const clock = new RealClock();
      const receiver = new VxlanReceiver({
        address,
        port,
        geneve: genevePort,
        vniToVnet: (vni) => (only && !only.has(vni) ? undefined : `vni-${vni}`),
        name: 'mirror-target',
        clock,
        logger,
      });
      const target = new PcapTarget({
        name: 'mirror-target',
        path: o.out,
        format: o.pcapng ? 'pcapng' : 'pcap',
        logger,
      });
      const record: { -readonly [K in keyof CopyRecord]: CopyRecord[K] } = {
        session: '',
        vni: 0,
        data: new Uint8Array(0),
        offset: 0,
        length: 0,
        wireLength: 0,
        tsSec: 0,
        tsNsec: 0,
        linkType: 1,
      };
      let written = 0;
      let beyondCount = 0;
      let limitReached = false;
      const stop = (): void => void receiver.stop();
      const sink = async (batch: PacketBatch): Promise<void> => {
        const vni = Number(batch.vnet?.slice(4) ?? 0);
        for (let i = 0; i < batch.count; i++) {
          if (count !== undefined && written >= count) {
            beyondCount += batch.count - i;
            break;
          }
          record.session = batch.vnet ?? '';
          record.vni = vni;
          record.data = batch.data;
          record.offset = batch.offsets[i];
          record.length = batch.lengths[i];
          record.wireLength = batch.wireLengths[i];
          record.tsSec = batch.tsSec[i];
          record.tsNsec = batch.tsNsec[i];
          record.linkType = batch.linkType;
          target.write(record);
          written++;
        }
        target.endBatch();
        if (count !== undefined && written >= count && !limitReached) {
          limitReached = true;
          stop();
        }
        await target.flush();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const timer = duration === undefined ? undefined : clock.setTimer(duration * 1000, stop);
      const running = receiver.run(sink);
      try {
        const ports = await receiver.bound();
        process.stderr.write(
          `mirror-target: receiving VXLAN on ${address}:${ports.port}${ports.genevePort !== undefined ? ` and GENEVE on port ${ports.genevePort}` : ''}, writing ${o.out} (Ctrl-C stops)\n`,
        );
        await running;
      } catch (err) {
        await running.catch(() => {});
        await target.close();
        throw new CliExit(ExitCode.FAILURE, (err as Error).message);
      } finally {
        timer?.cancel();
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      await target.close();
      const s = receiver.stats;
      const dropped: Record<string, number> = { ...s.dropped };
      if (beyondCount > 0) dropped['beyond-count'] = beyondCount;
      for (const [k, v] of [...Object.entries(target.stats.shed), ...Object.entries(target.stats.errors)])
        dropped[k] = (dropped[k] ?? 0) + v;
      const summary = { out: o.out, received: s.datagrams, written: target.stats.packets, dropped };
      if (o.json) process.stdout.write(JSON.stringify(summary) + '\n');
      else {
        const reasons = Object.entries(dropped)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ');
        process.stdout.write(
          `mirror-target: received ${summary.received} datagrams, wrote ${summary.written} packets to ${o.out}${reasons ? `; dropped ${reasons}` : ''}\n`,
        );
      }
      if (Object.keys(target.stats.errors).length > 0)
        throw new CliExit(ExitCode.FAILURE, `could not write ${o.out} (see the log)`);
    });
}

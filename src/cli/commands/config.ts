import type { Command } from 'commander';
import { loadConfig } from '../../vnet/index.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('work with configuration files');
  config
    .command('check <file>')
    .description('validate a configuration file; errors name the path in the file and what was expected')
    .option('--json', 'print the validated configuration (with defaults) as JSON')
    .action((file: string, o: { json?: boolean }) => {
      const cfg = loadConfig(file);
      if (o.json) process.stdout.write(JSON.stringify(cfg, null, 2) + '\n');
      else {
        const routers = cfg.vnets.reduce((n, v) => n + v.routers.length, 0);
        const peers = cfg.vnets.reduce((n, v) => n + v.routers.reduce((m, r) => m + r.peers.length, 0), 0);
        process.stdout.write(`${file}: valid (${cfg.vnets.length} virtual networks, ${routers} virtual routers, ${peers} peers)\n`);
      }
    });
}

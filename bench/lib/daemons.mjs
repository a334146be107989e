/**
 * Minimal daemon control for benchmarks (the interop tests have the full
 * harness in test/interop/harness; benchmarks run plain Node on dist/, so
 * they keep this small copy). Each daemon runs in its own process group and
 * is killed with it; logs go to the run directory.
 */
import { spawn, execFile } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const live = new Set();
const stoppers = new Set();
function killAll() {
  for (const pgid of live) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAll();
    process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
  });
}

/** Stops every daemon this process started (call before exiting). */
export async function stopAllDaemons() {
  await Promise.allSettled([...stoppers].map((stop) => stop()));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Benchmarks own interop slot 9: 127.0.19.n and ports 20900..20999 (see test/interop/harness/addresses.ts). */
export const benchHost = (n) => `127.0.19.${n}`;
export const benchPort = (n) => 20900 + n;

export function findBinary(name) {
  for (const d of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin']) {
    if (!d) continue;
    try {
      if (statSync(join(d, name)).isFile()) return join(d, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

export function startProcess(dir, name, command, args, env = {}) {
  const logPath = join(dir, `${name}.out`);
  const fd = openSync(logPath, 'a');
  const child = spawn(command, args, { cwd: dir, detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  live.add(child.pid);
  let exited = false;
  const done = new Promise((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const handle = {
    name,
    pid: child.pid,
    logPath,
    get running() {
      return !exited;
    },
    logText: () => readFileSync(logPath, 'utf8'),
    async stop() {
      if (!exited) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // gone
        }
        await Promise.race([done, sleep(5000)]);
      }
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await done;
      live.delete(child.pid);
      stoppers.delete(handle.stop);
    },
  };
  stoppers.add(handle.stop);
  return handle;
}

export function run(command, args, timeoutMs = 600_000) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

export async function waitFor(what, probe, timeoutMs, intervalMs = 100) {
  const deadline = performance.now() + timeoutMs;
  let lastError;
  while (true) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (${lastError.message})` : ''}`);
    await sleep(intervalMs);
  }
}

/** gobgpd holding routes for a bench; every neighbour is passive (they connect to it). */
export async function startGobgpd(dir, { address, asn, routerId, port, apiPort, neighbors }) {
  const lines = [
    '[global.config]',
    `  as = ${asn}`,
    `  router-id = "${routerId}"`,
    `  port = ${port}`,
    `  local-address-list = ["${address}"]`,
  ];
  for (const n of neighbors) {
    lines.push(
      '[[neighbors]]',
      '  [neighbors.config]',
      `    neighbor-address = "${n.address}"`,
      `    peer-as = ${n.asn}`,
      '  [neighbors.transport.config]',
      `    local-address = "${address}"`,
      '    passive-mode = true',
      '  [neighbors.ebgp-multihop.config]',
      '    enabled = true',
      '    multihop-ttl = 8',
      '  [[neighbors.afi-safis]]',
      '    [neighbors.afi-safis.config]',
      '      afi-safi-name = "ipv4-unicast"',
    );
  }
  const conf = join(dir, 'gobgpd.toml');
  writeFileSync(conf, lines.join('\n') + '\n');
  const proc = startProcess(dir, 'gobgpd', findBinary('gobgpd') ?? 'gobgpd', [
    '-f', conf, '-t', 'toml', '--api-hosts', `${address}:${apiPort}`, '--pprof-disable', '-l', 'warn',
  ]);
  const cli = (...args) => run(findBinary('gobgp') ?? 'gobgp', ['-u', address, '-p', String(apiPort), ...args]);
  await waitFor('gobgpd API', async () => {
    if (!proc.running) throw new Error(`gobgpd exited:\n${proc.logText()}`);
    await cli('global');
    return true;
  }, 15_000);
  return {
    proc,
    cli,
    async ribCount() {
      const out = await cli('global', 'rib', 'summary', '-a', 'ipv4');
      const m = /Destination:\s*(\d+)/.exec(out);
      return m ? Number(m[1]) : 0;
    },
    async neighborState(addr) {
      const j = JSON.parse(await cli('neighbor', addr, '-j'));
      return j?.state?.session_state;
    },
    stop: () => proc.stop(),
  };
}

/** BIRD peering one neighbour, no kernel protocol; next hops resolve via a default on lo. */
export async function startBird(dir, { address, asn, routerId, port, neighbor }) {
  const conf = join(dir, 'bird.conf');
  const sock = join(dir, 'bird.ctl');
  writeFileSync(
    conf,
    [
      `router id ${routerId};`,
      `log "${join(dir, 'bird.log')}" { warning, error, fatal, remote };`,
      'protocol device { scan time 10; }',
      'ipv4 table igp4;',
      'protocol static igp_v4 { ipv4 { table igp4; }; route 0.0.0.0/0 via "lo"; }',
      'protocol bgp feed {',
      `  local ${address} port ${port} as ${asn};`,
      `  neighbor ${neighbor.address} port ${neighbor.port} as ${neighbor.asn};`,
      '  multihop;',
      '  strict bind yes;',
      '  connect delay time 1;',
      '  connect retry time 1;',
      ...(neighbor.passive ? ['  passive on;'] : []),
      '  ipv4 { import all; export none; igp table igp4; };',
      '}',
      '',
    ].join('\n'),
  );
  const proc = startProcess(dir, 'bird', findBinary('bird') ?? 'bird', ['-f', '-c', conf, '-s', sock, '-P', join(dir, 'bird.pid')]);
  const birdc = async (...cmd) => (await run(findBinary('birdc') ?? 'birdc', ['-s', sock, ...cmd])).replace(/^BIRD [^\n]* ready\.\n/, '');
  await waitFor('BIRD control socket', async () => {
    if (!proc.running) throw new Error(`bird exited:\n${proc.logText()}`);
    await birdc('show', 'status');
    return true;
  }, 10_000, 50);
  return {
    proc,
    birdc,
    async routeCount() {
      const m = /(\d+) of (\d+) routes/.exec(await birdc('show', 'route', 'count', 'table', 'master4'));
      return m ? Number(m[1]) : 0;
    },
    /** Resident set of the bird process, MiB (from /proc). */
    rssMiB() {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
        return m ? Number(m[1]) / 1024 : null;
      } catch {
        return null;
      }
    },
    stop: () => proc.stop(),
  };
}

/** Peak resident set (VmHWM) of a process, MiB, or null. */
export function peakRssMiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

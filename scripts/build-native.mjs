// Builds the native helpers in native/ (Linux; a C compiler and Node's headers
// are needed). Run by `npm install`/`npm ci` (postinstall) and `npm run build`.
// A helper that cannot be built is reported and skipped: the code falls back
// to portable paths (see README, "The native helper"). `--strict` makes a
// failed build an error; `--out DIR` builds into DIR instead of build/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const outAt = process.argv.indexOf('--out');
const out = outAt > 0 && process.argv[outAt + 1] ? process.argv[outAt + 1] : join(root, 'build');
const helpers = [{ name: 'udp-batch', source: 'native/udp-batch.c' }];

function skip(why) {
  const msg = `shadownet: native helpers not built (${why}); VXLAN copies will use one send per datagram`;
  if (strict) {
    console.error(msg);
    process.exit(1);
  }
  console.warn(msg);
  process.exit(0);
}

if (process.platform !== 'linux') skip(`${process.platform} is not Linux`);
// Node's own headers: <prefix>/include/node beside <prefix>/bin/node.
const candidates = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
const include = candidates.find((d) => existsSync(join(d, 'node_api.h')));
if (!include) skip("Node's headers (node_api.h) not found");
const cc = process.env.CC ?? 'cc';
mkdirSync(out, { recursive: true });
for (const h of helpers) {
  const src = join(root, h.source);
  const target = join(out, `${h.name}.node`);
  if (existsSync(target) && statSync(target).mtimeMs >= statSync(src).mtimeMs) continue;
  const r = spawnSync(
    cc,
    ['-O2', '-Wall', '-Wextra', '-Wno-unused-parameter', '-shared', '-fPIC', `-I${include}`, `-DNODE_GYP_MODULE_NAME=${h.name.replace(/-/g, '_')}`, '-o', target, src],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (r.error) skip(`${cc}: ${r.error.message}`);
  if (r.status !== 0) skip(`${cc} failed on ${h.source}`);
}

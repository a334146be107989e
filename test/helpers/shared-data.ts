import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Project root (the folder holding package.json). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The real captures and data sets live beside the project in `../shared/data`
 * (they are not part of the project). Returns the folder, or undefined when
 * absent so a test can skip with a message. `SHADOWNET_SHARED_DATA` overrides.
 */
export function sharedDataDir(sub = ''): string | undefined {
  const base = process.env.SHADOWNET_SHARED_DATA ?? join(projectRoot, '..', 'shared', 'data');
  const dir = join(base, sub);
  return existsSync(dir) ? dir : undefined;
}

/** Message printed by tests that skip because the data set is missing. */
export function missingDataMessage(sub: string): string {
  return `skipped: ../shared/data/${sub} is not present (real captures are not shipped with the project)`;
}

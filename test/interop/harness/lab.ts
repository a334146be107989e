import { afterAll, afterEach } from 'vitest';
import { InteropLab } from './proc.js';

/**
 * A lab for the current test file: its daemons are stopped in afterAll (even
 * when tests fail or time out), and the logs of every daemon are printed when
 * a test fails, then kept in the lab's temp directory.
 */
export function useInteropLab(name: string, extraLogs?: () => string): InteropLab {
  const lab = new InteropLab(name);
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') {
      lab.failed = true;
      console.error(`--- interop logs (kept in ${lab.dir}) ---\n${lab.logText()}${extraLogs ? `\n${extraLogs()}` : ''}`);
    }
  });
  afterAll(async () => {
    await lab.stopAll();
  });
  return lab;
}

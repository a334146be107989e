import { describe, expect, it } from 'vitest';
import { SimulatedClock } from './clock.js';

describe('SimulatedClock', () => {
  it('fires timers in time order, ties in the order set', () => {
    const c = new SimulatedClock(0);
    const fired: string[] = [];
    c.setTimer(20, () => fired.push('b'));
    c.setTimer(10, () => fired.push('a'));
    c.setTimer(20, () => fired.push('c'));
    c.advance(15);
    expect(fired).toEqual(['a']);
    expect(c.now()).toBe(15);
    c.advance(10);
    expect(fired).toEqual(['a', 'b', 'c']);
  });

  it('runs repeating timers and honours cancel', () => {
    const c = new SimulatedClock(0);
    let n = 0;
    const t = c.setRepeating(10, () => n++);
    c.advance(35);
    expect(n).toBe(3);
    t.cancel();
    expect(t.active).toBe(false);
    c.advance(100);
    expect(n).toBe(3);
  });

  it('lets a timer set another that falls due within the same advance', () => {
    const c = new SimulatedClock(0);
    const at: number[] = [];
    c.setTimer(5, () => {
      at.push(c.now());
      c.setTimer(5, () => at.push(c.now()));
    });
    c.advance(20);
    expect(at).toEqual([5, 10]);
  });
});

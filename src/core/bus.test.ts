import { describe, expect, it } from 'vitest';
import { InProcessBus, topicMatches } from './bus.js';

describe('InProcessBus', () => {
  it('matches NATS-style wildcards', () => {
    expect(topicMatches('routing.events.>', 'routing.events.prod')).toBe(true);
    expect(topicMatches('routing.*.prod', 'routing.events.prod')).toBe(true);
    expect(topicMatches('routing.events.>', 'routing.events')).toBe(false);
    expect(topicMatches('routing.events', 'routing.events.prod')).toBe(false);
  });

  it('delivers in order and survives a throwing subscriber', () => {
    const errors: unknown[] = [];
    const bus = new InProcessBus((e) => errors.push(e));
    const got: number[] = [];
    bus.subscribe<number>('a.>', () => {
      throw new Error('boom');
    });
    const sub = bus.subscribe<number>('a.b', (m) => got.push(m));
    for (let i = 0; i < 5; i++) bus.publish('a.b', i);
    sub.unsubscribe();
    bus.publish('a.b', 99);
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(errors).toHaveLength(6);
    expect(bus.stats.handlerErrors).toBe(6);
    expect(bus.hasSubscribers('a.b')).toBe(true);
    expect(bus.hasSubscribers('x')).toBe(false);
  });
});

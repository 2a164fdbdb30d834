/**
 * src/runtime/events.ts: the reconnect delay of a runtime's event stream
 * (backoffMs) and follow()'s use of it, with a fake source and vitest's fake
 * timers: tries 0.5 s, 1 s, 2 s, ... apart up to 30 s while the runtime is
 * away, one "down" per outage, and the delay back at 0.5 s once a stream was
 * open (up) again. The real streams are exercised in test/e2e/watch-*.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BACKOFF, backoffMs, follow, type RuntimeEvent, type Source } from '../../src/runtime/events.js';

describe('backoffMs', () => {
  it('starts at 0.5 s, doubles, and stays at 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map(backoffMs)).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    expect(BACKOFF).toEqual({ firstMs: 500, maxMs: 30_000 });
  });

  it('a runtime away for days still waits 30 s, not Infinity or NaN', () => {
    for (const n of [17, 100, 1075, 1e6]) expect(backoffMs(n)).toBe(30_000);
  });
});

/** What a fake source's next open does: fail at once, or stay open `ms` (sending `events` first), then end. */
type Try = { fail: string } | { openMs: number; events?: RuntimeEvent[] };

interface Fake {
  source: Source;
  /** The fake clock's time of each try (each call of absent()). */
  tries: number[];
  log: string[];
}

/** A source that plays `script` (then stays absent), logging its hooks' calls with the fake clock's time. */
function fake(script: (Try | 'absent')[]): Fake {
  const tries: number[] = [];
  const log: string[] = [];
  let k = -1;
  const source: Source = {
    runtime: 'docker',
    absent: () => {
      tries.push(Date.now());
      k++;
      return (script[k] ?? 'absent') === 'absent' ? 'no socket at /run/fake.sock' : undefined;
    },
    open: (signal) => {
      const t = script[k] as Try;
      return (async function* () {
        await Promise.resolve();
        if ('fail' in t) throw new Error(t.fail);
        for (const ev of t.events ?? []) yield ev;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, t.openMs);
          signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
        });
      })();
    },
  };
  return { source, tries, log };
}

function hooksOf(f: Fake) {
  return {
    onEvent: (ev: RuntimeEvent) => f.log.push(`${Date.now()} event ${ev.action} ${ev.name}`),
    onUp: (rt: string) => f.log.push(`${Date.now()} up ${rt}`),
    onDown: (rt: string, why: string) => f.log.push(`${Date.now()} down ${rt}: ${why}`),
  };
}

/** The gaps between consecutive tries. */
const gaps = (ts: number[]): number[] => ts.slice(1).map((t, i) => t - ts[i]!);

describe('follow(): reconnecting with backoff', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a runtime that is not there: tries 0.5, 1, 2, 4, 8, 16, 30, 30 s apart, and says so once', async () => {
    const f = fake([]);
    const stop = new AbortController();
    const done = follow(f.source, hooksOf(f), stop.signal);
    await vi.advanceTimersByTimeAsync(200_000);
    stop.abort();
    await done;
    expect(gaps(f.tries).slice(0, 9)).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    expect(f.log).toEqual(['0 down docker: no socket at /run/fake.sock']);
  });

  it('a stream that fails at once (within a second) was never up: the delay keeps growing, one down line', async () => {
    const f = fake([{ fail: 'connect ECONNREFUSED' }, { fail: 'connect ECONNREFUSED' }, { fail: 'connect ECONNREFUSED' }, 'absent', 'absent']);
    const stop = new AbortController();
    const done = follow(f.source, hooksOf(f), stop.signal);
    await vi.advanceTimersByTimeAsync(20_000);
    stop.abort();
    await done;
    expect(gaps(f.tries).slice(0, 5)).toEqual([500, 1000, 2000, 4000, 8000]);
    expect(f.log).toEqual(['0 down docker: connect ECONNREFUSED']);
  });

  it('once a stream was up, the next outage starts again at 0.5 s; its events pass on; up and down are told once per change', async () => {
    const start: RuntimeEvent = { runtime: 'docker', id: 'c0ffee', name: 'web', action: 'start' };
    const f = fake([
      'absent', 'absent', 'absent', // down at 0; tries at 500 and 1500 also fail; the next at 3500
      { openMs: 5000, events: [start] }, // opens at 3500, an event, up, ends at 8500
      { fail: 'EOF' }, // 0.5 s later (reset), 9000
      'absent', // 1 s later, 10000
      { openMs: 2000 }, // 2 s later, 12000: up at 13000, ends at 14000
      'absent', // 0.5 s later again: 14500
    ]);
    const stop = new AbortController();
    const done = follow(f.source, hooksOf(f), stop.signal);
    await vi.advanceTimersByTimeAsync(15_000);
    stop.abort();
    await done;
    expect(f.tries.slice(0, 8)).toEqual([0, 500, 1500, 3500, 9000, 10_000, 12_000, 14_500]);
    expect(f.log).toEqual([
      '0 down docker: no socket at /run/fake.sock',
      '3500 up docker',
      '3500 event start web',
      '8500 down docker: the event stream ended',
      '13000 up docker',
      '14000 down docker: the event stream ended',
    ]);
  });

  it('an abort while waiting to try again ends follow() at once, without another try', async () => {
    const f = fake([]);
    const stop = new AbortController();
    const done = follow(f.source, hooksOf(f), stop.signal);
    await vi.advanceTimersByTimeAsync(600); // second try at 500; the next is due at 1500
    stop.abort();
    await done;
    expect(f.tries).toEqual([0, 500]);
  });
});

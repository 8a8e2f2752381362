import { systemRuntime, type Runtime } from '../../src/storage/runtime.js';

/** A Runtime whose clock only moves when the test moves it. */
export interface TestRuntime extends Runtime {
  /** Sets the clock to an instant (ISO string or Date). */
  set(instant: string | Date): void;
  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void;
}

/**
 * A controllable clock starting at `start`; ids come from `randomId` when
 * given (to force collisions), else from the system runtime.
 */
export function testRuntime(start: string | Date = '2030-01-01T00:00:00.000Z', randomId: Runtime['randomId'] = systemRuntime.randomId): TestRuntime {
  let nowMs = new Date(start).getTime();
  return {
    now: () => new Date(nowMs),
    randomId,
    set(instant) {
      nowMs = new Date(instant).getTime();
    },
    advance(ms) {
      nowMs += ms;
    },
  };
}

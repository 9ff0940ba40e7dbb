/**
 * The local cloud's clock. It runs at wall-clock speed by default, can start at a chosen time,
 * and can be advanced by tests through the admin API, so a schedule fires without sleeping.
 */
import { EventEmitter } from 'node:events';

/** A listener called after the clock jumps forward; schedulers fire what became due. */
export type AdvanceListener = (now: number) => Promise<void> | void;

/** Controllable time source shared by every service of one local cloud. */
export class LocalClock {
  private offsetMs: number;
  private readonly listeners = new Set<AdvanceListener>();
  private readonly events = new EventEmitter();

  /** @param startAt epoch ms the clock starts at; @default the wall clock */
  constructor(startAt?: number) {
    this.offsetMs = startAt === undefined ? 0 : startAt - Date.now();
  }

  /** Current time in epoch milliseconds. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Current time as a Date. */
  date(): Date {
    return new Date(this.now());
  }

  /** Moves time forward by `ms` and waits for every listener to handle what became due. */
  async advance(ms: number): Promise<number> {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`clock can only move forward, got ${ms}`);
    this.offsetMs += ms;
    const now = this.now();
    for (const listener of [...this.listeners]) await listener(now);
    this.events.emit('advanced', now);
    return now;
  }

  /** Registers a listener for jumps; returns the unsubscribe function. */
  onAdvance(listener: AdvanceListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

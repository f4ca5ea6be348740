// Actions that run after a delay unless cancelled first: a delete with Undo
// waits here before its request is sent. Keys name the pending actions.

type Run = () => void | Promise<void>;

/** Delayed actions by key; `cancel` is the Undo, `flush` runs them all now. */
export class Deferred {
  private pending = new Map<string, { timer: ReturnType<typeof setTimeout>; run: Run }>();

  /** Run `run` after `ms` (replacing an action already pending under `key`). */
  schedule(key: string, run: Run, ms: number): void {
    this.cancel(key);
    const timer = setTimeout(() => {
      this.pending.delete(key);
      void run();
    }, ms);
    this.pending.set(key, { timer, run });
  }

  /** Drop a pending action; false when it already ran or never was. */
  cancel(key: string): boolean {
    const p = this.pending.get(key);
    if (!p) return false;
    clearTimeout(p.timer);
    this.pending.delete(key);
    return true;
  }

  /** Whether an action is pending under `key`. */
  has(key: string): boolean {
    return this.pending.has(key);
  }

  /** Run every pending action now (the page is going away). */
  flush(): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      void p.run();
    }
  }
}

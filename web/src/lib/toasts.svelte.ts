// Short notices at the bottom of the screen, optionally with an action
// (Undo). Each closes by itself after its time.

/** One notice. */
export interface Toast {
  id: number;
  text: string;
  action?: { label: string; run: () => void };
}

/** The notices on screen, oldest first. */
export class Toasts {
  items = $state<Toast[]>([]);
  private next = 1;

  /** Show `text` for `ms`; returns its id. */
  show(text: string, action?: Toast['action'], ms = 5000): number {
    const id = this.next++;
    // At most three at once: the oldest gives way.
    this.items = [...this.items, { id, text, action }].slice(-3);
    setTimeout(() => this.close(id), ms);
    return id;
  }

  /** Close a notice (no-op when it is gone). */
  close(id: number): void {
    this.items = this.items.filter((t) => t.id !== id);
  }

  /** Run a notice's action, then close it. */
  act(id: number): void {
    const t = this.items.find((x) => x.id === id);
    this.close(id);
    t?.action?.run();
  }
}

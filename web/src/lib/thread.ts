// Pure updates of the visible thread (the active path, root first) from the
// events of a send, edit or regenerate. Kept free of Svelte so it is unit-tested.

import type { MessageView, TurnView } from './types';

/** The path up to and including `parentId` (empty for a root). */
function upTo(path: MessageView[], parentId: string | null): MessageView[] {
  if (parentId === null) return [];
  const k = path.findIndex((m) => m.id === parentId);
  return k === -1 ? path.slice() : path.slice(0, k + 1);
}

/** Sibling ids of a new message, from the message it branches beside. */
function siblingsOf(path: MessageView[], fresh: MessageView): string[] {
  const beside = path.find((m) => m.parent_id === fresh.parent_id && m.id !== fresh.id && m.role === fresh.role);
  const before = beside?.sibling_ids ?? (beside ? [beside.id] : []);
  return before.includes(fresh.id) ? before : [...before, fresh.id];
}

/** The path after a `turn` event: cut at the new messages' parent, append them. */
export function applyTurn(path: MessageView[], turn: TurnView): MessageView[] {
  const first = turn.user_message ?? turn.assistant_message;
  const next = upTo(path, first.parent_id);
  if (turn.user_message) next.push({ ...turn.user_message, sibling_ids: siblingsOf(path, turn.user_message) });
  const assistant = turn.assistant_message;
  next.push({ ...assistant, sibling_ids: turn.user_message ? [assistant.id] : siblingsOf(path, assistant) });
  return next;
}

/** Append streamed text to a message. */
export function applyDelta(path: MessageView[], id: string, text: string): MessageView[] {
  return path.map((m) => (m.id === id ? { ...m, content: m.content + text } : m));
}

/** Replace a message by its final state (keeping the known siblings). */
export function applyEnd(path: MessageView[], final: MessageView): MessageView[] {
  return path.map((m) => (m.id === final.id ? { ...final, sibling_ids: final.sibling_ids ?? m.sibling_ids } : m));
}

/** Figures of a finished answer for the details panel. */
export function stats(m: MessageView): { ttftMs: number; tokensPerSec: number | null } {
  const ttftMs = m.timings.queue_ms + m.timings.prompt_ms;
  const tokensPerSec = m.timings.generation_ms > 0 ? (m.usage.completion_tokens * 1000) / m.timings.generation_ms : null;
  return { ttftMs, tokensPerSec };
}

/** Group label of a conversation by its last activity. */
export function dateGroup(ms: number, now = Date.now()): string {
  const day = 86_400_000;
  const startOfToday = new Date(now);
  startOfToday.setHours(0, 0, 0, 0);
  const t = startOfToday.getTime();
  if (ms >= t) return 'Today';
  if (ms >= t - day) return 'Yesterday';
  if (ms >= t - 7 * day) return 'Previous 7 days';
  if (ms >= t - 30 * day) return 'Previous 30 days';
  return 'Older';
}

/** Conversations under their sidebar headings: Pinned first (when `pinnedFirst`),
 *  then by day of last activity, newest group first; each heading once even
 *  when the server's order interleaves them. */
export function groupConversations<T extends { pinned: boolean; updated_at_ms: number }>(items: T[], pinnedFirst: boolean, now = Date.now()): { label: string; items: T[] }[] {
  const order = ['Pinned', 'Today', 'Yesterday', 'Previous 7 days', 'Previous 30 days', 'Older'];
  const groups = new Map<string, T[]>();
  for (const c of items) {
    const label = c.pinned && pinnedFirst ? 'Pinned' : dateGroup(c.updated_at_ms, now);
    const list = groups.get(label);
    if (list) list.push(c);
    else groups.set(label, [c]);
  }
  return [...groups].sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0])).map(([label, items]) => ({ label, items }));
}

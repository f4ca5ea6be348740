// Application state as Svelte 5 rune classes: the session, the theme, the
// conversation list and the open chat. Components read fields and call
// methods; every server call goes through ./api.

import * as api from './api';
import { ApiError } from './api';
import { Deferred } from './deferred';
import { createBody, emptySettings, updateBody, type ChatSettings } from './chatsettings';
import { applyDelta, applyEnd, applyTurn } from './thread';
import type {
  ConversationDetailView,
  ConversationListView,
  ConversationView,
  MeView,
  MessageView,
  ModelEntry,
  TurnView,
} from './types';
import type { SseEvent } from './sse';

/** The signed-in user, or null. */
export class Session {
  me = $state<MeView | null>(null);
  checked = $state(false);

  async load(): Promise<void> {
    try {
      this.set(await api.get<MeView>('/ui/auth/me'));
    } catch (e) {
      if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) throw e;
      this.set(null);
    } finally {
      this.checked = true;
    }
  }

  set(me: MeView | null): void {
    this.me = me;
    api.setCsrf(me?.csrf_token ?? null);
  }

  async login(username: string, password: string): Promise<void> {
    this.set(await api.post<MeView>('/ui/auth/login', { username, password }));
  }

  async setup(token: string, username: string, password: string): Promise<void> {
    this.set(await api.post<MeView>('/ui/auth/setup', { token, username, password }));
  }

  async acceptInvite(token: string, username: string, password: string): Promise<void> {
    this.set(await api.post<MeView>(`/ui/invites/${encodeURIComponent(token)}`, { username, password }));
  }

  async changePassword(current_password: string, new_password: string): Promise<void> {
    this.set(await api.post<MeView>('/ui/auth/password', { current_password, new_password }));
  }

  async logout(): Promise<void> {
    try {
      await api.post('/ui/auth/logout');
    } finally {
      this.set(null);
    }
  }
}

export type ThemeChoice = 'light' | 'dark' | 'system';
const THEME_KEY = 'hearth.theme';

/** Light, dark or the system's, kept in localStorage, applied on <html>. */
export class Theme {
  choice = $state<ThemeChoice>('system');

  constructor(private storage: Pick<Storage, 'getItem' | 'setItem'> | null = globalThis.localStorage ?? null) {
    const saved = storage?.getItem(THEME_KEY);
    if (saved === 'light' || saved === 'dark' || saved === 'system') this.choice = saved;
  }

  set(choice: ThemeChoice): void {
    this.choice = choice;
    this.storage?.setItem(THEME_KEY, choice);
    this.apply();
  }

  apply(root: { dataset: DOMStringMap } | undefined = globalThis.document?.documentElement): void {
    if (!root) return;
    if (this.choice === 'system') delete root.dataset.theme;
    else root.dataset.theme = this.choice;
  }
}

/** How long a deleted conversation waits for Undo before the request goes out. */
export const UNDO_MS = 5000;

/** The sidebar's conversations, newest activity first, with a search query;
 *  either the active ones or the archive. */
export class Conversations {
  items = $state<ConversationView[]>([]);
  query = $state('');
  showArchived = $state(false);
  loading = $state(false);
  error = $state<string | null>(null);
  /** Deletes waiting for their Undo time; their conversations are hidden. */
  readonly deletes = new Deferred();
  private hidden = $state<string[]>([]);
  private generation = 0;

  /** The list as shown: without conversations whose delete is pending. */
  get visible(): ConversationView[] {
    return this.hidden.length ? this.items.filter((c) => !this.hidden.includes(c.id)) : this.items;
  }

  async load(query = this.query): Promise<void> {
    this.query = query;
    const ticket = ++this.generation;
    this.loading = true;
    try {
      const params = new URLSearchParams({ limit: '100', archived: String(this.showArchived) });
      if (query.trim()) params.set('q', query.trim());
      const page = await api.get<ConversationListView>(`/ui/conversations?${params}`);
      // A slower, older search must not overwrite a newer one.
      if (ticket === this.generation) {
        this.items = page.conversations;
        this.error = null;
      }
    } catch (e) {
      if (ticket === this.generation) this.error = (e as Error).message;
    } finally {
      if (ticket === this.generation) this.loading = false;
    }
  }

  upsert(c: ConversationView): void {
    const rest = this.items.filter((x) => x.id !== c.id);
    this.items = [c, ...rest].sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.updated_at_ms - a.updated_at_ms);
  }

  async rename(id: string, title: string): Promise<void> {
    this.upsert(await api.patch<ConversationView>(`/ui/conversations/${id}`, { title }));
  }

  async setPinned(id: string, pinned: boolean): Promise<void> {
    this.upsert(await api.patch<ConversationView>(`/ui/conversations/${id}`, { pinned }));
  }

  /** Show the archive (true) or the active conversations. */
  async setShowArchived(show: boolean): Promise<void> {
    this.showArchived = show;
    await this.load();
  }

  /** Archive or unarchive; the conversation leaves the list being shown. */
  async setArchived(id: string, archived: boolean): Promise<void> {
    const c = await api.patch<ConversationView>(`/ui/conversations/${id}`, { archived });
    if (c.archived === this.showArchived) this.upsert(c);
    else this.items = this.items.filter((x) => x.id !== id);
  }

  async remove(id: string): Promise<void> {
    await api.del(`/ui/conversations/${id}`);
    this.items = this.items.filter((x) => x.id !== id);
  }

  /** Hide a conversation now and delete it after `ms` unless `undo` is called
   *  first. `onError` hears a failed delete (the conversation comes back). */
  removeLater(id: string, ms = UNDO_MS, onError: (e: Error) => void = () => {}): { undo: () => void } {
    this.hidden = [...this.hidden, id];
    const unhide = () => (this.hidden = this.hidden.filter((x) => x !== id));
    this.deletes.schedule(
      id,
      async () => {
        try {
          await this.remove(id);
        } catch (e) {
          onError(e as Error);
        } finally {
          unhide();
        }
      },
      ms,
    );
    return {
      undo: () => {
        if (this.deletes.cancel(id)) unhide();
      },
    };
  }
}

/** Models for the picker. */
export class Models {
  items = $state<ModelEntry[]>([]);
  error = $state<string | null>(null);

  async load(): Promise<void> {
    try {
      const list = await api.get<{ data: ModelEntry[] }>('/ui/models');
      // Only models with a chat template can answer a conversation.
      const chat = list.data.filter((m) => m.chat !== false);
      this.items = chat.length ? chat : list.data;
      this.error = null;
    } catch (e) {
      this.error = (e as Error).message;
    }
  }
}

/** The open conversation and the answer being streamed into it. */
export class Chat {
  conversation = $state<ConversationView | null>(null);
  messages = $state<MessageView[]>([]);
  streamingId = $state<string | null>(null);
  error = $state<string | null>(null);
  loading = $state(false);
  /** Settings for the next new conversation (persona, prompt, sampling). */
  draft = $state<ChatSettings>(emptySettings());
  private abort: AbortController | null = null;

  constructor(private list: Conversations | null = null) {}

  get isStreaming(): boolean {
    return this.streamingId !== null;
  }

  reset(): void {
    this.abort?.abort();
    this.abort = null;
    this.conversation = null;
    this.messages = [];
    this.streamingId = null;
    this.error = null;
    this.draft = emptySettings();
  }

  private show(detail: ConversationDetailView): void {
    this.conversation = detail.conversation;
    this.messages = detail.messages.filter((m) => m.role === 'user' || m.role === 'assistant');
  }

  async open(id: string): Promise<void> {
    if (this.conversation?.id !== id) this.reset();
    this.loading = true;
    try {
      this.show(await api.get<ConversationDetailView>(`/ui/conversations/${id}`));
      this.error = null;
      // Re-attach to an answer still being generated (after a reload).
      const live = this.messages.at(-1);
      if (live?.status === 'streaming') {
        this.messages = this.messages.map((m) => (m.id === live.id ? { ...m, content: '' } : m));
        void this.run(() => api.stream('GET', `/ui/conversations/${id}/messages/${live.id}/events`, undefined, this.abort!.signal), live.id);
      }
    } catch (e) {
      this.error = (e as Error).message;
      throw e;
    } finally {
      this.loading = false;
    }
  }

  /** Send a message, creating the conversation first when none is open. */
  async send(content: string, model: string | null, onCreated?: (id: string) => void): Promise<string> {
    if (!this.conversation) {
      const body = createBody(this.draft, model);
      if ('error' in body) {
        this.error = body.error as string;
        throw new Error(this.error);
      }
      const created = await api.post<ConversationView>('/ui/conversations', body);
      this.conversation = created;
      this.messages = [];
      this.list?.upsert(created);
      onCreated?.(created.id);
    }
    const id = this.conversation.id;
    const parent_id = this.messages.at(-1)?.id;
    const body = { content, stream: true, ...(model ? { model } : {}), ...(parent_id ? { parent_id } : {}) };
    await this.run(() => api.stream('POST', `/ui/conversations/${id}/messages`, body, this.abort!.signal));
    return id;
  }

  async regenerate(assistantId: string, model: string | null): Promise<void> {
    const id = this.conversation!.id;
    const body = { stream: true, ...(model ? { model } : {}) };
    await this.run(() => api.stream('POST', `/ui/conversations/${id}/messages/${assistantId}/regenerate`, body, this.abort!.signal));
  }

  async edit(userId: string, content: string, model: string | null): Promise<void> {
    const id = this.conversation!.id;
    const body = { content, stream: true, ...(model ? { model } : {}) };
    await this.run(() => api.stream('POST', `/ui/conversations/${id}/messages/${userId}/edit`, body, this.abort!.signal));
  }

  /** Save the open conversation's settings (the draft's when none is open). */
  async saveSettings(settings: ChatSettings): Promise<void> {
    if (!this.conversation) {
      this.draft = settings;
      return;
    }
    const body = updateBody(settings, this.conversation);
    if ('error' in body) throw new Error(body.error as string);
    const updated = await api.patch<ConversationView>(`/ui/conversations/${this.conversation.id}`, body);
    this.conversation = updated;
    this.list?.upsert(updated);
  }

  /** Show the branch through a sibling message. */
  async switchTo(messageId: string): Promise<void> {
    if (this.isStreaming) return;
    const id = this.conversation!.id;
    this.show(await api.post<ConversationDetailView>(`/ui/conversations/${id}/switch`, { message_id: messageId }));
  }

  /** Stop the answer: the server keeps the partial text as `cancelled`. */
  async stop(): Promise<void> {
    const messageId = this.streamingId;
    if (!messageId || !this.conversation) return;
    const id = this.conversation.id;
    try {
      const final = await api.post<MessageView>(`/ui/conversations/${id}/messages/${messageId}/cancel`);
      this.messages = applyEnd(this.messages, final);
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.abort?.abort();
    }
  }

  /** Apply one SSE event of an answer. */
  apply(event: SseEvent): void {
    const data = JSON.parse(event.data);
    switch (event.event) {
      case 'turn': {
        const turn = data as TurnView;
        this.messages = applyTurn(this.messages, turn);
        this.streamingId = turn.assistant_message.id;
        break;
      }
      case 'delta':
        if (this.streamingId) this.messages = applyDelta(this.messages, this.streamingId, data.text as string);
        break;
      case 'done':
        this.messages = applyEnd(this.messages, data as MessageView);
        this.streamingId = null;
        break;
      case 'error':
        if (data.message) this.messages = applyEnd(this.messages, data.message as MessageView);
        this.error = data.error?.message ?? 'the answer failed';
        this.streamingId = null;
        break;
    }
  }

  private async run(open: () => AsyncGenerator<SseEvent>, following: string | null = null): Promise<void> {
    this.abort?.abort();
    const controller = new AbortController();
    this.abort = controller;
    this.error = null;
    this.streamingId = following;
    try {
      for await (const event of open()) this.apply(event);
    } catch (e) {
      if (!controller.signal.aborted) this.error = (e as Error).message;
    } finally {
      if (this.abort === controller) this.abort = null;
      this.streamingId = null;
      await this.refreshMeta();
    }
  }

  /** Pick up a generated title and the new activity time. */
  private async refreshMeta(): Promise<void> {
    const id = this.conversation?.id;
    if (!id || !this.list) return;
    try {
      const detail = await api.get<ConversationDetailView>(`/ui/conversations/${id}`);
      if (this.conversation?.id !== id) return;
      this.conversation = detail.conversation;
      this.list.upsert(detail.conversation);
      if (!this.isStreaming) {
        // Sibling lists from the server are authoritative.
        const byId = new Map(detail.messages.map((m) => [m.id, m]));
        this.messages = this.messages.map((m) => byId.get(m.id) ?? m);
      }
    } catch {
      /* the list refreshes on the next load */
    }
  }
}

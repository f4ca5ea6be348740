import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setCsrf } from './api';
import { Chat, Conversations, Session, Theme } from './stores.svelte';
import { Toasts } from './toasts.svelte';
import { applyTurn, dateGroup, groupConversations, stats } from './thread';
import type { MessageView, TurnView } from './types';

function msg(id: string, role: 'user' | 'assistant', parent: string | null, extra: Partial<MessageView> = {}): MessageView {
  return {
    id,
    conversation_id: 'c1',
    parent_id: parent,
    role,
    content: '',
    model: 'm',
    params: {},
    status: 'complete',
    error: null,
    finish_reason: null,
    usage: { prompt_tokens: 10, cached_tokens: 4, completion_tokens: 20 },
    timings: { queue_ms: 5, prompt_ms: 45, generation_ms: 400 },
    created_at_ms: 0,
    updated_at_ms: 0,
    ...extra,
  };
}

const conv = { id: 'c1', title: 'New conversation', model: null, system_prompt: null, params: {}, pinned: false, archived: false, current_leaf_id: null, created_at_ms: 1, updated_at_ms: 1 };

function sse(events: [string, unknown][]): Response {
  const text = events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`).join('');
  return new Response(text, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}
const ok = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A fetch mock answering by "METHOD path" prefix; records the calls. */
function mockFetch(routes: Record<string, (init: RequestInit) => Response>) {
  const calls: { key: string; init: RequestInit }[] = [];
  const f = vi.fn(async (path: string, init: RequestInit = {}) => {
    const key = `${init.method ?? 'GET'} ${path}`;
    calls.push({ key, init });
    const match = Object.keys(routes).find((k) => key.startsWith(k));
    if (!match) return ok({ error: { code: 'E_NOT_FOUND', message: `no mock for ${key}` } }, 404);
    return routes[match](init);
  });
  vi.stubGlobal('fetch', f);
  return calls;
}

afterEach(() => {
  vi.unstubAllGlobals();
  setCsrf(null);
});

describe('thread updates', () => {
  it('appends a fresh turn', () => {
    const turn: TurnView = { conversation_id: 'c1', user_message: msg('u1', 'user', null), assistant_message: msg('a1', 'assistant', 'u1', { status: 'streaming' }), replayed: false };
    const path = applyTurn([], turn);
    expect(path.map((m) => m.id)).toEqual(['u1', 'a1']);
    expect(path[0].sibling_ids).toEqual(['u1']);
  });

  it('a regenerate replaces the answer and counts the siblings', () => {
    const path = [msg('u1', 'user', null, { sibling_ids: ['u1'] }), msg('a1', 'assistant', 'u1', { sibling_ids: ['a1'] })];
    const turn: TurnView = { conversation_id: 'c1', user_message: null, assistant_message: msg('a2', 'assistant', 'u1'), replayed: false };
    const next = applyTurn(path, turn);
    expect(next.map((m) => m.id)).toEqual(['u1', 'a2']);
    expect(next[1].sibling_ids).toEqual(['a1', 'a2']);
  });

  it('an edit branches at the edited message', () => {
    const path = [msg('u1', 'user', null), msg('a1', 'assistant', 'u1'), msg('u2', 'user', 'a1', { sibling_ids: ['u2'] }), msg('a2', 'assistant', 'u2')];
    const turn: TurnView = { conversation_id: 'c1', user_message: msg('u3', 'user', 'a1'), assistant_message: msg('a3', 'assistant', 'u3'), replayed: false };
    const next = applyTurn(path, turn);
    expect(next.map((m) => m.id)).toEqual(['u1', 'a1', 'u3', 'a3']);
    expect(next[2].sibling_ids).toEqual(['u2', 'u3']);
  });

  it('computes time to first token and tokens per second', () => {
    expect(stats(msg('a', 'assistant', null))).toEqual({ ttftMs: 50, tokensPerSec: 50 });
    expect(stats(msg('a', 'assistant', null, { timings: { queue_ms: 0, prompt_ms: 0, generation_ms: 0 } })).tokensPerSec).toBeNull();
  });

  it('groups by date', () => {
    const now = new Date(2025, 5, 15, 12).getTime();
    expect(dateGroup(now - 1000, now)).toBe('Today');
    expect(dateGroup(now - 86_400_000, now)).toBe('Yesterday');
    expect(dateGroup(now - 3 * 86_400_000, now)).toBe('Previous 7 days');
    expect(dateGroup(now - 100 * 86_400_000, now)).toBe('Older');
  });
});

describe('Session', () => {
  it('keeps the CSRF token and sends it on state-changing requests', async () => {
    const me = { user: { id: 'u', username: 'ann', role: 'admin', disabled: false, created_at_ms: 0 }, scopes: ['chat'], csrf_token: 'tok' };
    const calls = mockFetch({ 'POST /ui/auth/login': () => ok(me), 'POST /ui/auth/logout': () => new Response(null, { status: 204 }) });
    const s = new Session();
    await s.login('ann', 'pw');
    expect(s.me?.user.username).toBe('ann');
    await s.logout();
    expect(new Headers(calls[1].init.headers).get('x-csrf-token')).toBe('tok');
    expect(s.me).toBeNull();
  });

  it('treats 401 from /ui/auth/me as signed out', async () => {
    mockFetch({ 'GET /ui/auth/me': () => ok({ error: { code: 'E_AUTH_REQUIRED', message: 'no' } }, 401) });
    const s = new Session();
    await s.load();
    expect(s.checked).toBe(true);
    expect(s.me).toBeNull();
  });

  it('surfaces the error envelope message', async () => {
    mockFetch({ 'POST /ui/auth/login': () => ok({ error: { code: 'E_AUTH_INVALID', message: 'wrong username or password' } }, 401) });
    await expect(new Session().login('a', 'b')).rejects.toMatchObject({ code: 'E_AUTH_INVALID', message: 'wrong username or password' });
  });
});

describe('Theme', () => {
  it('persists and applies the choice', () => {
    const saved = new Map<string, string>();
    const storage = { getItem: (k: string) => saved.get(k) ?? null, setItem: (k: string, v: string) => void saved.set(k, v) };
    const root = { dataset: {} as DOMStringMap };
    const t = new Theme(storage);
    expect(t.choice).toBe('system');
    t.set('dark');
    t.apply(root);
    expect(root.dataset.theme).toBe('dark');
    expect(new Theme(storage).choice).toBe('dark');
    t.set('system');
    t.apply(root);
    expect(root.dataset.theme).toBeUndefined();
  });
});

describe('Conversations', () => {
  it('searches, renames and deletes', async () => {
    const calls = mockFetch({
      'GET /ui/conversations?': () => ok({ conversations: [conv], next_cursor: null }),
      'PATCH /ui/conversations/c1': () => ok({ ...conv, title: 'Renamed' }),
      'DELETE /ui/conversations/c1': () => ok({ id: 'c1', purged: false }),
    });
    const list = new Conversations();
    await list.load('hello world');
    expect(calls[0].key).toBe('GET /ui/conversations?limit=100&archived=false&q=hello+world');
    expect(list.items).toHaveLength(1);
    await list.rename('c1', 'Renamed');
    expect(list.items[0].title).toBe('Renamed');
    await list.remove('c1');
    expect(list.items).toHaveLength(0);
  });

  it('archives out of the active list and lists the archive', async () => {
    const calls = mockFetch({
      'GET /ui/conversations?limit=100&archived=true': () => ok({ conversations: [{ ...conv, archived: true }], next_cursor: null }),
      'GET /ui/conversations?': () => ok({ conversations: [conv], next_cursor: null }),
      'PATCH /ui/conversations/c1': (init) => ok({ ...conv, ...JSON.parse(init.body as string) }),
    });
    const list = new Conversations();
    await list.load('');
    await list.setArchived('c1', true);
    expect(JSON.parse(calls[1].init.body as string)).toEqual({ archived: true });
    expect(list.items).toHaveLength(0);
    await list.setShowArchived(true);
    expect(calls[2].key).toBe('GET /ui/conversations?limit=100&archived=true');
    expect(list.items[0].archived).toBe(true);
    await list.setArchived('c1', false);
    expect(list.items).toHaveLength(0);
  });

  it('pinned conversations sort first', async () => {
    mockFetch({ 'PATCH /ui/conversations/c2': () => ok({ ...conv, id: 'c2', pinned: true, updated_at_ms: 0 }) });
    const list = new Conversations();
    list.items = [{ ...conv, updated_at_ms: 5 }, { ...conv, id: 'c2', updated_at_ms: 0 }];
    await list.setPinned('c2', true);
    expect(list.items.map((c) => c.id)).toEqual(['c2', 'c1']);
  });

  describe('delete with undo', () => {
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    it('hides at once and sends the delete only after the undo time', async () => {
      const calls = mockFetch({ 'DELETE /ui/conversations/c1': () => ok({ id: 'c1', purged: false }) });
      const list = new Conversations();
      list.items = [conv];
      list.removeLater('c1', 5000);
      expect(list.visible).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(4999);
      expect(calls).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls.map((c) => c.key)).toEqual(['DELETE /ui/conversations/c1']);
      expect(list.items).toHaveLength(0);
    });

    it('undo brings it back and sends nothing', async () => {
      const calls = mockFetch({});
      const list = new Conversations();
      list.items = [conv];
      const pending = list.removeLater('c1', 5000);
      pending.undo();
      expect(list.visible).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(calls).toHaveLength(0);
    });

    it('a failed delete shows the conversation again and reports', async () => {
      mockFetch({ 'DELETE /ui/conversations/c1': () => ok({ error: { code: 'E_INTERNAL', message: 'disk full' } }, 500) });
      const list = new Conversations();
      list.items = [conv];
      const errors: string[] = [];
      list.removeLater('c1', 100, (e) => errors.push(e.message));
      await vi.advanceTimersByTimeAsync(100);
      expect(errors).toEqual(['disk full']);
      expect(list.visible).toHaveLength(1);
    });

    it('flush sends pending deletes at once (page unload), with keepalive', async () => {
      const calls = mockFetch({ 'DELETE /ui/conversations/c1': () => ok({ id: 'c1', purged: false }) });
      const list = new Conversations();
      list.items = [conv];
      list.removeLater('c1', 5000);
      list.deletes.flush();
      await vi.advanceTimersByTimeAsync(0);
      expect(calls).toHaveLength(1);
      expect(calls[0].init.keepalive).toBe(true);
      expect(list.deletes.has('c1')).toBe(false);
    });
  });
});

describe('Toasts', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('close after their time; the action runs once and closes', () => {
    const toasts = new Toasts();
    let undone = 0;
    const id = toasts.show('Deleted', { label: 'Undo', run: () => undone++ }, 1000);
    toasts.show('Other', undefined, 3000);
    toasts.act(id);
    toasts.act(id);
    expect(undone).toBe(1);
    expect(toasts.items.map((t) => t.text)).toEqual(['Other']);
    vi.advanceTimersByTime(3000);
    expect(toasts.items).toHaveLength(0);
  });
});

describe('Chat', () => {
  it('creates a conversation, streams the answer and ends it', async () => {
    const user = msg('u1', 'user', null, { content: 'Hi' });
    const streaming = msg('a1', 'assistant', 'u1', { status: 'streaming' });
    const done = msg('a1', 'assistant', 'u1', { content: 'Hello there', finish_reason: 'stop' });
    const calls = mockFetch({
      'POST /ui/conversations/c1/messages': () =>
        sse([
          ['turn', { conversation_id: 'c1', user_message: user, assistant_message: streaming, replayed: false }],
          ['delta', { text: 'Hello' }],
          ['delta', { text: ' there' }],
          ['done', done],
        ]),
      'POST /ui/conversations': () => ok(conv, 201),
      'GET /ui/conversations/c1': () => ok({ conversation: { ...conv, title: 'Greeting' }, view: 'path', messages: [{ ...user, sibling_ids: ['u1'] }, { ...done, sibling_ids: ['a1'] }] }),
    });
    const list = new Conversations();
    const chat = new Chat(list);
    let created = '';
    await chat.send('Hi', 'smollm2', (id) => (created = id));
    expect(created).toBe('c1');
    expect(JSON.parse(calls[1].init.body as string)).toEqual({ content: 'Hi', stream: true, model: 'smollm2' });
    expect(chat.messages.map((m) => [m.id, m.content])).toEqual([['u1', 'Hi'], ['a1', 'Hello there']]);
    expect(chat.isStreaming).toBe(false);
    expect(list.items[0].title).toBe('Greeting');
  });

  it('a new chat is created with the draft settings; saving settings patches', async () => {
    const calls = mockFetch({
      'POST /ui/conversations/c1/messages': () => sse([]),
      'POST /ui/conversations': () => ok(conv, 201),
      'GET /ui/conversations/c1': () => ok({ conversation: conv, view: 'path', messages: [] }),
      'PATCH /ui/conversations/c1': (init) => ok({ ...conv, ...JSON.parse(init.body as string) }),
    });
    const chat = new Chat(new Conversations());
    await chat.saveSettings({ personaId: 'builtin:socratic', systemPrompt: 'x', temperature: '0.3', maxTokens: '' });
    expect(calls).toHaveLength(0);
    await chat.send('Hi', 'm');
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ model: 'm', persona_id: 'builtin:socratic', params: { temperature: 0.3 } });
    await chat.saveSettings({ personaId: null, systemPrompt: 'Be brief.', temperature: '', maxTokens: '128' });
    const patch = calls.find((c) => c.key.startsWith('PATCH'))!;
    expect(JSON.parse(patch.init.body as string)).toEqual({ system_prompt: 'Be brief.', params: { max_tokens: 128 } });
    expect(chat.conversation?.system_prompt).toBe('Be brief.');
    await expect(chat.saveSettings({ personaId: null, systemPrompt: '', temperature: '9', maxTokens: '' })).rejects.toThrow(/Temperature/);
  });

  it('marks a failed answer with its error', () => {
    const chat = new Chat();
    chat.apply({ event: 'turn', data: JSON.stringify({ conversation_id: 'c1', user_message: msg('u1', 'user', null), assistant_message: msg('a1', 'assistant', 'u1', { status: 'streaming' }), replayed: false }) });
    expect(chat.streamingId).toBe('a1');
    chat.apply({ event: 'error', data: JSON.stringify({ error: { code: 'E_PROVIDER_FAILED', message: 'model crashed' }, message: msg('a1', 'assistant', 'u1', { status: 'error', error: 'model crashed' }) }) });
    expect(chat.error).toBe('model crashed');
    expect(chat.messages[1].status).toBe('error');
    expect(chat.isStreaming).toBe(false);
  });

  it('stops: cancels on the server and keeps the partial answer', async () => {
    const calls = mockFetch({
      'POST /ui/conversations/c1/messages/a1/cancel': () => ok(msg('a1', 'assistant', 'u1', { content: 'Hel', status: 'cancelled' })),
    });
    const chat = new Chat();
    chat.conversation = conv;
    chat.apply({ event: 'turn', data: JSON.stringify({ conversation_id: 'c1', user_message: msg('u1', 'user', null), assistant_message: msg('a1', 'assistant', 'u1', { status: 'streaming' }), replayed: false }) });
    chat.apply({ event: 'delta', data: '{"text":"Hel"}' });
    await chat.stop();
    expect(calls[0].key).toBe('POST /ui/conversations/c1/messages/a1/cancel');
    expect(chat.messages[1]).toMatchObject({ content: 'Hel', status: 'cancelled' });
  });
});

describe('sidebar groups', () => {
  it('each heading once, Pinned first, days newest first, even when interleaved', () => {
    const now = new Date(2026, 10, 22, 12).getTime();
    const day = 86_400_000;
    const c = (id: string, ago: number, pinned = false) => ({ id, pinned, updated_at_ms: now - ago });
    const groups = groupConversations([c('a', 40 * day), c('b', 0), c('p', 50 * day, true), c('d', 41 * day), c('e', 1000)], true, now);
    expect(groups.map((g) => [g.label, g.items.map((x) => x.id)])).toEqual([
      ['Pinned', ['p']],
      ['Today', ['b', 'e']],
      ['Older', ['a', 'd']],
    ]);
    expect(groupConversations([c('p', 0, true)], false, now)[0].label).toBe('Today');
  });
});

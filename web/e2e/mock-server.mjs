// A stand-in for `hearth serve` for the end-to-end tests when no real server
// is given (HEARTH_URL unset): serves web/dist like the binary does and
// implements the documented shapes of the account and conversation routes
// (docs/openapi.json), with answers streamed as SSE token by token.
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { join, extname } from 'node:path';
import { randomUUID } from 'node:crypto';

const DIST = new URL('../dist/', import.meta.url).pathname;
export const SETUP_TOKEN = 'mock-setup-token';
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const ANSWER = 'Here is an answer with **bold** text and code:\n\n```python\nprint("hello from hearth")\n```\n\n' +
  Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ') + '.';

export function startMock({ port = 0, tokenDelayMs = 25 } = {}) {
  const users = new Map(); // username -> {user, password}
  const sessions = new Map(); // secret -> {user, csrf}
  const convs = new Map(); // id -> conversation
  const msgs = new Map(); // id -> message
  const live = new Map(); // message id -> {listeners:Set, events:[], cancelled}
  let setupDone = false;
  const now = () => Date.now();
  const invites = new Map(); // token -> invite
  const keys = new Map(); // secret -> key
  const audit = [];
  const record = (action, principal, target = null) => audit.unshift({ id: randomUUID(), at_ms: now(), action, outcome: 'success', principal, target, ip: '127.0.0.1', user_agent: null, request_id: null, detail: {} });
  const PERSONAS = [{ id: 'builtin:concise-expert', builtin: true, version: 1, name: 'Concise expert', description: 'Short, exact answers.', template: 'You are an expert in {{topic|everything}}. Answer briefly.', variables: [{ name: 'topic', default: 'everything' }] }];
  const sessionView = (secret, v, current) => ({ id: v.id, user_id: v.user.id, created_at_ms: v.at, last_seen_at_ms: v.at, expires_at_ms: v.at + 86_400_000, ip: '127.0.0.1', user_agent: v.ua, current });
  const keyView = (k) => { const { secret, ...rest } = k; return rest; };
  const userById = (id) => [...users.values()].find((u) => u.user.id === id);
  // The model registry: pulled models by `name:tag`.
  const registry = new Map();
  const served = (name) => name.replace(/:latest$/, '');
  const servedView = (r) => ({ id: served(r.name), architecture: 'llama', size_bytes: r.size_bytes, quantization: 'Q4_1', context_length: 8192, chat: true, embedding: false, loaded: false });
  const PULL_SIZE = 4 * 1024 * 1024;
  const PULL_DIGEST = 'sha256:' + 'ab'.repeat(32);

  const send = (res, status, body, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  const fail = (res, status, code, message) => send(res, status, { error: { code, message }, request_id: randomUUID() });
  const readBody = (req) => new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => { try { resolve(data ? JSON.parse(data) : {}); } catch { resolve(null); } });
  });
  const signIn = (res, status, user) => {
    const secret = randomUUID();
    const csrf = randomUUID();
    sessions.set(secret, { id: randomUUID(), user, csrf, at: now(), ua: res.req?.headers['user-agent'] ?? null });
    record('login', user.id);
    send(res, status, { user, scopes: ['chat', 'embed', 'models:read'], csrf_token: csrf }, { 'set-cookie': `hearth_session=${secret}; Path=/; HttpOnly; SameSite=Strict` });
  };
  const session = (req) => {
    const m = /(?:^|;\s*)hearth_session=([^;]+)/.exec(req.headers.cookie ?? '');
    return m ? sessions.get(m[1]) : undefined;
  };
  const path = (c) => {
    const out = [];
    for (let id = c.current_leaf_id; id; id = msgs.get(id).parent_id) out.unshift(msgs.get(id));
    return out;
  };
  const siblings = (m) => [...msgs.values()].filter((x) => x.conversation_id === m.conversation_id && x.parent_id === m.parent_id && x.role === m.role).sort((a, b) => a.seq - b.seq).map((x) => x.id);
  const view = (m) => { const { seq, ...rest } = m; return rest; };
  const detail = (c) => ({ conversation: c, view: 'path', messages: path(c).map((m) => ({ ...view(m), sibling_ids: siblings(m) })) });
  let seq = 0;
  const newMsg = (c, role, parent_id, content, status = 'complete') => {
    const m = { id: randomUUID(), conversation_id: c.id, parent_id, role, content, model: c.model ?? 'smollm2:135m', params: {}, status, error: null, finish_reason: null,
      usage: { prompt_tokens: 0, cached_tokens: 0, completion_tokens: 0 }, timings: { queue_ms: 0, prompt_ms: 0, generation_ms: 0 }, created_at_ms: now(), updated_at_ms: now(), seq: seq++ };
    msgs.set(m.id, m);
    return m;
  };
  const emit = (entry, event, data) => {
    entry.events.push([event, data]);
    for (const l of entry.listeners) l(event, data);
  };
  const generate = (c, assistant) => {
    const entry = { listeners: new Set(), events: [], cancelled: false };
    live.set(assistant.id, entry);
    const tokens = ANSWER.split(/(?<= )/);
    const start = now();
    let i = 0;
    const finish = (status, reason) => {
      Object.assign(assistant, { status, finish_reason: reason, updated_at_ms: now(),
        usage: { prompt_tokens: 42, cached_tokens: 12, completion_tokens: i }, timings: { queue_ms: 3, prompt_ms: 57, generation_ms: Math.max(1, now() - start) } });
      if (c.title === 'New conversation') c.title = path(c)[0]?.content.slice(0, 40) || c.title;
      c.updated_at_ms = now();
      emit(entry, 'done', view(assistant));
      live.delete(assistant.id);
    };
    entry.cancel = () => { if (!entry.cancelled) { entry.cancelled = true; clearTimeout(entry.timer); finish('cancelled', 'cancelled'); } };
    const step = () => {
      if (entry.cancelled) return;
      if (i >= tokens.length) return finish('complete', 'stop');
      assistant.content += tokens[i];
      emit(entry, 'delta', { text: tokens[i] });
      i++;
      entry.timer = setTimeout(step, tokenDelayMs);
    };
    entry.timer = setTimeout(step, 150);
  };
  const stream = (req, res, head, id) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const write = (event, data) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    if (head) write('turn', head);
    const entry = live.get(id);
    if (!entry) { write('done', view(msgs.get(id))); return res.end(); }
    for (const [e, d] of entry.events) write(e, d);
    const listener = (e, d) => { write(e, d); if (e === 'done') { entry.listeners.delete(listener); res.end(); } };
    entry.listeners.add(listener);
    req.on('close', () => entry.listeners.delete(listener));
  };

  // A fake pull: NDJSON progress lines as `hearth serve` sends them.
  function pullModel(req, res, body) {
    const source = String(body.source ?? '').trim();
    if (!/^(https:\/\/|http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]|(hf\.co|huggingface\.co)\/)/.test(source)) {
      return fail(res, 400, 'E_VALIDATION', `'${source}': plain http is allowed only to this machine (loopback); use https://`);
    }
    const base = source.split(/[/?#]/).filter(Boolean).at(-1).replace(/\.gguf$/i, '').toLowerCase();
    const name = String(body.name ?? base).toLowerCase();
    const full = name.includes(':') ? name : `${name}:latest`;
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const line = (o) => res.write(JSON.stringify({ status: o.status, digest: o.digest ?? null, total: o.total ?? null, completed: o.completed ?? 0, error: o.error ?? null }) + '\n');
    line({ status: 'pulling manifest', total: PULL_SIZE });
    let done = 0;
    const step = () => {
      if (res.destroyed) return;
      if (done < PULL_SIZE) {
        done = Math.min(PULL_SIZE, done + PULL_SIZE / 8);
        line({ status: 'downloading', total: PULL_SIZE, completed: done });
        return setTimeout(step, 80);
      }
      line({ status: 'verifying sha256 digest', total: PULL_SIZE, completed: done });
      if (body.digest && body.digest !== PULL_DIGEST) {
        line({ status: 'failed', total: PULL_SIZE, completed: done, error: `digest mismatch: expected ${body.digest}, got ${PULL_DIGEST}; the download was discarded` });
        return res.end();
      }
      const at = now();
      registry.set(full, { name: full, digest: PULL_DIGEST, size_bytes: PULL_SIZE, architecture: 'llama', capabilities: ['chat', 'completion'], source: { kind: 'pull', url: source }, created_at_ms: at, updated_at_ms: at });
      line({ status: 'writing manifest', digest: PULL_DIGEST, total: PULL_SIZE, completed: done });
      line({ status: 'success', digest: PULL_DIGEST, total: PULL_SIZE, completed: done });
      res.end();
    };
    setTimeout(step, 80);
  }

  // Usage summed from the answers, per user (conversation owner) or model.
  function usage(res, url) {
    const group = url.searchParams.get('group_by') ?? 'user';
    if (group !== 'user' && group !== 'model') return fail(res, 400, 'E_VALIDATION', "group_by must be 'user' or 'model'");
    const to = Number(url.searchParams.get('to_ms') ?? now() + 1);
    const from = Number(url.searchParams.get('from_ms') ?? to - 30 * 86_400_000);
    if (!(from < to)) return fail(res, 400, 'E_VALIDATION', 'from_ms must be before to_ms (Unix milliseconds)');
    const rows = new Map();
    for (const x of msgs.values()) {
      if (x.role !== 'assistant' || x.status === 'streaming' || x.created_at_ms < from || x.created_at_ms >= to) continue;
      const owner = convs.get(x.conversation_id)?.owner ?? null;
      const key = group === 'user' ? owner : x.model;
      const r = rows.get(key) ?? { key, username: group === 'user' ? (userById(key)?.user.username ?? null) : null, requests: 0, failed: 0, prompt_tokens: 0, cached_tokens: 0, completion_tokens: 0, total_ms: 0 };
      r.requests++;
      if (x.status !== 'complete') r.failed++;
      r.prompt_tokens += x.usage.prompt_tokens;
      r.cached_tokens += x.usage.cached_tokens;
      r.completion_tokens += x.usage.completion_tokens;
      r.total_ms += x.timings.queue_ms + x.timings.prompt_ms + x.timings.generation_ms;
      rows.set(key, r);
    }
    return send(res, 200, { from_ms: from, to_ms: to, group_by: group, rows: [...rows.values()].sort((a, b) => String(a.key).localeCompare(String(b.key))) });
  }

  async function api(req, res, url) {
    const p = url.pathname;
    const m = req.method;
    const body = m === 'GET' || m === 'DELETE' ? {} : await readBody(req);
    if (body === null) return fail(res, 400, 'E_VALIDATION', 'body is not JSON');
    if (p === '/ui/auth/setup' && m === 'POST') {
      if (setupDone) return fail(res, 409, 'E_CONFLICT', 'setup is already done');
      if (body.token !== SETUP_TOKEN) return fail(res, 401, 'E_AUTH_INVALID', 'invalid setup token; use the one printed in the server log at startup');
      setupDone = true;
      const user = { id: randomUUID(), username: body.username, role: 'admin', disabled: false, created_at_ms: now() };
      users.set(body.username, { user, password: body.password });
      return signIn(res, 201, user);
    }
    if (p === '/ui/auth/login' && m === 'POST') {
      const u = users.get(body.username);
      if (!u || u.password !== body.password || u.user.disabled) return fail(res, 401, 'E_AUTH_INVALID', 'wrong username or password');
      return signIn(res, 200, u.user);
    }
    const inv = /^\/ui\/invites\/([^/]+)$/.exec(p);
    if (inv && m === 'POST') {
      const i = invites.get(decodeURIComponent(inv[1]));
      if (!i || i.used_at_ms) return fail(res, 404, 'E_NOT_FOUND', 'invite not found or already used');
      if (users.has(body.username)) return fail(res, 409, 'E_CONFLICT', 'username taken');
      const user = { id: randomUUID(), username: body.username, role: i.role, disabled: false, created_at_ms: now() };
      users.set(body.username, { user, password: body.password });
      Object.assign(i, { used_at_ms: now(), used_by: user.id });
      return signIn(res, 201, user);
    }
    if (p === '/v1/models') {
      const k = keys.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (!k || k.revoked_at_ms) return send(res, 401, { error: { message: 'invalid API key', type: 'invalid_request_error', code: 'invalid_api_key' } });
      return send(res, 200, { object: 'list', data: [{ id: 'smollm2:135m', object: 'model', created: 0, owned_by: 'hearth' }] });
    }
    const s = session(req);
    if (!s) return fail(res, 401, 'E_AUTH_REQUIRED', 'authentication required');
    const secretOf = () => /(?:^|;\s*)hearth_session=([^;]+)/.exec(req.headers.cookie ?? '')[1];
    if (m !== 'GET' && req.headers['x-csrf-token'] !== s.csrf) return fail(res, 403, 'E_AUTH_FORBIDDEN', 'missing or wrong x-csrf-token header');
    if (p === '/ui/auth/me') return send(res, 200, { user: s.user, scopes: ['chat'], csrf_token: s.csrf });
    if (p === '/ui/auth/logout') {
      for (const [k, v] of sessions) if (v === s) sessions.delete(k);
      return send(res, 204, undefined, { 'set-cookie': 'hearth_session=; Path=/; Max-Age=0' });
    }
    if (p === '/ui/models') return send(res, 200, { data: [{ id: 'smollm2:135m', architecture: 'llama', size_bytes: 98000000, quantization: 'Q4_1', context_length: 8192, chat: true, embedding: false }, ...[...registry.values()].map(servedView)] });
    if (p === '/ui/keys' && m === 'GET') return send(res, 200, { keys: [...keys.values()].filter((k) => k.user_id === s.user.id).map(keyView) });
    if (p === '/ui/keys' && m === 'POST') {
      const secret = 'hk_' + randomUUID().replace(/-/g, '');
      const k = { id: randomUUID(), user_id: s.user.id, name: body.name, prefix: secret.slice(0, 12), scopes: ['chat', 'embed', 'models:read'], models: null, expires_at_ms: null, last_used_at_ms: null, created_at_ms: now(), revoked_at_ms: null, secret };
      keys.set(secret, k);
      record('key.create', s.user.id, k.id);
      return send(res, 201, { key: keyView(k), secret });
    }
    const km = /^\/(ui|admin)\/keys\/([^/]+)$/.exec(p);
    if (km && m === 'DELETE') {
      const k = [...keys.values()].find((x) => x.id === km[2] && (km[1] === 'admin' || x.user_id === s.user.id));
      if (!k) return fail(res, 404, 'E_NOT_FOUND', 'no such key');
      k.revoked_at_ms = now();
      return send(res, 204);
    }
    if (p === '/ui/sessions' && m === 'GET') return send(res, 200, { sessions: [...sessions].filter(([, v]) => v.user.id === s.user.id).map(([k, v]) => sessionView(k, v, v === s)) });
    const sm = /^\/(ui|admin)\/sessions\/([^/]+)$/.exec(p);
    if (sm && m === 'DELETE') {
      for (const [k, v] of sessions) if (v.id === sm[2] && (sm[1] === 'admin' || v.user.id === s.user.id)) sessions.delete(k);
      return send(res, 204);
    }
    if (p === '/ui/personas') return send(res, 200, { personas: PERSONAS });
    if (p.startsWith('/admin/')) {
      if (s.user.role !== 'admin') return fail(res, 403, 'E_AUTH_FORBIDDEN', 'the admin scope is needed');
      if (p === '/admin/users') return send(res, 200, { users: [...users.values()].map((u) => u.user).sort((a, b) => a.username.localeCompare(b.username)) });
      const um = /^\/admin\/users\/([^/]+)(\/password)?$/.exec(p);
      if (um) {
        const u = userById(um[1]);
        if (!u) return fail(res, 404, 'E_NOT_FOUND', 'no such user');
        if (um[2]) { u.password = body.password; for (const [k, v] of sessions) if (v.user.id === u.user.id) sessions.delete(k); return send(res, 204); }
        if (body.role) u.user.role = body.role;
        if (typeof body.disabled === 'boolean') u.user.disabled = body.disabled;
        if (u.user.disabled) for (const [k, v] of sessions) if (v.user.id === u.user.id) sessions.delete(k);
        record('user.update', s.user.id, u.user.id);
        return send(res, 200, u.user);
      }
      if (p === '/admin/invites' && m === 'GET') return send(res, 200, { invites: [...invites.values()].map(({ token, ...i }) => i).reverse() });
      if (p === '/admin/invites' && m === 'POST') {
        const token = randomUUID();
        const i = { id: randomUUID(), role: body.role ?? 'user', created_by: s.user.id, created_at_ms: now(), expires_at_ms: now() + 7 * 86_400_000, used_at_ms: null, used_by: null, token };
        invites.set(token, i);
        record('invite.create', s.user.id, i.id);
        const { token: _, ...view } = i;
        return send(res, 201, { invite: view, token, accept_path: `/ui/invites/${token}` });
      }
      const im = /^\/admin\/invites\/([^/]+)$/.exec(p);
      if (im && m === 'DELETE') { for (const [k, v] of invites) if (v.id === im[1]) invites.delete(k); return send(res, 204); }
      if (p === '/admin/keys') return send(res, 200, { keys: [...keys.values()].map(keyView).reverse() });
      if (p === '/admin/sessions') return send(res, 200, { sessions: [...sessions].map(([k, v]) => sessionView(k, v, v === s)) });
      if (p === '/admin/models' && m === 'GET') return send(res, 200, { models: [...registry.values()], used_bytes: [...registry.values()].reduce((n, r) => n + r.size_bytes, 0), quota_bytes: null });
      if (p === '/admin/models/pull' && m === 'POST') return pullModel(req, res, body);
      if (p === '/admin/models/delete' && m === 'POST') {
        const name = String(body.name ?? '').toLowerCase();
        const key = name.includes(':') ? name : `${name}:latest`;
        const r = registry.get(key);
        if (!r) return fail(res, 404, 'E_MODEL_NOT_FOUND', `model '${key}' not found`);
        registry.delete(key);
        record('model.delete', s.user.id, key);
        return send(res, 200, r);
      }
      if (p === '/admin/usage' && m === 'GET') return usage(res, url);
      if (p === '/admin/audit') {
        const limit = Number(url.searchParams.get('limit') ?? 100);
        const before = url.searchParams.get('before');
        const from = before ? audit.findIndex((e) => e.id === before) + 1 : 0;
        const events = audit.slice(from, from + limit);
        return send(res, 200, { events, next_before: events.length === limit ? events.at(-1).id : null });
      }
      return fail(res, 404, 'E_NOT_FOUND', 'no such route');
    }
    if (p === '/ui/conversations' && m === 'GET') {
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      const archived = url.searchParams.get('archived') ?? 'false';
      const list = [...convs.values()].filter((c) => c.owner === s.user.id && (archived === 'any' || String(c.archived) === archived)).filter((c) => !q || c.title.toLowerCase().includes(q) || [...msgs.values()].some((x) => x.conversation_id === c.id && x.content.toLowerCase().includes(q)));
      return send(res, 200, { conversations: list.sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.updated_at_ms - a.updated_at_ms), next_cursor: null });
    }
    if (p === '/ui/conversations' && m === 'POST') {
      const persona = PERSONAS.find((x) => x.id === body.persona_id);
      const c = { id: randomUUID(), owner: s.user.id, title: body.title ?? 'New conversation', model: body.model ?? null, system_prompt: persona ? persona.template.replace(/\{\{\w+\|([^}]*)\}\}/g, '$1') : (body.system_prompt ?? null), params: body.params ?? {}, pinned: false, archived: false, current_leaf_id: null, created_at_ms: now(), updated_at_ms: now() };
      convs.set(c.id, c);
      return send(res, 201, c);
    }
    if (p === '/ui/conversations/import' && m === 'POST') {
      const created = [];
      for (const doc of Array.isArray(body) ? body : [body]) {
        const c = { id: randomUUID(), owner: s.user.id, title: doc.conversation.title, model: null, system_prompt: null, params: {}, pinned: false, archived: false, current_leaf_id: null, created_at_ms: now(), updated_at_ms: now() };
        convs.set(c.id, c);
        const ids = new Map();
        for (const x of doc.messages) {
          const mm = newMsg(c, x.role, x.parent_id ? ids.get(x.parent_id) : null, x.content);
          ids.set(x.id, mm.id);
        }
        c.current_leaf_id = ids.get(doc.conversation.current_leaf_id) ?? null;
        created.push(c);
      }
      return send(res, 200, { conversations: created });
    }
    const cm = /^\/ui\/conversations\/([^/]+)(\/.*)?$/.exec(p);
    const c = cm && convs.get(cm[1]);
    if (!c || c.owner !== s.user.id) return fail(res, 404, 'E_NOT_FOUND', 'no such conversation');
    const rest = cm[2] ?? '';
    if (rest === '' && m === 'GET') return send(res, 200, detail(c));
    if (rest === '' && m === 'PATCH') {
      for (const f of ['title', 'pinned', 'archived', 'system_prompt', 'params', 'model']) if (f in body) c[f] = body[f];
      if (body.title) c.updated_at_ms = now();
      return send(res, 200, c);
    }
    if (rest === '' && m === 'DELETE') { convs.delete(c.id); return send(res, 200, { id: c.id, purged: false }); }
    if (rest === '/switch') {
      let leaf = msgs.get(body.message_id);
      for (;;) {
        const kids = [...msgs.values()].filter((x) => x.parent_id === leaf.id).sort((a, b) => b.seq - a.seq);
        if (!kids.length) break;
        leaf = kids[0];
      }
      c.current_leaf_id = leaf.id;
      return send(res, 200, detail(c));
    }
    if (rest === '/messages' && m === 'POST') {
      const user = newMsg(c, 'user', body.parent_id ?? c.current_leaf_id, body.content);
      const assistant = newMsg(c, 'assistant', user.id, '', 'streaming');
      c.current_leaf_id = assistant.id;
      generate(c, assistant);
      return stream(req, res, { conversation_id: c.id, user_message: view(user), assistant_message: view(assistant), replayed: false }, assistant.id);
    }
    const mm = /^\/messages\/([^/]+)\/(edit|regenerate|cancel|events)$/.exec(rest);
    const target = mm && msgs.get(mm[1]);
    if (!target) return fail(res, 404, 'E_NOT_FOUND', 'no such message');
    if (mm[2] === 'cancel') { live.get(target.id)?.cancel(); return send(res, 200, view(target)); }
    if (mm[2] === 'events') return stream(req, res, null, target.id);
    let user = null;
    let parent = target.parent_id;
    if (mm[2] === 'edit') { user = newMsg(c, 'user', target.parent_id, body.content); parent = user.id; }
    const assistant = newMsg(c, 'assistant', parent, '', 'streaming');
    c.current_leaf_id = assistant.id;
    generate(c, assistant);
    return stream(req, res, { conversation_id: c.id, user_message: user && view(user), assistant_message: view(assistant), replayed: false }, assistant.id);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (/^\/(ui|admin|v1|api)(\/|$)/.test(url.pathname)) {
      api(req, res, url).catch((e) => fail(res, 500, 'E_INTERNAL', String(e)));
      return;
    }
    let file = join(DIST, url.pathname);
    if (!file.startsWith(DIST) || !existsSync(file) || url.pathname === '/') file = join(DIST, 'index.html');
    else if (!extname(file)) file = join(DIST, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-security-policy': CSP });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` })));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { url } = await startMock({ port: Number(process.env.PORT ?? 5180) });
  console.log(`mock hearth on ${url} (setup token: ${SETUP_TOKEN})`);
}

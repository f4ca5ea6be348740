// Per-chat settings (system prompt or persona, temperature, max tokens) as the
// form edits them, and their translation to the conversation API's bodies.
// Bounds match the server's (crates/hearth-core/src/conversations/params.rs).

import type { ConversationView, PersonaView } from './types';

/** The form's values; numbers stay text until checked. */
export interface ChatSettings {
  personaId: string | null;
  systemPrompt: string;
  temperature: string;
  maxTokens: string;
}

export const emptySettings = (): ChatSettings => ({ personaId: null, systemPrompt: '', temperature: '', maxTokens: '' });

/** The settings of an existing conversation. */
export function fromConversation(c: ConversationView): ChatSettings {
  const p = c.params ?? {};
  return {
    personaId: null,
    systemPrompt: c.system_prompt ?? '',
    temperature: typeof p.temperature === 'number' ? String(p.temperature) : '',
    maxTokens: typeof p.max_tokens === 'number' ? String(p.max_tokens) : '',
  };
}

/** A persona's template with each `{{name|default}}` replaced by its default. */
export function fillTemplate(persona: Pick<PersonaView, 'template'>): string {
  return persona.template.replace(/\{\{\s*([a-zA-Z0-9_]+)\s*(?:\|([^}]*))?\}\}/g, (_, _name: string, def?: string) => (def ?? '').trim());
}

// Number inputs bound with bind:value give numbers (null when empty).
const text = (v: unknown): string => (v === null || v === undefined ? '' : String(v).trim());

/** `params` with temperature and max_tokens set from the form (blank removes
 *  them, other keys stay), or the first problem. */
export function toParams(s: ChatSettings, base: Record<string, unknown> = {}): { params: Record<string, unknown> } | { error: string } {
  const params: Record<string, unknown> = { ...base };
  delete params.temperature;
  delete params.max_tokens;
  if (text(s.temperature)) {
    const t = Number(text(s.temperature));
    if (!Number.isFinite(t) || t < 0 || t > 2) return { error: 'Temperature must be between 0 and 2.' };
    params.temperature = t;
  }
  if (text(s.maxTokens)) {
    const n = Number(text(s.maxTokens));
    if (!Number.isInteger(n) || n < 1 || n > 32768) return { error: 'Max tokens must be a whole number between 1 and 32768.' };
    params.max_tokens = n;
  }
  return { params };
}

/** Body of `POST /ui/conversations` for a new chat with these settings. */
export function createBody(s: ChatSettings, model: string | null): Record<string, unknown> | { error: string } {
  const checked = toParams(s);
  if ('error' in checked) return checked;
  const body: Record<string, unknown> = {};
  if (model) body.model = model;
  if (Object.keys(checked.params).length) body.params = checked.params;
  if (s.personaId) body.persona_id = s.personaId;
  else if (s.systemPrompt.trim()) body.system_prompt = s.systemPrompt.trim();
  return body;
}

/** Body of `PATCH /ui/conversations/{id}` saving these settings. */
export function updateBody(s: ChatSettings, c: ConversationView): Record<string, unknown> | { error: string } {
  const checked = toParams(s, c.params ?? {});
  if ('error' in checked) return checked;
  return { system_prompt: s.systemPrompt.trim() || null, params: checked.params };
}

import { describe, expect, it } from 'vitest';
import { createBody, emptySettings, fillTemplate, fromConversation, toParams, updateBody, type ChatSettings } from './chatsettings';
import type { ConversationView } from './types';

const conv: ConversationView = { id: 'c1', title: 't', model: null, system_prompt: 'Be brief.', params: { temperature: 0.2, top_p: 0.9 }, pinned: false, archived: false, current_leaf_id: null, created_at_ms: 1, updated_at_ms: 1 };
const s = (x: Partial<ChatSettings>): ChatSettings => ({ ...emptySettings(), ...x });

describe('chat settings', () => {
  it('reads an existing conversation', () => {
    expect(fromConversation(conv)).toEqual({ personaId: null, systemPrompt: 'Be brief.', temperature: '0.2', maxTokens: '' });
  });

  it('checks the bounds the server checks', () => {
    expect(toParams(s({ temperature: '2.5' }))).toEqual({ error: 'Temperature must be between 0 and 2.' });
    expect(toParams(s({ temperature: 'hot' }))).toHaveProperty('error');
    expect(toParams(s({ maxTokens: '0' }))).toHaveProperty('error');
    expect(toParams(s({ maxTokens: '1.5' }))).toHaveProperty('error');
    expect(toParams(s({ maxTokens: '32769' }))).toHaveProperty('error');
    // Number inputs hand over numbers; empty ones null.
    expect(toParams(s({ temperature: 0.7 as unknown as string, maxTokens: null as unknown as string }))).toEqual({ params: { temperature: 0.7 } });
  });

  it('a new chat sends the persona id, or else the system prompt', () => {
    expect(createBody(s({ personaId: 'builtin:socratic', systemPrompt: 'x', maxTokens: '64' }), 'm')).toEqual({ model: 'm', persona_id: 'builtin:socratic', params: { max_tokens: 64 } });
    expect(createBody(s({ systemPrompt: '  Talk like a pirate. ' }), null)).toEqual({ system_prompt: 'Talk like a pirate.' });
    expect(createBody(emptySettings(), null)).toEqual({});
  });

  it('an update keeps other parameters and clears blanks', () => {
    expect(updateBody(s({ systemPrompt: '', temperature: '', maxTokens: '100' }), conv)).toEqual({ system_prompt: null, params: { top_p: 0.9, max_tokens: 100 } });
  });

  it('fills persona templates with their defaults', () => {
    expect(fillTemplate({ template: 'You are an expert in {{topic|anything}}. Answer in {{ style }}.' })).toBe('You are an expert in anything. Answer in .');
  });
});

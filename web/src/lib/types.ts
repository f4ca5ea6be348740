// Wire shapes of the endpoints the app calls (see docs/openapi.json).

export interface UserView {
  id: string;
  username: string;
  role: string;
  disabled: boolean;
  created_at_ms: number;
}

export interface MeView {
  user: UserView;
  scopes: string[];
  csrf_token: string | null;
}

export interface KeyView {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  models: string[] | null;
  expires_at_ms: number | null;
  last_used_at_ms: number | null;
  created_at_ms: number;
  revoked_at_ms: number | null;
}

export interface CreatedKeyView {
  key: KeyView;
  secret: string;
}

export interface ConversationView {
  id: string;
  title: string;
  model: string | null;
  system_prompt: string | null;
  params: Record<string, unknown>;
  pinned: boolean;
  archived: boolean;
  persona?: { id: string; version: number } | null;
  current_leaf_id: string | null;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface ConversationListView {
  conversations: ConversationView[];
  next_cursor: string | null;
}

export type MessageStatus = 'complete' | 'streaming' | 'cancelled' | 'error';

export interface ContextView {
  action: 'dropped' | 'summarized';
  omitted_messages: number;
  first_kept_id: string;
  summary_through_id: string | null;
  summary_created: boolean;
  fallback_reason: string | null;
  prompt_tokens: number;
  context_tokens: number;
}

export interface MessageView {
  id: string;
  conversation_id: string;
  parent_id: string | null;
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  model: string | null;
  params: Record<string, unknown>;
  status: MessageStatus;
  error: string | null;
  finish_reason: string | null;
  usage: { prompt_tokens: number; cached_tokens: number; completion_tokens: number };
  timings: { queue_ms: number; prompt_ms: number; generation_ms: number };
  /** Set when the branch did not fit the model's context. */
  context?: ContextView | null;
  sibling_ids?: string[];
  created_at_ms: number;
  updated_at_ms: number;
}

export interface ConversationDetailView {
  conversation: ConversationView;
  view: string;
  messages: MessageView[];
}

export interface TurnView {
  conversation_id: string;
  user_message: MessageView | null;
  assistant_message: MessageView;
  replayed: boolean;
}

export interface ModelEntry {
  id: string;
  architecture?: string;
  size_bytes?: number;
  quantization?: string | null;
  chat?: boolean;
  /** In memory now (answers without loading first). */
  loaded?: boolean;
}

/** Hearth's error envelope. */
export interface ErrorEnvelope {
  error: { code: string; message: string; detail?: unknown };
  request_id?: string;
}

export interface PersonaView {
  id: string;
  /** Shipped with Hearth (read-only), else the caller's own. */
  builtin: boolean;
  version: number;
  name: string;
  description: string;
  template: string;
  variables: { name: string; default: string | null }[];
}

export interface SessionView {
  id: string;
  user_id: string;
  created_at_ms: number;
  last_seen_at_ms: number;
  expires_at_ms: number;
  ip: string | null;
  user_agent: string | null;
  current: boolean;
}

export interface InviteView {
  id: string;
  role: string;
  created_by: string;
  created_at_ms: number;
  expires_at_ms: number;
  used_at_ms: number | null;
  used_by: string | null;
}

export interface CreatedInviteView {
  invite: InviteView;
  token: string;
  accept_path: string;
}

export interface AuditEventView {
  id: string;
  at_ms: number;
  action: string;
  outcome: string;
  principal: string;
  target: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  detail: Record<string, unknown>;
}

export interface AuditListView {
  events: AuditEventView[];
  next_before: string | null;
}

// The app's shared state instances.

import { Chat, Conversations, Models, Session, Theme } from './stores.svelte';
import { Toasts } from './toasts.svelte';

export const session = new Session();
export const theme = new Theme();
export const conversations = new Conversations();
export const models = new Models();
export const chat = new Chat(conversations);
export const toasts = new Toasts();

/** The model picked in the composer (remembered across chats). */
class Picked {
  model = $state<string | null>(globalThis.localStorage?.getItem('hearth.model') ?? null);
  set(model: string | null) {
    this.model = model;
    if (model) localStorage.setItem('hearth.model', model);
  }
}
export const picked = new Picked();

/** Copy text, also where the async clipboard API is missing (plain http). */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  document.execCommand('copy');
  area.remove();
}

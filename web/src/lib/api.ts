// The HTTP client of the app: JSON in and out, the session's CSRF token on
// state-changing requests, Hearth's error envelope turned into `ApiError`.

import { readNdjson } from './ndjson';
import { readSse, type SseEvent } from './sse';
import type { ErrorEnvelope } from './types';

/** A failed request, with Hearth's stable error code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

/** Remember the CSRF token of the current session (from MeView). */
export function setCsrf(token: string | null): void {
  csrfToken = token;
}

/** Called when a request finds the session gone (401). */
let onUnauthenticated: () => void = () => {};
export function setUnauthenticatedHandler(f: () => void): void {
  onUnauthenticated = f;
}

async function toError(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText || 'request failed';
  try {
    const body = (await res.json()) as Partial<ErrorEnvelope> & { error?: { message?: string; code?: string } | string };
    if (body && typeof body.error === 'object' && body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
    } else if (typeof body?.error === 'string') {
      message = body.error;
    }
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, code, message);
}

/** Issue a request; throws ApiError on a non-2xx answer. */
export async function request(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('accept', 'application/json, text/event-stream, application/x-ndjson');
  if (body !== undefined) headers.set('content-type', 'application/json');
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers.set('x-csrf-token', csrfToken);
  const res = await fetch(path, {
    ...init,
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 401 && !path.startsWith('/ui/auth/')) onUnauthenticated();
    throw err;
  }
  return res;
}

/** JSON request; `undefined` for 204. */
export async function json<T>(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<T> {
  const res = await request(method, path, body, init);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string) => json<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => json<T>('POST', path, body ?? {});
export const patch = <T>(path: string, body: unknown) => json<T>('PATCH', path, body);
export const put = <T>(path: string, body: unknown) => json<T>('PUT', path, body);
// keepalive: a delete flushed while the page unloads (Undo pending) still goes out.
export const del = <T>(path: string) => json<T>('DELETE', path, undefined, { keepalive: true });

/** A request answered with Server-Sent Events. */
export async function* stream(method: string, path: string, body: unknown, signal?: AbortSignal): AsyncGenerator<SseEvent> {
  const res = await request(method, path, body, { signal });
  yield* readSse(res, signal);
}

/** A request answered with newline-delimited JSON (a pull's progress). */
export async function* lines<T>(method: string, path: string, body: unknown, signal?: AbortSignal): AsyncGenerator<T> {
  const res = await request(method, path, body, { signal });
  yield* readNdjson<T>(res, signal);
}

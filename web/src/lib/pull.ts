// A model pull as the admin Models page shows it: the lines of
// `POST /admin/models/pull` with `stream: true` folded into one state, its
// percent and byte counts, and errors worded for people.

import { ApiError } from './api';
import { formatBytes } from './format';

/** One line of the pull's NDJSON stream (Ollama's shape). */
export interface PullLine {
  /** `pulling manifest`, `downloading`, `verifying sha256 digest`,
   *  `writing manifest`, `success` or `failed`. */
  status: string;
  digest?: string | null;
  total?: number | null;
  completed?: number | null;
  error?: string | null;
}

/** What the page shows of a pull. */
export interface PullState {
  status: string;
  digest: string | null;
  total: number | null;
  completed: number;
  error: string | null;
  /** `success` or `failed` arrived. */
  done: boolean;
}

export const startPull = (): PullState => ({
  status: 'starting',
  digest: null,
  total: null,
  completed: 0,
  error: null,
  done: false,
});

const count = (n: number | null | undefined): number | null =>
  typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : null;

/** The state after one line; fields a line leaves out keep their value. */
export function applyPullLine(state: PullState, line: PullLine): PullState {
  const status = typeof line.status === 'string' && line.status ? line.status : state.status;
  const failed = status === 'failed';
  return {
    status,
    digest: line.digest ?? state.digest,
    total: count(line.total) ?? state.total,
    completed: count(line.completed) ?? state.completed,
    error: failed ? (line.error ?? state.error ?? 'the pull failed') : null,
    done: status === 'success' || failed,
  };
}

/** The state when the stream ended without a final line. */
export function streamEnded(state: PullState): PullState {
  if (state.done) return state;
  return {
    ...state,
    error: 'the progress stream ended before the pull finished; the pull goes on in the server (reload this page later)',
    done: true,
    status: 'failed',
  };
}

/** Whole percent done, or null while the size is unknown. */
export function pullPercent(state: PullState): number | null {
  if (!state.total) return state.status === 'success' ? 100 : null;
  return Math.min(100, Math.floor((state.completed / state.total) * 100));
}

/** `45% · 42.0 MiB of 93.5 MiB`, or the bytes so far when the size is unknown. */
export function pullBytes(state: PullState): string {
  const pct = pullPercent(state);
  if (state.total) return `${pct}% · ${formatBytes(state.completed)} of ${formatBytes(state.total)}`;
  return state.completed ? `${formatBytes(state.completed)} received` : 'size not known yet';
}

/** A server refusal (before the stream starts) or a failure line, for people. */
export function describeFailure(e: unknown): string {
  if (e instanceof ApiError) {
    switch (e.code) {
      case 'E_STORAGE_QUOTA':
        return `Not enough room under the models' disk quota: ${e.message}`;
      case 'E_VALIDATION':
        return `Refused: ${e.message}`;
      case 'E_PROVIDER_UNAVAILABLE':
        return `Cannot download: ${e.message}`;
      case 'E_CONFLICT':
        return `Refused: ${e.message}`;
      case 'E_NOT_SUPPORTED':
        return `Not available: ${e.message}`;
      default:
        return e.message;
    }
  }
  return e instanceof Error ? e.message : String(e);
}

/** The name the picker and `/ui/models` use for a registry name: `name` for
 *  `name:latest`, else `name:tag` (lower-case, as the registry stores it). */
export function servedName(registryName: string): string {
  const name = registryName.trim().toLowerCase();
  return name.endsWith(':latest') ? name.slice(0, -':latest'.length) : name;
}

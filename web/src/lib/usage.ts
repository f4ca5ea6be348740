// The admin Usage page's pure parts: the time ranges, the query of
// `GET /admin/usage`, row labels, totals and number formatting.

/** One group of `GET /admin/usage`. */
export interface UsageRow {
  /** User id or model name; null for anonymous usage (auth off). */
  key: string | null;
  /** Login name, when grouped by user and the user exists. */
  username: string | null;
  requests: number;
  failed: number;
  prompt_tokens: number;
  cached_tokens: number;
  completion_tokens: number;
  total_ms: number;
}

/** `GET /admin/usage`'s answer. */
export interface UsageReport {
  from_ms: number;
  to_ms: number;
  group_by: 'user' | 'model';
  rows: UsageRow[];
}

export type UsageRange = 'today' | '7d' | '30d';
export type UsageGroup = 'user' | 'model';

export const RANGES: { value: UsageRange; label: string }[] = [
  { value: 'today', label: 'Today' },
  { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' },
];

const DAY_MS = 86_400_000;

/** Start of a range in Unix milliseconds: local midnight for today, else
 *  7 or 30 days before `now`. */
export function rangeStart(range: UsageRange, now: Date = new Date()): number {
  switch (range) {
    case 'today':
      return new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
    case '7d':
      return now.getTime() - 7 * DAY_MS;
    case '30d':
      return now.getTime() - 30 * DAY_MS;
  }
}

/** The report's path. The end is left to the server's clock (now), so a
 *  browser clock behind the server's does not hide the latest calls. */
export function usagePath(range: UsageRange, group: UsageGroup, now: Date = new Date()): string {
  const params = new URLSearchParams({ from_ms: String(rangeStart(range, now)), group_by: group });
  return `/admin/usage?${params}`;
}

/** A row's name: the user's login (from the report, else from `names`) or
 *  the model; usage without a signed-in principal is "anonymous". */
export function rowLabel(row: UsageRow, group: UsageGroup, names: Map<string, string>): string {
  if (row.key === null) return 'anonymous';
  if (group === 'model') return row.key;
  return row.username ?? names.get(row.key) ?? row.key;
}

/** Sums over all rows (the table's footer). */
export function usageTotals(rows: UsageRow[]): Omit<UsageRow, 'key' | 'username'> {
  const sum = { requests: 0, failed: 0, prompt_tokens: 0, cached_tokens: 0, completion_tokens: 0, total_ms: 0 };
  for (const r of rows) {
    sum.requests += r.requests;
    sum.failed += r.failed;
    sum.prompt_tokens += r.prompt_tokens;
    sum.cached_tokens += r.cached_tokens;
    sum.completion_tokens += r.completion_tokens;
    sum.total_ms += r.total_ms;
  }
  return sum;
}

/** Rows sorted by total tokens, most first, then by label. */
export function sortRows(rows: UsageRow[], group: UsageGroup, names: Map<string, string>): UsageRow[] {
  const tokens = (r: UsageRow) => r.prompt_tokens + r.completion_tokens;
  return [...rows].sort((a, b) => tokens(b) - tokens(a) || rowLabel(a, group, names).localeCompare(rowLabel(b, group, names)));
}

/** A count with digit grouping: `12,345`. */
export const formatCount = (n: number, locale?: string): string => n.toLocaleString(locale);

/** A duration: `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 59.95) return `${s.toFixed(1)} s`;
  const total = Math.round(s);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (total < 3600) return `${Math.floor(total / 60)} min ${pad(total % 60)} s`;
  const minutes = Math.round(total / 60);
  return `${Math.floor(minutes / 60)} h ${pad(minutes % 60)} min`;
}

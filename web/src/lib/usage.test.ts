import { describe, expect, it } from 'vitest';
import { formatCount, formatDuration, rangeStart, rowLabel, sortRows, usagePath, usageTotals, type UsageRow } from './usage';

const row = (key: string | null, over: Partial<UsageRow> = {}): UsageRow => ({
  key, username: null, requests: 1, failed: 0, prompt_tokens: 10, cached_tokens: 2, completion_tokens: 5, total_ms: 100, ...over,
});

describe('usage', () => {
  const now = new Date(2026, 10, 22, 15, 30, 0); // local time

  it('starts today at local midnight, the others 7 or 30 days back', () => {
    expect(rangeStart('today', now)).toBe(new Date(2026, 10, 22).getTime());
    expect(rangeStart('7d', now)).toBe(now.getTime() - 7 * 86_400_000);
    expect(rangeStart('30d', now)).toBe(now.getTime() - 30 * 86_400_000);
  });

  it('queries from the range start, grouped, leaving the end to the server', () => {
    const path = usagePath('7d', 'model', now);
    const q = new URL(path, 'http://x').searchParams;
    expect(path.startsWith('/admin/usage?')).toBe(true);
    expect(q.get('from_ms')).toBe(String(now.getTime() - 7 * 86_400_000));
    expect(q.get('group_by')).toBe('model');
    expect(q.has('to_ms')).toBe(false);
  });

  it('labels rows by login name, known names, model or anonymous', () => {
    const names = new Map([['u2', 'bob']]);
    expect(rowLabel(row('u1', { username: 'alice' }), 'user', names)).toBe('alice');
    expect(rowLabel(row('u2'), 'user', names)).toBe('bob');
    expect(rowLabel(row('u3'), 'user', names)).toBe('u3');
    expect(rowLabel(row('smollm2'), 'model', names)).toBe('smollm2');
    expect(rowLabel(row(null), 'user', names)).toBe('anonymous');
  });

  it('sums every column', () => {
    expect(usageTotals([row('a'), row('b', { requests: 3, failed: 1, prompt_tokens: 1, cached_tokens: 0, completion_tokens: 7, total_ms: 50 })])).toEqual({
      requests: 4, failed: 1, prompt_tokens: 11, cached_tokens: 2, completion_tokens: 12, total_ms: 150,
    });
    expect(usageTotals([]).requests).toBe(0);
  });

  it('sorts by tokens, most first, ties by name', () => {
    const rows = [row('small', { prompt_tokens: 1 }), row('b'), row('a'), row('big', { completion_tokens: 900 })];
    expect(sortRows(rows, 'model', new Map()).map((r) => r.key)).toEqual(['big', 'a', 'b', 'small']);
  });

  it('formats counts and durations', () => {
    expect(formatCount(1234567, 'en-US')).toBe('1,234,567');
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_345)).toBe('12.3 s');
    expect(formatDuration(59_960)).toBe('1 min 00 s');
    expect(formatDuration(245_000)).toBe('4 min 05 s');
    expect(formatDuration(7_380_000)).toBe('2 h 03 min');
    expect(formatDuration(-1)).toBe('—');
  });
});

import { describe, expect, it } from 'vitest';
import { agentSummary, formatBytes, inviteLink, userLabel } from './format';

describe('format', () => {
  it('formats sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(98_000_000)).toBe('93.5 MiB');
    expect(formatBytes(-1)).toBe('—');
  });

  it('builds the invite page link, escaping the token', () => {
    expect(inviteLink('http://h:8080/', 'a/b c')).toBe('http://h:8080/invite/a%2Fb%20c');
  });

  it('summarises user agents', () => {
    expect(agentSummary('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36')).toBe('Chrome on Linux');
    expect(agentSummary('curl/8.5.0')).toBe('curl');
    expect(agentSummary(null)).toBe('—');
  });

  it('labels users by name, else by id', () => {
    const users = new Map([['u1', 'alice']]);
    expect(userLabel(users, 'u1')).toBe('alice');
    expect(userLabel(users, 'u2')).toBe('u2');
  });
});

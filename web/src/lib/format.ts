// Formatting helpers shared by the settings and admin pages.

/** Bytes in binary units, e.g. `93.4 MiB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let k = 0;
  let v = n;
  while (v >= 1024 && k < units.length - 1) {
    v /= 1024;
    k++;
  }
  return k === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[k]}`;
}

/** A date and time, or an em dash. */
export const dateTime = (ms: number | null | undefined): string => (ms ? new Date(ms).toLocaleString() : '—');

/** A date, or an em dash. */
export const date = (ms: number | null | undefined): string => (ms ? new Date(ms).toLocaleDateString() : '—');

/** The web app's page for accepting an invite. */
export function inviteLink(origin: string, token: string): string {
  return `${origin.replace(/\/$/, '')}/invite/${encodeURIComponent(token)}`;
}

/** A short, readable summary of a user agent (browser and system). */
export function agentSummary(ua: string | null): string {
  if (!ua) return '—';
  const browser = /(Firefox|Edg|Chrome|Chromium|Safari|curl|python-requests|node)\/[\d.]+/.exec(ua)?.[1] ?? ua.split(/[ /]/)[0];
  const os = /(Windows|Mac OS X|Android|iPhone|iPad|Linux)/.exec(ua)?.[1];
  const name = browser === 'Edg' ? 'Edge' : browser;
  return os ? `${name} on ${os === 'Mac OS X' ? 'macOS' : os}` : name;
}

/** A name for a user id, from a map of known users. */
export function userLabel(users: Map<string, string>, id: string): string {
  return users.get(id) ?? id;
}

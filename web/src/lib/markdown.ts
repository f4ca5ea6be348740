// A small Markdown renderer that is safe by construction: it never passes HTML
// through. Every piece of source text is escaped, and the only tags in the
// output are the ones written below, with fixed attributes (plus `href`s that
// passed `safeUrl` and code-language class names limited to [a-z0-9-]). Model
// output and documents can therefore not inject markup, scripts or styles.
//
// Supported: paragraphs (single newlines become <br>), ATX headings, fenced
// code (an unclosed fence while streaming is code to the end), indented
// nested lists, blockquotes, tables, rules, `code`, **strong**, *em*,
// ~~del~~, [links](url), bare https:// links and backslash escapes.

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** A URL a link may point to, or null: http(s), mailto, or same-site paths. */
export function safeUrl(raw: string): string | null {
  const url = raw.trim();
  // Control characters and whitespace can hide a scheme from naive checks.
  if (/[\u0000-\u0020\u007f-\u009f]/.test(url)) return null;
  if (/^(https?:\/\/|mailto:)/i.test(url)) return url;
  if (/^(\/(?!\/)|#)/.test(url)) return url; // not protocol-relative //host
  return null;
}

const PUNCT = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/;

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && /[\p{L}\p{N}]/u.test(c);
}

/** Render inline Markdown (one paragraph's text) to HTML. */
export function renderInline(src: string): string {
  let out = '';
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i];
    if (c === '\\' && i + 1 < n && PUNCT.test(src[i + 1])) {
      out += escapeHtml(src[i + 1]);
      i += 2;
      continue;
    }
    if (c === '\\' && src[i + 1] === '\n') {
      out += '<br>';
      i += 2;
      continue;
    }
    if (c === '`') {
      let run = 1;
      while (src[i + run] === '`') run++;
      const fence = '`'.repeat(run);
      const end = src.indexOf(fence, i + run);
      if (end !== -1) {
        let code = src.slice(i + run, end).replace(/\n/g, ' ');
        if (/^ .* $/.test(code) && code.trim() !== '') code = code.slice(1, -1);
        out += `<code>${escapeHtml(code)}</code>`;
        i = end + run;
        continue;
      }
      out += escapeHtml(fence);
      i += run;
      continue;
    }
    if ((c === '*' || c === '_') && src[i + 1] === c) {
      const end = findClose(src, i + 2, c + c);
      if (end !== -1 && (c === '*' || !isWordChar(src[i - 1]))) {
        out += `<strong>${renderInline(src.slice(i + 2, end))}</strong>`;
        i = end + 2;
        continue;
      }
    }
    if (c === '*' || (c === '_' && !isWordChar(src[i - 1]))) {
      const end = findClose(src, i + 1, c);
      if (end !== -1 && (c === '*' || !isWordChar(src[end + 1]))) {
        out += `<em>${renderInline(src.slice(i + 1, end))}</em>`;
        i = end + 1;
        continue;
      }
    }
    if (c === '~' && src[i + 1] === '~') {
      const end = findClose(src, i + 2, '~~');
      if (end !== -1) {
        out += `<del>${renderInline(src.slice(i + 2, end))}</del>`;
        i = end + 2;
        continue;
      }
    }
    if (c === '[' || (c === '!' && src[i + 1] === '[')) {
      const link = parseLink(src, c === '!' ? i + 1 : i);
      if (link) {
        const href = safeUrl(link.url);
        const text = renderInline(link.text);
        out += href
          ? `<a href="${escapeHtml(href)}" rel="noopener noreferrer nofollow" target="_blank">${text}</a>`
          : text;
        i = link.end;
        continue;
      }
    }
    if ((c === 'h' || c === 'H') && !isWordChar(src[i - 1])) {
      const m = /^https?:\/\/[^\s<>"'`]+/i.exec(src.slice(i));
      if (m) {
        const url = m[0].replace(/[.,;:!?)\]*_~]+$/, '');
        out += `<a href="${escapeHtml(url)}" rel="noopener noreferrer nofollow" target="_blank">${escapeHtml(url)}</a>`;
        i += url.length;
        continue;
      }
    }
    if (c === '\n') {
      out += '<br>';
      i++;
      continue;
    }
    out += ESCAPES[c] ?? c;
    i++;
  }
  return out;
}

/** Index of a closing delimiter with non-empty, non-space-padded content. */
function findClose(src: string, from: number, delim: string): number {
  if (from >= src.length || /\s/.test(src[from])) return -1;
  let j = from;
  for (;;) {
    j = src.indexOf(delim, j);
    if (j === -1) return -1;
    if (j > from && !/\s/.test(src[j - 1]) && src[j - 1] !== '\\') {
      // `**a**` must not close a single `*` on its first half.
      if (delim.length === 1 && src[j + 1] === delim) {
        j += 2;
        continue;
      }
      return j;
    }
    j += delim.length;
  }
}

function parseLink(src: string, open: number): { text: string; url: string; end: number } | null {
  let depth = 0;
  let close = -1;
  for (let j = open; j < src.length; j++) {
    if (src[j] === '\\') {
      j++;
      continue;
    }
    if (src[j] === '[') depth++;
    else if (src[j] === ']' && --depth === 0) {
      close = j;
      break;
    } else if (src[j] === '\n' && src[j + 1] === '\n') return null;
  }
  if (close === -1 || src[close + 1] !== '(') return null;
  const end = src.indexOf(')', close + 2);
  if (end === -1) return null;
  let url = src.slice(close + 2, end).trim();
  url = url.replace(/\s+"[^"]*"$/, ''); // drop a title
  if (url.startsWith('<') && url.endsWith('>')) url = url.slice(1, -1);
  return { text: src.slice(open + 1, close), url, end: end + 1 };
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])(\s+|$)/;
const QUOTE = /^ {0,3}>\s?/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function isBlockStart(line: string): boolean {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || LIST_ITEM.test(line);
}

function splitRow(line: string): string[] {
  let row = line.trim();
  if (row.startsWith('|')) row = row.slice(1);
  if (row.endsWith('|') && !row.endsWith('\\|')) row = row.slice(0, -1);
  const cells: string[] = [];
  let cell = '';
  for (let i = 0; i < row.length; i++) {
    if (row[i] === '\\' && row[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (row[i] === '|') {
      cells.push(cell.trim());
      cell = '';
    } else cell += row[i];
  }
  cells.push(cell.trim());
  return cells;
}

function renderTable(header: string, sep: string, rows: string[]): string {
  const aligns = splitRow(sep).map((s) =>
    s.startsWith(':') && s.endsWith(':') ? ' class="al-c"' : s.endsWith(':') ? ' class="al-r"' : '',
  );
  const heads = splitRow(header);
  const cell = (tag: string, text: string, k: number) => `<${tag}${aligns[k] ?? ''}>${renderInline(text)}</${tag}>`;
  let html = '<div class="table"><table><thead><tr>';
  html += heads.map((h, k) => cell('th', h, k)).join('');
  html += '</tr></thead><tbody>';
  for (const row of rows) {
    const cells = splitRow(row);
    html += '<tr>' + heads.map((_, k) => cell('td', cells[k] ?? '', k)).join('') + '</tr>';
  }
  return html + '</tbody></table></div>';
}

function renderCode(lang: string, code: string): string {
  const name = lang.toLowerCase().replace(/[^a-z0-9+#-]/g, '').slice(0, 20);
  const cls = name ? ` class="language-${name.replace(/[^a-z0-9-]/g, '')}"` : '';
  return (
    '<div class="code"><div class="code-head"><span>' +
    escapeHtml(name || 'text') +
    '</span><button type="button" class="copy" data-copy aria-label="Copy code">Copy</button></div>' +
    `<pre><code${cls}>${escapeHtml(code)}</code></pre></div>`
  );
}

/** Render Markdown to safe HTML. */
export function renderMarkdown(src: string, depth = 0): string {
  const lines = src.replace(/\r\n?/g, '\n').replace(/\0/g, '\uFFFD').split('\n');
  let html = '';
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1];
      const code: string[] = [];
      i++;
      while (i < lines.length && !new RegExp(`^ {0,3}${marker[0]}{${marker.length},}\\s*$`).test(lines[i])) {
        code.push(lines[i]);
        i++;
      }
      i++; // the closing fence (or the end)
      html += renderCode(fence[2], code.join('\n'));
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = heading[1].length;
      html += `<h${level}>${renderInline(heading[2] ?? '')}</h${level}>`;
      i++;
      continue;
    }
    if (RULE.test(line)) {
      html += '<hr>';
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const quoted: string[] = [];
      while (i < lines.length && lines[i].trim() !== '' && (QUOTE.test(lines[i]) || !isBlockStart(lines[i]))) {
        quoted.push(lines[i].replace(QUOTE, ''));
        i++;
      }
      html += depth > 20 ? `<p>${renderInline(quoted.join('\n'))}</p>` : `<blockquote>${renderMarkdown(quoted.join('\n'), depth + 1)}</blockquote>`;
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item) {
      const [block, next] = renderList(lines, i, depth);
      html += block;
      i = next;
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      const rows: string[] = [];
      let j = i + 2;
      while (j < lines.length && lines[j].trim() !== '' && lines[j].includes('|')) rows.push(lines[j++]);
      html += renderTable(line, lines[i + 1], rows);
      i = j;
      continue;
    }
    const para: string[] = [];
    while (i < lines.length && lines[i].trim() !== '' && (para.length === 0 || !isBlockStart(lines[i]))) {
      para.push(lines[i].trim());
      i++;
    }
    html += `<p>${renderInline(para.join('\n'))}</p>`;
  }
  return html;
}

function renderList(lines: string[], start: number, depth: number): [string, number] {
  const first = LIST_ITEM.exec(lines[start])!;
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const startNum = ordered ? parseInt(first[2], 10) : 1;
  const items: string[][] = [];
  let loose = false;
  let i = start;
  while (i < lines.length) {
    const m = LIST_ITEM.exec(lines[i]);
    if (m && m[1].length === indent && /\d/.test(m[2]) === ordered) {
      items.push([lines[i].slice(m[0].length)]);
      i++;
      continue;
    }
    const line = lines[i];
    if (line.trim() === '') {
      // A blank line continues the list only if indented content follows.
      const next = lines[i + 1];
      if (next !== undefined && (/^\s+\S/.test(next) && leading(next) > indent || (LIST_ITEM.exec(next)?.[1].length === indent))) {
        items[items.length - 1].push('');
        loose = true;
        i++;
        continue;
      }
      break;
    }
    if (leading(line) > indent || (!isBlockStart(line) && items[items.length - 1].at(-1) !== '')) {
      items[items.length - 1].push(line.replace(new RegExp(`^\\s{0,${indent + 4}}`), ''));
      i++;
      continue;
    }
    break;
  }
  const tag = ordered ? 'ol' : 'ul';
  const startAttr = ordered && startNum !== 1 ? ` start="${startNum}"` : '';
  let html = `<${tag}${startAttr}>`;
  for (const body of items) {
    const text = body.join('\n').replace(/\n+$/, '');
    let inner = depth > 20 ? `<p>${renderInline(text)}</p>` : renderMarkdown(text, depth + 1);
    if (!loose && inner.startsWith('<p>')) {
      // Tight list: the first paragraph without its <p>.
      const end = inner.indexOf('</p>');
      inner = inner.slice(3, end) + inner.slice(end + 4);
    }
    html += `<li>${inner}</li>`;
  }
  return [html + `</${tag}>`, i];
}

function leading(line: string): number {
  return line.length - line.trimStart().length;
}

import { describe, expect, it } from 'vitest';
import { renderMarkdown, renderInline, safeUrl } from './markdown';

// Tags and attributes the renderer may emit; anything else is an injection.
const TAGS = new Set(['p', 'br', 'strong', 'em', 'del', 'code', 'pre', 'a', 'ul', 'ol', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'hr', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'div', 'span', 'button']);
const ATTRS = new Set(['href', 'rel', 'target', 'class', 'type', 'data-copy', 'aria-label', 'start']);

/** Check every tag and attribute of the output against the allow-lists. */
function assertSafe(html: string) {
  const tag = /<\/?([a-zA-Z0-9-]+)((?:\s+[a-zA-Z-]+(?:="[^"<>]*")?)*)\s*>/g;
  // Outside tags, no raw `<` may remain: everything else was escaped.
  expect(html.replace(tag, '')).not.toMatch(/[<>]/);
  for (const m of html.matchAll(tag)) {
    expect(TAGS.has(m[1]), `tag <${m[1]}> in ${html}`).toBe(true);
    for (const a of m[2].matchAll(/([a-zA-Z-]+)(?:="([^"]*)")?/g)) {
      expect(ATTRS.has(a[1]), `attribute ${a[1]} in ${html}`).toBe(true);
      if (a[1] === 'href') expect(a[2]).toMatch(/^(https?:\/\/|mailto:|\/[^/]|#)/i);
      if (a[1] === 'class') expect(a[2]).toMatch(/^[a-z0-9 -]+$/);
    }
  }
}

const PAYLOADS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<svg/onload=alert(1)>',
  '<iframe src="javascript:alert(1)"></iframe>',
  '<a href="javascript:alert(1)">x</a>',
  '[click](javascript:alert(1))',
  '[click](JaVaScRiPt:alert(1))',
  '[click]( javascript:alert(1))',
  '[click](java\tscript:alert(1))',
  '[click](java\nscript:alert(1))',
  '[click](&#106;avascript:alert(1))',
  '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[click](vbscript:msgbox(1))',
  '[click](//evil.example/x)',
  '![x](javascript:alert(1))',
  '![x" onerror="alert(1)](https://x/y.png)',
  '[x](https://ok.example/"onmouseover="alert(1))',
  '[x](https://ok.example/a><script>alert(1)</script>)',
  'https://example.com/"><script>alert(1)</script>',
  '```html" onclick="alert(1)\n<script>alert(1)</script>\n```',
  '```<img src=x onerror=alert(1)>\ncode\n```',
  '`<script>alert(1)</script>`',
  '**<b onmouseover=alert(1)>bold</b>**',
  '| a | b |\n|---|---|\n| <script>x</script> | <img src=x onerror=1> |',
  '> <style>body{display:none}</style>',
  '- <object data="x"></object>\n- [a](javascript:1)',
  '# <h1 style="color:red">x</h1>',
  '<div style="position:fixed">x</div>',
  '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
  '<!-- comment --><base href="https://evil.example/">',
  '<form action="https://evil.example"><input name=x></form>',
  '\\<script\\>alert(1)\\</script\\>',
  '<<script>script>alert(1)<</script>/script>',
  '"><img src=x onerror=alert(1)>',
  "'><svg onload=alert(1)>",
  '<a href="https://ok" onclick="alert(1)">ok</a>',
  '[a](https://ok.example "title\\" onclick=\\"alert(1)")',
  '\u0000<script>alert(1)</script>',
];

describe('markdown sanitizing', () => {
  for (const payload of PAYLOADS) {
    it(`neutralises ${JSON.stringify(payload).slice(0, 60)}`, () => {
      const html = renderMarkdown(payload);
      assertSafe(html);
      expect(html).not.toMatch(/<(script|img|svg|iframe|style|object|math|base|form|input)/i);
      const tags = (html.match(/<[^>]*>/g) ?? []).join('');
      expect(tags).not.toMatch(/\son[a-z]+=/i);
      expect(html).not.toMatch(/href="\s*(javascript|vbscript|data):/i);
    });
  }

  it('rejects unsafe URLs', () => {
    expect(safeUrl('javascript:alert(1)')).toBeNull();
    expect(safeUrl(' javascript:alert(1)')).toBeNull();
    expect(safeUrl('//evil.example')).toBeNull();
    expect(safeUrl('java\u0000script:x')).toBeNull();
    expect(safeUrl('https://ok.example/a')).toBe('https://ok.example/a');
    expect(safeUrl('/c/1')).toBe('/c/1');
    expect(safeUrl('mailto:a@b.c')).toBe('mailto:a@b.c');
  });
});

describe('markdown rendering', () => {
  it('renders inline formatting', () => {
    expect(renderInline('**b** *i* `c` ~~d~~')).toBe('<strong>b</strong> <em>i</em> <code>c</code> <del>d</del>');
    expect(renderInline('snake_case_name')).toBe('snake_case_name');
    expect(renderInline('a\nb')).toBe('a<br>b');
  });

  it('renders links with safe attributes', () => {
    expect(renderInline('[Hearth](https://h.example)')).toBe(
      '<a href="https://h.example" rel="noopener noreferrer nofollow" target="_blank">Hearth</a>',
    );
    expect(renderInline('see https://h.example/x.')).toContain('href="https://h.example/x"');
  });

  it('renders headings, lists, quotes and rules', () => {
    expect(renderMarkdown('# Title\n\ntext')).toBe('<h1>Title</h1><p>text</p>');
    expect(renderMarkdown('- a\n- b\n  - c')).toBe('<ul><li>a</li><li>b<ul><li>c</li></ul></li></ul>');
    expect(renderMarkdown('3. x\n4. y')).toBe('<ol start="3"><li>x</li><li>y</li></ol>');
    expect(renderMarkdown('> q')).toBe('<blockquote><p>q</p></blockquote>');
    expect(renderMarkdown('---')).toBe('<hr>');
  });

  it('renders code blocks with a copy button, even unclosed while streaming', () => {
    const html = renderMarkdown('```rust\nfn main() { a < b }\n```');
    expect(html).toContain('<code class="language-rust">fn main() { a &lt; b }</code>');
    expect(html).toContain('data-copy');
    expect(renderMarkdown('```py\nprint(1)')).toContain('<code class="language-py">print(1)</code>');
  });

  it('renders tables with alignment classes', () => {
    const html = renderMarkdown('| a | b |\n|:-:|--:|\n| 1 | 2 |');
    expect(html).toBe(
      '<div class="table"><table><thead><tr><th class="al-c">a</th><th class="al-r">b</th></tr></thead>' +
        '<tbody><tr><td class="al-c">1</td><td class="al-r">2</td></tr></tbody></table></div>',
    );
  });

  it('is fast enough for long answers', () => {
    const long = '## Part\n\nSome **bold** text and `code`.\n\n- item\n- item\n\n```js\nlet x = 1;\n```\n\n'.repeat(500);
    const t = performance.now();
    renderMarkdown(long);
    expect(performance.now() - t).toBeLessThan(500);
  });
});

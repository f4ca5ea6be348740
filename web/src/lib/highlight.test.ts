import { describe, expect, it } from 'vitest';
import { family, highlight } from './highlight';

const strip = (html: string) => html.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');

describe('highlight', () => {
  it('marks keywords, strings, comments and numbers in Python', () => {
    const html = highlight('def f(x):\n    return "hi" # done\nn = 42', 'python');
    expect(html).toContain('<span class="tok-kw">def</span>');
    expect(html).toContain('<span class="tok-kw">return</span>');
    expect(html).toContain('<span class="tok-str">&quot;hi&quot;</span>');
    expect(html).toContain('<span class="tok-com"># done</span>');
    expect(html).toContain('<span class="tok-num">42</span>');
  });

  it('keeps every character of the source, escaped', () => {
    const src = 'const a = "<script>alert(1)</script>"; // <b>\nlet b = a && 1 > 0;';
    const html = highlight(src, 'ts');
    expect(strip(html)).toBe(src);
    expect(html).not.toMatch(/<(?!\/?span)/);
  });

  it('does not mark keywords inside identifiers or numbers inside names', () => {
    const html = highlight('let format = x1 + for_each;', 'js');
    expect(html).not.toContain('tok-kw">for<');
    expect(html).not.toContain('tok-num">1<');
  });

  it('SQL keywords are case-insensitive; block comments run to their end', () => {
    const html = highlight('SELECT * /* all\nrows */ FROM t', 'sql');
    expect(html).toContain('<span class="tok-kw">SELECT</span>');
    expect(html).toContain('<span class="tok-com">/* all\nrows */</span>');
    expect(html).toContain('<span class="tok-kw">FROM</span>');
  });

  it('an unclosed string (while streaming) runs to the end of its line', () => {
    expect(highlight('x = "abc\ny = 1', 'python')).toContain('<span class="tok-str">&quot;abc</span>');
  });

  it('unknown languages are escaped text only', () => {
    expect(family('brainfuck')).toBeNull();
    expect(highlight('<a> if', 'brainfuck')).toBe('&lt;a&gt; if');
    expect(family('TypeScript')).toBe('js');
    expect(family('bash')).toBe('shell');
  });
});

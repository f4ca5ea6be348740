// A small syntax highlighter for code blocks, loaded on demand (a separate
// chunk, outside the initial JavaScript). One pass of a sticky regex per
// language family: comments, strings, numbers, keywords, literals. Every
// character of the source is escaped; the only markup emitted is
// `<span class="tok-…">`, so the result is as safe as the input escaping.

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Lang {
  comment: RegExp[];
  string: RegExp[];
  keywords: Set<string>;
  literals: Set<string>;
}

const words = (s: string) => new Set(s.split(/\s+/).filter(Boolean));
const DQ = /"(?:[^"\\\n]|\\.)*"?/y;
const SQ = /'(?:[^'\\\n]|\\.)*'?/y;
const BT = /`(?:[^`\\]|\\.)*`?/y;
const LINE_SLASH = /\/\/[^\n]*/y;
const BLOCK = /\/\*[\s\S]*?(?:\*\/|$)/y;
const HASH = /#[^\n]*/y;

const C_LIKE_LITERALS = words('true false null undefined nullptr NULL None True False nil self this Self super');

const LANGS: Record<string, Lang> = {
  js: {
    comment: [LINE_SLASH, BLOCK],
    string: [DQ, SQ, BT],
    keywords: words(
      'async await break case catch class const continue debugger default delete do else export extends finally for from function if import in instanceof interface let new of return static switch throw try type typeof var void while with yield enum implements private public readonly as',
    ),
    literals: C_LIKE_LITERALS,
  },
  python: {
    comment: [HASH],
    string: [/(?:[rbfu]{0,2})"""[\s\S]*?(?:"""|$)/y, /(?:[rbfu]{0,2})'''[\s\S]*?(?:'''|$)/y, /[rbfu]{0,2}"(?:[^"\\\n]|\\.)*"?/y, /[rbfu]{0,2}'(?:[^'\\\n]|\\.)*'?/y],
    keywords: words(
      'and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield match case print',
    ),
    literals: words('True False None self cls'),
  },
  rust: {
    comment: [LINE_SLASH, BLOCK],
    string: [/b?"(?:[^"\\]|\\.)*"?/y, /'(?:[^'\\\n]|\\.)'/y],
    keywords: words(
      'as async await break const continue crate dyn else enum extern fn for if impl in let loop match mod move mut pub ref return static struct trait type unsafe use where while',
    ),
    literals: words('true false self Self super Some None Ok Err'),
  },
  c: {
    comment: [LINE_SLASH, BLOCK],
    string: [DQ, SQ],
    keywords: words(
      'auto break case char const continue default do double else enum extern float for goto if inline int long register return short signed sizeof static struct switch typedef union unsigned void volatile while class namespace template typename public private protected virtual new delete using func package import go defer chan map range select type var interface struct fallthrough',
    ),
    literals: C_LIKE_LITERALS,
  },
  shell: {
    comment: [HASH],
    string: [DQ, SQ],
    keywords: words('if then else elif fi for while until do done case esac function in return export local set unset echo exit cd source'),
    literals: words('true false'),
  },
  sql: {
    comment: [/--[^\n]*/y, BLOCK],
    string: [SQ, DQ],
    keywords: words(
      'select from where insert into values update set delete create table index view drop alter add primary key foreign references join left right inner outer on group by order having limit offset as and or not null is in like distinct union all case when then else end returning begin commit rollback default unique exists',
    ),
    literals: words('true false null'),
  },
  json: {
    comment: [],
    string: [DQ],
    keywords: new Set(),
    literals: words('true false null'),
  },
};

const ALIASES: Record<string, string> = {
  js: 'js', javascript: 'js', ts: 'js', typescript: 'js', jsx: 'js', tsx: 'js', mjs: 'js', java: 'js', kotlin: 'js', swift: 'js', csharp: 'js', cs: 'js',
  py: 'python', python: 'python', python3: 'python',
  rs: 'rust', rust: 'rust',
  c: 'c', h: 'c', cpp: 'c', 'c++': 'c', cc: 'c', hpp: 'c', go: 'c', golang: 'c',
  sh: 'shell', bash: 'shell', shell: 'shell', zsh: 'shell', console: 'shell',
  sql: 'sql', postgres: 'sql', sqlite: 'sql',
  json: 'json', jsonc: 'json',
};

/** The language family of a fence name, or null when not highlighted. */
export function family(lang: string): string | null {
  return ALIASES[lang.toLowerCase()] ?? null;
}

const NUMBER = /(?:0x[0-9a-fA-F_]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?)\b/y;
const WORD = /[A-Za-z_$][\w$]*/y;

function match(re: RegExp, src: string, at: number): string | null {
  re.lastIndex = at;
  const m = re.exec(src);
  return m && m[0].length ? m[0] : null;
}

/** Highlighted, escaped HTML of `code` in language `lang` (escaped text only
 *  for unknown languages). */
export function highlight(code: string, lang: string): string {
  const name = family(lang);
  if (!name) return escapeHtml(code);
  const l = LANGS[name];
  const sql = name === 'sql';
  let out = '';
  let plain = '';
  const flush = () => {
    out += escapeHtml(plain);
    plain = '';
  };
  const tok = (cls: string, text: string) => {
    flush();
    out += `<span class="tok-${cls}">${escapeHtml(text)}</span>`;
  };
  let i = 0;
  outer: while (i < code.length) {
    for (const re of l.comment) {
      const m = match(re, code, i);
      if (m) {
        tok('com', m);
        i += m.length;
        continue outer;
      }
    }
    for (const re of l.string) {
      const m = match(re, code, i);
      if (m) {
        tok('str', m);
        i += m.length;
        continue outer;
      }
    }
    const prev = i > 0 ? code[i - 1] : '';
    if (/[0-9]/.test(code[i]) && !/[\w$]/.test(prev)) {
      const m = match(NUMBER, code, i);
      if (m) {
        tok('num', m);
        i += m.length;
        continue;
      }
    }
    const w = match(WORD, code, i);
    if (w && !/[\w$]/.test(prev)) {
      const key = sql ? w.toLowerCase() : w;
      if (l.keywords.has(key)) tok('kw', w);
      else if (l.literals.has(key)) tok('lit', w);
      else plain += w;
      i += w.length;
      continue;
    }
    plain += code[i];
    i++;
  }
  flush();
  return out;
}

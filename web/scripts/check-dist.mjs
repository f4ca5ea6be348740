// Checks of the production build: no inline scripts or styles (the CSP forbids
// them), and the initial JavaScript stays under its gzip budget.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url).pathname;
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const problems = [];
if (/<script(?![^>]*\bsrc=)[^>]*>/i.test(html)) problems.push('index.html has an inline <script>');
if (/<style[\s>]/i.test(html)) problems.push('index.html has an inline <style>');
if (/\sstyle=/i.test(html)) problems.push('index.html has a style attribute');
if (/\son[a-z]+=/i.test(html)) problems.push('index.html has an inline event handler');
if (/https?:\/\//i.test(html.replace(/<!--[\s\S]*?-->/g, ''))) problems.push('index.html references another origin');

const BUDGET = 200 * 1024;
// Initial JavaScript: what index.html loads (its module script and preloads);
// chunks imported on demand (admin pages, highlighter) are counted apart.
const initial = new Set([...html.matchAll(/(?:src|href)="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]));
let js = 0;
let lazy = 0;
let css = 0;
const files = readdirSync(join(dist, 'assets'));
for (const f of files) {
  const body = readFileSync(join(dist, 'assets', f));
  const text = body.toString('utf8');
  if (f.endsWith('.js')) {
    if (initial.has(f)) js += gzipSync(body).length;
    else lazy += gzipSync(body).length;
    // Svelte/Vite must not inject <style> elements at run time.
    if (/createElement\(["']style["']\)/.test(text)) problems.push(`${f} creates <style> elements`);
  }
  if (f.endsWith('.css')) css += gzipSync(body).length;
  if (/https?:\/\/(fonts|cdn)\./.test(text)) problems.push(`${f} references a CDN`);
}
const kb = (n) => (n / 1024).toFixed(1) + ' KB';
console.log(`initial JS ${kb(js)} gzipped (budget ${kb(BUDGET)}), on-demand JS ${kb(lazy)}, CSS ${kb(css)} gzipped, ${files.length} assets`);
if (initial.size === 0) problems.push('index.html loads no JavaScript from /assets');
if (js > BUDGET) problems.push(`initial JS ${kb(js)} exceeds ${kb(BUDGET)}`);
if (problems.length) {
  console.error('build check failed:\n- ' + problems.join('\n- '));
  process.exit(1);
}

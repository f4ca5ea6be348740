import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The server's address for `npm run dev` (hot reload against a running hearth).
const target = process.env.HEARTH_URL ?? 'http://127.0.0.1:8080';
const proxied = ['/ui', '/admin', '/v1', '/api', '/healthz', '/readyz', '/openapi.json'];

export default defineConfig({
  plugins: [
    svelte({
      // CSS goes to .css files: the CSP has no 'unsafe-inline' for styles.
      emitCss: true,
      compilerOptions: { css: 'external' },
    }),
  ],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    // No inline polyfill script; every browser we target has modulepreload.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: true,
  },
  server: {
    proxy: Object.fromEntries(proxied.map((p) => [p, { target, changeOrigin: false }])),
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});

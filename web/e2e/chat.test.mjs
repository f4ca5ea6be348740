// End-to-end: the web app in Debian's Chromium against a Hearth server.
//   HEARTH_URL=http://127.0.0.1:8080 HEARTH_SETUP_TOKEN=… npm run e2e   (a fresh `hearth serve`)
//   npm run e2e                                                         (the mock server, e2e/mock-server.mjs)
// Optional: CHROMIUM=/usr/bin/chromium, SCREENSHOTS=../docs/screenshots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startMock, SETUP_TOKEN } from './mock-server.mjs';

const SHOTS = process.env.SCREENSHOTS ?? new URL('../../docs/screenshots/', import.meta.url).pathname;
const USER = 'admin';
const PASSWORD = 'correct horse battery staple';
let base;
let mock;
let browser;
let page;
const problems = [];

before(async () => {
  if (process.env.HEARTH_URL) {
    base = process.env.HEARTH_URL.replace(/\/$/, '');
    assert.ok(process.env.HEARTH_SETUP_TOKEN, 'HEARTH_SETUP_TOKEN must accompany HEARTH_URL (a fresh server prints it)');
  } else {
    mock = await startMock();
    base = mock.url;
  }
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('console', (m) => {
    // A 401 from /ui/auth/me before sign-in is expected; CSP violations and errors are not.
    if (m.type() === 'error' && !/401|Unauthorized/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('dialog', (d) => d.accept());
});

after(async () => {
  await browser?.close();
  mock?.server.close();
  mock?.server.closeAllConnections?.();
});

const shot = async (name, width, height) => {
  await page.setViewportSize({ width, height });
  await page.waitForTimeout(150);
  await page.screenshot({ path: `${SHOTS}/${name}-${width}x${height}.png` });
};
const lastAssistant = () => page.locator('article.msg.assistant').last();

test('setup, login, chat, stop, regenerate, branch, search, rename, delete, logout', { timeout: 180_000 }, async (t) => {
  await t.test('first-run setup signs the admin in', async () => {
    await page.goto(base + '/');
    await page.waitForURL('**/login');
    await shot('login', 1280, 800);
    await page.getByRole('link', { name: 'Create the admin account' }).click();
    await page.waitForURL('**/setup');
    await page.getByLabel('Setup token').fill(process.env.HEARTH_SETUP_TOKEN ?? SETUP_TOKEN);
    await page.getByLabel('Admin username').fill(USER);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Repeat the password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create admin and sign in' }).click();
    await page.getByRole('textbox', { name: 'Message' }).waitFor();
  });

  await t.test('logout and login', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/login');
    await page.getByLabel('Username').fill(USER);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('textbox', { name: 'Message' }).waitFor();
  });

  await t.test('new chat streams a Markdown answer', async () => {
    await page.keyboard.press('Control+Shift+O');
    const box = page.getByRole('textbox', { name: 'Message' });
    await assert.doesNotReject(box.waitFor());
    await box.fill('Write a short greeting about hearths, with a code example.');
    await box.press('Enter');
    await page.waitForURL(/\/c\/[^/]+$/);
    // The stop button shows while the answer streams.
    await page.getByRole('button', { name: /Stop generating/ }).waitFor({ timeout: 30_000 });
    await page.locator('article.msg.assistant[data-status="complete"]').waitFor({ timeout: 120_000 });
    const text = await lastAssistant().locator('.msg-body').innerText();
    assert.ok(text.trim().length > 0, 'the answer has text');
    if (!process.env.HEARTH_URL) {
      assert.ok(await lastAssistant().locator('strong').count(), 'Markdown bold rendered');
      assert.ok(await lastAssistant().getByRole('button', { name: 'Copy code' }).count(), 'code block has a copy button');
    }
    await lastAssistant().getByRole('button', { name: 'Message details' }).click();
    await lastAssistant().getByText('Time to first token').waitFor();
    await shot('chat', 1280, 800);
  });

  await t.test('Esc stops an answer and keeps the partial text', async () => {
    const box = page.getByRole('textbox', { name: 'Message' });
    await box.fill('Now write a very long story about a fireplace, at least five hundred words.');
    await box.press('Enter');
    await page.locator('article.msg.assistant.live .msg-body').filter({ hasText: /\S{2,}/ }).waitFor({ timeout: 60_000 });
    await page.keyboard.press('Escape');
    await page.locator('article.msg.assistant[data-status="cancelled"]').last().waitFor({ timeout: 30_000 });
    await lastAssistant().getByText('Stopped.').waitFor();
  });

  await t.test('regenerate makes a second version', async () => {
    await lastAssistant().getByRole('button', { name: 'Regenerate answer' }).click();
    await page.locator('article.msg.assistant.live').waitFor({ timeout: 30_000 }).catch(() => {});
    await page.keyboard.press('Escape'); // keep the test quick: stop the new version too
    await lastAssistant().locator('.branches').getByText('2/2').waitFor({ timeout: 30_000 });
    await lastAssistant().getByRole('button', { name: 'Previous version' }).click();
    await lastAssistant().locator('.branches').getByText('1/2').waitFor();
  });

  await t.test('editing a user message branches; the navigator switches back', async () => {
    const first = page.locator('article.msg.user').first();
    const original = await first.locator('.msg-body').innerText();
    await first.getByRole('button', { name: 'Edit message' }).click();
    const editor = page.getByLabel('Edit your message');
    await editor.fill('Say hello in one short sentence.');
    await editor.press('Enter');
    await page.locator('article.msg.assistant[data-status="complete"]').last().waitFor({ timeout: 120_000 });
    const edited = page.locator('article.msg.user').first();
    await edited.locator('.branches').getByText('2/2').waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('article.msg.user').count(), 1, 'the edit starts a new branch');
    await edited.getByRole('button', { name: 'Previous version' }).click();
    await page.locator('article.msg.user').first().locator('.branches').getByText('1/2').waitFor();
    assert.equal(await page.locator('article.msg.user').first().locator('.msg-body').innerText(), original);
    assert.equal(await page.locator('article.msg.user').count(), 2, 'the old branch is back');
  });

  await t.test('search, rename and delete in the sidebar', async () => {
    // A second conversation, so the search has something to leave out.
    await page.keyboard.press('Control+Shift+O');
    const box = page.getByRole('textbox', { name: 'Message' });
    await box.fill('Zebra facts please');
    await box.press('Enter');
    await page.locator('article.msg.assistant[data-status="complete"], article.msg.assistant[data-status="cancelled"]').last().waitFor({ timeout: 120_000 });
    const list = page.locator('.conv-list');
    await list.locator('.conv').nth(1).waitFor();

    await page.keyboard.press('Control+k');
    await page.getByLabel('Search conversations').fill('zebra');
    // The sidebar shows titles, which a real model writes as it likes: the search
    // (over titles and message text) must leave exactly the zebra conversation.
    await page.waitForFunction(() => document.querySelectorAll('.conv-list .conv').length === 1, null, { timeout: 30_000 });
    await list.locator('.conv').first().click();
    await page.locator('article.msg.user').filter({ hasText: /zebra/i }).first().waitFor({ timeout: 30_000 });
    await shot('sidebar-search', 1280, 800);
    await page.getByLabel('Search conversations').fill('');
    await page.waitForFunction(() => document.querySelectorAll('.conv-list .conv').length === 2, null, { timeout: 10_000 });

    const item = list.locator('.conv').first();
    await item.hover();
    await item.getByRole('button', { name: /^Rename/ }).click();
    await page.getByLabel('New title').fill('Renamed by the test');
    await page.getByLabel('New title').press('Enter');
    await list.getByRole('link', { name: 'Renamed by the test' }).waitFor();

    await list.locator('.conv').first().hover();
    await list.locator('.conv').first().getByRole('button', { name: /^Delete/ }).click();
    await list.getByRole('link', { name: 'Renamed by the test' }).waitFor({ state: 'detached' });
    assert.equal(await list.locator('.conv').count(), 1);
  });

  await t.test('settings and mobile screenshots', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await page.getByText('Dark', { exact: true }).click();
    await shot('settings-dark', 1280, 800);
    await page.getByText('Light', { exact: true }).click();
    await page.locator('.conv-link').first().click();
    await page.locator('article.msg').first().waitFor();
    await shot('chat', 375, 812);
    await page.getByRole('button', { name: 'Open the sidebar' }).click();
    await page.locator('.sidebar-open').waitFor();
    await shot('sidebar', 375, 812);
    await page.keyboard.press('Escape');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await t.test('logout returns to the sign-in page', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/login');
    await shot('login', 375, 812);
  });

  await t.test('no console errors or CSP violations', () => {
    assert.deepEqual(problems, []);
  });
});

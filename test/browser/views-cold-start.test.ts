// Every view opened cold (a fresh profile, a deep link, no token) on the Pi's touchscreen and on a
// phone, checked for what a person would see; the screenshots in docs/dashboard.md come from here
// (CANPLUG_SCREENSHOTS=1 writes them into docs/images/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildDashboard, chromiumAvailable, docsScreenshot, freshPage, launchBrowser } from '../helpers/browser.js';
import { seedHistory } from '../helpers/database.js';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { canvasInk, everyTabReachable, horizontalOverflow, serious } from '../helpers/dashboard-page.js';

const SIZES = [
  { width: 800, height: 480 },
  { width: 390, height: 844 },
];
const SOCKETS = ['socket-1', 'socket-2', 'socket-3'];

/** What a person must see on each view, opened cold without a token (read-only). */
const CHECKS: Record<string, (page: Page) => Promise<void>> = {
  async devices(page) {
    await page.locator('.card[data-device="socket-3"]').waitFor();
    assert.deepEqual(await page.locator('.card .card-name').allInnerTexts(), SOCKETS);
    for (const name of SOCKETS) {
      const card = page.locator(`.card[data-device="${name}"]`);
      assert.match(await card.locator('.power').innerText(), /^\d+(\.\d)?\s*W$/, `${name} shows its power`);
      assert.ok(await card.locator('.toggle').isDisabled(), `${name}: no switching without the token`);
    }
    assert.ok(await page.getByRole('button', { name: /unlock/i }).isVisible(), 'one clear way to unlock');
    // The sparkline fills from the live stream: wait until every card's line has ink on it.
    await page.waitForFunction(() => [...document.querySelectorAll('.card .spark canvas')].length === 3, undefined, { timeout: 10_000 });
    // A line across the whole width (the window is at least 10 s, so after 10 s), not a dot.
    const width = await page.locator('.card[data-device="socket-1"] .spark').evaluate((el) => el.clientWidth);
    await waitFor(
      async () => (await canvasInk(page, '.card[data-device="socket-1"] .spark canvas')) > width * 0.9,
      25_000,
      'a sparkline across the card',
    );
  },
  async history(page) {
    await pickerFilledAndChartsDrawn(page, 'socket-1');
  },
  async 'history/socket-2'(page) {
    await pickerFilledAndChartsDrawn(page, 'socket-2');
  },
  async events(page) {
    const filter = page.getByLabel('device filter');
    await page.waitForFunction(() => document.querySelectorAll('select[aria-label="device filter"] option').length === 4);
    assert.deepEqual(await filter.locator('option').allInnerTexts(), ['All devices', ...SOCKETS]);
    await page.locator('#event-list .row').first().waitFor();
  },
  async rules(page) {
    const row = page.locator('.row.rule').filter({ hasText: 'fan off when dry' });
    await row.waitFor();
    assert.ok(await row.getByRole('switch').isDisabled(), 'no rule changes without the token');
    assert.ok(await page.getByRole('button', { name: 'New rule' }).isDisabled());
  },
};

async function pickerFilledAndChartsDrawn(page: Page, selected: string): Promise<void> {
  const picker = page.getByLabel('device', { exact: true });
  await page.waitForFunction(() => document.querySelectorAll('select[aria-label="device"] option').length === 3, undefined, {
    timeout: 10_000,
  });
  assert.deepEqual(await picker.locator('option').allInnerTexts(), SOCKETS, 'the picker lists every socket');
  assert.equal(await picker.inputValue(), selected);
  await page.locator('.chart .uplot').nth(3).waitFor();
  // The power chart has a line on it (a day of seeded readings), not just axes.
  await waitFor(async () => (await canvasInk(page, '.chart .uplot canvas', '--warn')) > 200, 10_000, 'a drawn power chart');
  assert.equal(await page.getByText('No device to show yet.').count(), 0);
}

test('every view opened cold at 800x480 and 390x844: devices listed, picker filled, charts drawn, no overflow, every tab reachable', {
  timeout: 300_000,
}, async (t) => {
  if (!chromiumAvailable(t)) return;
  const site = await buildDashboard(t);
  const dir = mkdtempSync(join(tmpdir(), 'canplug-cold-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const database = join(dir, 'canplug.db');
  seedHistory(database, SOCKETS);
  // Wandering readings: the sparklines and screenshots show a live socket, not a flat line.
  const tg = await startGateway({
    http: { dashboard_dir: site },
    database: { path: database },
    can: { sim: { nodes: [1, 2, 3], wander: true } },
  });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-3')?.available, 5000, 'sockets online');
  const rule = await gateway.parts.api.inject({
    method: 'POST',
    url: '/api/rules',
    headers: tg.auth,
    payload: {
      name: 'fan off when dry',
      enabled: true,
      when: { device: 'socket-2', quantity: 'humidity', relation: '<', value: 30 },
      at: null,
      between: null,
      days: null,
      then: { action: 'switch', device: 'socket-3', state: 'off' },
    },
  });
  assert.equal(rule.statusCode, 201, rule.body);
  const browser = await launchBrowser(t);

  for (const size of SIZES) {
    for (const [view, check] of Object.entries(CHECKS)) {
      await t.test(`${view} at ${size.width}x${size.height}`, async () => {
        const { context, page, errors } = await freshPage(browser, size);
        try {
          await page.goto(`${gateway.httpUrl()}/#/${view}`);
          await check(page);
          assert.deepEqual(await horizontalOverflow(page), [], 'nothing sticks out sideways');
          await everyTabReachable(page);
          if (!view.includes('/')) await docsScreenshot(page, `${view}-${size.width}x${size.height}`);
          assert.deepEqual(serious(errors), []);
        } finally {
          await context.close();
        }
      });
    }
  }
});

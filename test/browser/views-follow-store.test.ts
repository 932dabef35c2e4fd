// The views follow the device store however they were reached: a reload, back and forward, a device
// renamed or removed while it is shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildDashboard, chromiumAvailable, freshPage, launchBrowser } from '../helpers/browser.js';
import { seedHistory } from '../helpers/database.js';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { serious } from '../helpers/dashboard-page.js';

const options = (page: Page, label: string) => page.getByLabel(label, { exact: true }).locator('option').allInnerTexts();
const waitForOptions = (page: Page, label: string, want: string[]) =>
  page.waitForFunction(
    ([label, want]) =>
      JSON.stringify([...document.querySelectorAll(`select[aria-label="${label}"] option`)].map((o) => o.textContent)) ===
      JSON.stringify(want),
    [label, want] as const,
  );

test('views follow the store: reload, back and forward, a device renamed or removed while shown', { timeout: 240_000 }, async (t) => {
  if (!chromiumAvailable(t)) return;
  const site = await buildDashboard(t);
  const dir = mkdtempSync(join(tmpdir(), 'canplug-follow-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const database = join(dir, 'canplug.db');
  seedHistory(database, ['socket-1', 'socket-2', 'socket-3'], 2);
  const tg = await startGateway({ http: { dashboard_dir: site }, database: { path: database }, can: { sim: { nodes: [1, 2, 3] } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-3')?.available, 5000, 'sockets online');
  const browser = await launchBrowser(t);
  const { page, errors } = await freshPage(browser, { width: 800, height: 480 });
  const rename = async (from: string, to: string) => {
    const res = await gateway.parts.api.inject({ method: 'PATCH', url: `/api/devices/${from}`, headers: tg.auth, payload: { name: to } });
    assert.equal(res.statusCode, 200, res.body);
  };

  await t.test('a reload on History fills the picker again and keeps the device', async () => {
    await page.goto(`${gateway.httpUrl()}/#/history/socket-2`);
    await waitForOptions(page, 'device', ['socket-1', 'socket-2', 'socket-3']);
    await page.reload();
    await waitForOptions(page, 'device', ['socket-1', 'socket-2', 'socket-3']);
    assert.equal(await page.getByLabel('device', { exact: true }).inputValue(), 'socket-2');
    await page.locator('.chart .uplot').first().waitFor();
  });

  await t.test('back and forward between views: each one is filled when it comes back', async () => {
    await page.getByRole('link', { name: 'Devices' }).click();
    await page.locator('.card[data-device="socket-1"]').waitFor();
    await page.getByRole('link', { name: 'Events' }).click();
    await waitForOptions(page, 'device filter', ['All devices', 'socket-1', 'socket-2', 'socket-3']);
    await page.goBack();
    await page.locator('.card[data-device="socket-3"]').waitFor();
    await page.goBack();
    await waitForOptions(page, 'device', ['socket-1', 'socket-2', 'socket-3']);
    assert.equal(await page.getByLabel('device', { exact: true }).inputValue(), 'socket-2');
    await page.goForward();
    await page.goForward();
    await waitForOptions(page, 'device filter', ['All devices', 'socket-1', 'socket-2', 'socket-3']);
  });

  await t.test('renamed while shown: History follows the device, its picker and address change', async () => {
    await page.goto(`${gateway.httpUrl()}/#/history/socket-2`);
    await page.locator('.chart .uplot').first().waitFor();
    await rename('socket-2', 'dryer');
    await waitForOptions(page, 'device', ['dryer', 'socket-1', 'socket-3']);
    assert.equal(await page.getByLabel('device', { exact: true }).inputValue(), 'dryer');
    await page.waitForFunction(() => location.hash === '#/history/dryer');
    await page.locator('.chart .uplot').first().waitFor();
  });

  await t.test('renamed while filtered on: Events follows the device', async () => {
    await page.getByRole('link', { name: 'Events' }).click();
    await waitForOptions(page, 'device filter', ['All devices', 'dryer', 'socket-1', 'socket-3']);
    await page.getByLabel('device filter').selectOption('socket-1');
    await page.locator('#event-list .row').first().waitFor();
    await rename('socket-1', 'washer');
    await waitForOptions(page, 'device filter', ['All devices', 'dryer', 'socket-3', 'washer']);
    assert.equal(await page.getByLabel('device filter').inputValue(), 'washer');
    await page.locator('#event-list .row').first().waitFor();
    assert.equal(await page.getByText(/no device/).count(), 0, 'the filter asks for the new name');
  });

  await t.test('removed while shown: History says so, the picker and the cards lose it', async () => {
    await page.goto(`${gateway.httpUrl()}/#/history/socket-3`);
    await page.locator('.chart .uplot').first().waitFor();
    // The node goes quiet first (a running one would come back with its next frame), then it is removed.
    gateway.parts.sim.sockets[2].stop();
    gateway.parts.registry.remove(gateway.parts.registry.find('socket-3')!, { force: true });
    await page.getByText('socket-3 is no longer on this gateway.').waitFor();
    assert.deepEqual(await options(page, 'device'), ['Choose a device', 'dryer', 'washer']);
    assert.equal(await page.locator('.chart .uplot').count(), 0, 'no charts of a device that is gone');
    await page.getByLabel('device', { exact: true }).selectOption('washer');
    await page.locator('.chart .uplot').first().waitFor();
    await page.waitForFunction(() => location.hash === '#/history/washer');
    await page.getByRole('link', { name: 'Devices' }).click();
    await page.locator('.card[data-device="washer"]').waitFor();
    assert.deepEqual(await page.locator('.card .card-name').allInnerTexts(), ['dryer', 'washer']);
  });

  assert.deepEqual(serious(errors), []);
});

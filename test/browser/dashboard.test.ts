import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../../src/daemon/gateway.js';
import { silentLogger } from '../../src/log.js';
import { buildDashboard, chromiumAvailable, launchChromium, screenshot } from '../helpers/browser.js';
import { serious } from '../helpers/dashboard-page.js';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { discoveredEntities, haView } from '../helpers/ha-rules.js';

test('the dashboard in headless Chromium against a gateway on the simulated bus', { timeout: 180_000 }, async (t) => {
  if (!chromiumAvailable(t)) return;
  const site = await buildDashboard(t);
  const tg = await startGateway({ http: { dashboard_dir: site }, can: { sim: { nodes: [1, 2, 3] } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-3')?.available, 4000, 'sockets online');
  const { page, errors } = await launchChromium(t);
  const card = (name: string) => page.locator(`[data-device="${name}"]`);
  const toggle = (name: string) => card(name).locator('.toggle');

  await t.test('loads: a card per socket with live readings; the token leaves the address bar', async () => {
    await page.goto(`${gateway.httpUrl()}/#token=${tg.token}`);
    await card('socket-3').waitFor();
    assert.equal(await page.locator('.card').count(), 3);
    assert.equal(await toggle('socket-1').getAttribute('aria-checked'), 'true');
    await page.waitForFunction(() => document.querySelector('#link')?.classList.contains('up'));
    assert.doesNotMatch(page.url(), /token/, 'the token is not left in the URL');
    assert.match(await card('socket-2').locator('.power').innerText(), /^\d+(\.\d)?\s*W$/);
    const box = await toggle('socket-1').boundingBox();
    assert.ok(box && box.height >= 48 && box.width >= 48, `touch target ${box?.width}x${box?.height}`);
  });

  await t.test("Home Assistant's link to a socket (its configuration_url) opens that socket's card and settings", async () => {
    const ha = await haView(gateway.mqttUrl(), ['homeassistant/#']);
    const socket3 = await waitFor(
      () =>
        discoveredEntities(ha.topics).find((e) => e.component === 'switch' && (e.config.device as { name: string }).name === 'socket-3'),
      3000,
      'socket-3 discovered',
    );
    await ha.close();
    const url = (socket3.config.device as { configuration_url: string }).configuration_url;
    await page.goto(url);
    const dialog = page.getByRole('dialog', { name: 'socket-3 settings' });
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /can:3/);
    assert.equal(await card('socket-3').evaluate((el) => el.classList.contains('focused')), true, 'its card is marked');
    assert.match(page.url(), /#\/devices$/, 'shown once: a re-draw of the view does not open it again');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  await t.test('a toggle click switches the socket and the card follows the live stream', async () => {
    await toggle('socket-1').click();
    await waitFor(() => gateway.parts.sim.sockets[0].relay === false, 5000, 'the node opened its relay');
    await page.waitForFunction(() => document.querySelector('[data-device="socket-1"] .toggle')?.getAttribute('aria-checked') === 'false');
    // Power falls to 0 only when the node's next power frame arrives: that comes over the live stream.
    await page.waitForFunction(
      () => /^0\.0\s*W$/.test((document.querySelector('[data-device="socket-1"] .power') as HTMLElement).innerText),
      undefined,
      { timeout: 5000 },
    );
    // A switch from elsewhere (REST here; MQTT or a rule alike) shows up without any click.
    const res = await gateway.parts.api.inject({
      method: 'PUT',
      url: '/api/devices/socket-1/relay',
      headers: tg.auth,
      payload: { on: true },
    });
    assert.equal(res.statusCode, 200);
    await page.waitForFunction(() => document.querySelector('[data-device="socket-1"] .toggle')?.getAttribute('aria-checked') === 'true');
    await screenshot(page, 'dashboard-800x480');
  });

  await t.test('a toggle refused by the humidity interlock shows the reason on the card', async () => {
    gateway.parts.sim.sockets[1].setHumidity(90);
    await card('socket-2').locator('.badge.interlock').waitFor();
    assert.equal(await toggle('socket-2').getAttribute('aria-checked'), 'false', 'the node opened on the trip');
    await toggle('socket-2').click();
    const message = card('socket-2').locator('.message[role="alert"]');
    await page.waitForFunction(() =>
      /interlocked/.test((document.querySelector('[data-device="socket-2"] .message[role="alert"]') as HTMLElement).innerText),
    );
    assert.match(await message.innerText(), /socket-2 is interlocked by the gateway: humidity 90 %RH is at or over the limit 80 %RH/);
    assert.equal(gateway.parts.sim.sockets[1].relay, false, 'still off');
    assert.ok(await card('socket-2').locator('.reset').isVisible(), 'a reset button is offered');
    await screenshot(page, 'dashboard-800x480-interlock');
  });

  await t.test('screenshots: dark at 800x480, history, and 1280x800', async () => {
    await page.locator('#theme').click(); // auto -> dark
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    await screenshot(page, 'dashboard-800x480-dark');
    await page.locator('#theme').click(); // dark -> light
    await page.locator('.tabs a[data-view="history"]').click();
    await page.locator('.chart .uplot').first().waitFor();
    await page.getByRole('button', { name: '1 y' }).click();
    await page.locator('.tier[data-tier="1h"]').waitFor();
    assert.equal(await page.locator('.tier').textContent(), '1 d buckets from the hourly rollups', 'a year: days from the hourly tier');
    await page.getByRole('button', { name: '1 h' }).click();
    await page.locator('.tier[data-tier="raw"]').waitFor();
    assert.equal(await page.locator('.tier').textContent(), '10 s buckets from the raw readings', 'an hour: the raw readings');
    await page.locator('.chart .uplot').first().waitFor();
    await screenshot(page, 'history-800x480');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.locator('.tabs a[data-view="devices"]').click();
    await card('socket-1').waitFor();
    await screenshot(page, 'dashboard-1280x800');
    await page.setViewportSize({ width: 800, height: 480 });
  });

  await t.test('the API documentation renders in the browser under the same security headers', async () => {
    const docs = await page.context().newPage();
    await docs.goto(`${gateway.httpUrl()}/docs`);
    await docs.locator('.opblock-summary-path').first().waitFor({ timeout: 15_000 });
    const paths = await docs.locator('.opblock-summary-path').allInnerTexts();
    for (const p of ['/api/devices/{id}/relay', '/api/live', '/metrics'])
      assert.ok(
        paths.some((x) => x.replace(/\u200b/g, '').includes(p)),
        p,
      );
    await docs.close();
  });

  await t.test('an unreachable gateway shows a banner; the page reconnects by itself when it is back', async () => {
    const port = Number(new URL(gateway.httpUrl()).port);
    await gateway.stop();
    const banner = page.locator('#banner');
    await banner.waitFor({ state: 'visible' });
    assert.match(await banner.innerText(), /cannot be reached/);
    assert.ok(await toggle('socket-1').isDisabled(), 'no switching while the gateway is away');
    await screenshot(page, 'dashboard-800x480-unreachable');
    const again = new Gateway({ config: { ...tg.config, http: { ...tg.config.http, port } }, log: silentLogger });
    await again.start();
    t.after(() => again.stop());
    await banner.waitFor({ state: 'hidden', timeout: 40_000 });
    await page.waitForFunction(() => document.querySelector('#link')?.classList.contains('up'));
    await page.waitForFunction(
      () => !(document.querySelector('[data-device="socket-1"] .toggle') as HTMLButtonElement).disabled,
      undefined,
      { timeout: 10_000 },
    );
  });

  assert.deepEqual(serious(errors), []);
});

test('without the token the dashboard is read-only: live values, controls disabled, one way to unlock', { timeout: 120_000 }, async (t) => {
  if (!chromiumAvailable(t)) return;
  const site = await buildDashboard(t);
  const tg = await startGateway({ http: { dashboard_dir: site } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const { page, errors } = await launchChromium(t);
  const toggle = page.locator('[data-device="socket-1"] .toggle');
  await page.goto(gateway.httpUrl());
  await toggle.waitFor();
  assert.equal(await page.locator('dialog[open]').count(), 0, 'no token dialog in the way');
  await page.waitForFunction(() =>
    /^\d+(\.\d)?\s*W$/.test((document.querySelector('[data-device="socket-1"] .power') as HTMLElement)?.innerText ?? ''),
  );
  assert.ok(await toggle.isDisabled(), 'the switch is disabled');
  assert.match((await toggle.getAttribute('title')) ?? '', /read-only: unlock with the API token/);
  // Live: a change made elsewhere shows up.
  const off = await gateway.parts.api.inject({
    method: 'PUT',
    url: '/api/devices/socket-1/relay',
    headers: tg.auth,
    payload: { on: false },
  });
  assert.equal(off.statusCode, 200);
  await page.waitForFunction(() => document.querySelector('[data-device="socket-1"] .toggle')?.getAttribute('aria-checked') === 'false');
  // The settings dialog shows, but saves nothing.
  await page.locator('[data-device="socket-1"]').getByRole('button', { name: 'device settings' }).click();
  const settings = page.locator('dialog[open]');
  assert.ok(await settings.getByRole('button', { name: 'Save' }).isDisabled());
  await settings.getByRole('button', { name: 'Cancel' }).click();

  const unlock = page.getByRole('button', { name: /unlock/i });
  await unlock.click();
  const dialog = page.locator('dialog[aria-label="API token"]');
  assert.match(
    await dialog.innerText(),
    new RegExp(gateway.parts.tokens!.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
    'says where the token file is',
  );
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  assert.ok(await toggle.isDisabled(), 'still read-only after Cancel');
  await unlock.click();
  await dialog.locator('input').fill(tg.token);
  await dialog.locator('button[type="submit"]').click();
  await page.waitForFunction(() => !(document.querySelector('[data-device="socket-1"] .toggle') as HTMLButtonElement).disabled);
  assert.ok(await unlock.isHidden(), 'Unlock goes once unlocked');
  await toggle.click();
  await waitFor(() => gateway.parts.sim.sockets[0].relay === true, 5000, 'switched on from the unlocked page');
  assert.deepEqual(serious(errors), []);
});

test('with read protection the dashboard asks for the token at once, and works once it is given', { timeout: 120_000 }, async (t) => {
  if (!chromiumAvailable(t)) return;
  const site = await buildDashboard(t);
  const tg = await startGateway({ http: { dashboard_dir: site, read_protection: true } });
  t.after(() => tg.stop());
  const { page, errors } = await launchChromium(t);
  await page.goto(tg.gateway.httpUrl());
  const dialog = page.locator('dialog[aria-label="API token"]');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /This gateway needs its API token/);
  assert.equal(await dialog.getByRole('button', { name: 'Cancel' }).count(), 0, 'nothing to go back to');
  await screenshot(page, 'dashboard-800x480-token');
  await dialog.locator('input').fill(tg.token);
  await dialog.locator('button[type="submit"]').click();
  await page.locator('[data-device="socket-1"]').waitFor();
  await page.waitForFunction(() => document.querySelector('#link')?.classList.contains('up'));
  assert.ok(!(await page.locator('[data-device="socket-1"] .toggle').isDisabled()));
  assert.deepEqual(serious(errors), []);
});

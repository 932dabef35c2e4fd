import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDashboard, chromiumAvailable, launchChromium, screenshot } from '../helpers/browser.js';
import { startGateway, waitFor } from '../helpers/gateway.js';

test('dashboard: rules editor, live event log and interlock reset in headless Chromium', { timeout: 180_000 }, async (t) => {
  if (!chromiumAvailable(t)) return;
  const site = await buildDashboard(t);
  const tg = await startGateway({ http: { dashboard_dir: site }, can: { sim: { nodes: [1, 2, 3] } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-3')?.state.humidity !== undefined, 4000, 'sockets reporting');
  const { page, errors } = await launchChromium(t);
  await page.goto(`${gateway.httpUrl()}/#token=${tg.token}`);
  await page.locator('[data-device="socket-3"]').waitFor();

  await t.test('a rule made in the editor is stored, fires on its crossing and shows its count', async () => {
    gateway.parts.sim.sockets[0].setLoad(20);
    await page.locator('.tabs a[data-view="rules"]').click();
    await page.getByText('No rules yet').waitFor();
    await page.getByRole('button', { name: 'New rule' }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.locator('input[type="text"]').first().fill('heater off when the washer runs');
    await dialog.getByLabel('condition device').selectOption('socket-1');
    await dialog.getByLabel('quantity').selectOption('power');
    await dialog.getByLabel('relation').selectOption('>');
    await dialog.getByLabel('value').fill('abc');
    await dialog.getByLabel('action device').selectOption('socket-2');
    await dialog.getByLabel('switch to').selectOption('off');
    await dialog.getByRole('button', { name: 'Save' }).click();
    // The gateway refuses a non-numeric value; the editor shows its one-sentence reason and stays open.
    await dialog.locator('.message[role="alert"]').filter({ hasText: /value/ }).waitFor();
    await screenshot(page, 'rules-editor-800x480');
    await dialog.getByLabel('value').fill('100');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.locator('.row.rule').filter({ hasText: 'heater off when the washer runs' }).waitFor();

    const rules = (await gateway.parts.api.inject({ url: '/api/rules', headers: tg.auth })).json() as {
      id: number;
      when: { device: string; value: number };
      then: { device: string; state: string };
    }[];
    assert.equal(rules.length, 1);
    assert.deepEqual(
      [rules[0].when.device, rules[0].when.value, rules[0].then.device, rules[0].then.state],
      ['socket-1', 100, 'socket-2', 'off'],
    );

    assert.equal(gateway.parts.sim.sockets[1].relay, true);
    gateway.parts.sim.sockets[0].setLoad(300);
    gateway.parts.sim.sockets[0].reportNow();
    await waitFor(() => gateway.parts.sim.sockets[1].relay === false, 5000, 'the rule switched socket-2 off');
    await page.locator('.tabs a[data-view="devices"]').click();
    await page.locator('.tabs a[data-view="rules"]').click();
    await page
      .locator('.row.rule')
      .filter({ hasText: /fired 1×/ })
      .waitFor();

    await page.getByRole('switch', { name: 'rule heater off when the washer runs enabled' }).click();
    await waitFor(
      async () => {
        const [rule] = (await gateway.parts.api.inject({ url: '/api/rules', headers: tg.auth })).json() as { enabled: boolean }[];
        return rule.enabled === false;
      },
      5000,
      'rule disabled through the dashboard',
    );
    await screenshot(page, 'rules-800x480');
  });

  await t.test('the event log shows who did what, and new events arrive live', async () => {
    await page.locator('.tabs a[data-view="events"]').click();
    const rows = page.locator('#event-list .row.event');
    await rows
      .filter({ hasText: /by rule:1/ })
      .first()
      .waitFor();
    gateway.parts.sim.sockets[2].setHumidity(91);
    gateway.parts.sim.sockets[2].reportNow();
    // No reload: the trip comes over the live stream.
    await rows
      .filter({ hasText: /socket-3/ })
      .and(page.locator('[data-type="trip"]'))
      .first()
      .waitFor();
    await page.getByLabel('type filter').selectOption('trip');
    await waitFor(
      async () => {
        const types = await rows.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.type));
        return types.length > 0 && types.every((x) => x === 'trip');
      },
      5000,
      'only trips after filtering',
    );
    await screenshot(page, 'events-800x480');
  });

  await t.test('reset is refused while humid, then re-arms the socket once dry', async () => {
    await page.locator('.tabs a[data-view="devices"]').click();
    const card = page.locator('[data-device="socket-3"]');
    await card.locator('.badge.interlock').waitFor();
    await card.locator('.reset').click();
    await card
      .locator('.message[role="alert"]')
      .filter({ hasText: /not yet below the re-arm level 70 %RH/ })
      .waitFor();
    gateway.parts.sim.sockets[2].setHumidity(50);
    gateway.parts.sim.sockets[2].reportNow();
    await waitFor(() => gateway.parts.registry.find('socket-3')?.state.humidity === 50, 3000);
    await card.locator('.reset').click();
    await card.locator('.badge.interlock').waitFor({ state: 'hidden' });
    assert.equal(gateway.parts.sim.sockets[2].relay, false, 'a reset does not switch the socket on');
    const story = (await gateway.parts.api.inject({ url: '/api/events?device=socket-3&limit=20', headers: tg.auth })).json().events as {
      type: string;
      origin: string;
    }[];
    assert.ok(
      story.some((e) => e.type === 'reset' && e.origin === 'rest'),
      JSON.stringify(story),
    );
    assert.ok(
      story.some((e) => e.type === 'refusal' && e.origin === 'rest'),
      JSON.stringify(story),
    );
  });

  assert.deepEqual(
    errors.filter((e) => /uncaught|Content Security Policy/i.test(e)),
    [],
  );
});

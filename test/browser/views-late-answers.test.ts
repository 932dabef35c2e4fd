// Answers that arrive late (a slow gateway, a loaded Pi): the user has left the view, chosen another
// filter, flipped another switch, or the device went meanwhile. A late answer must never land on the
// page: no uncaught error, no rows of the old filter, no stale list, no charts of a device that is gone,
// and a switch request ends on the card the user sees. The gateway's answers are held on cue
// (playwright's route: fetched from the real gateway at once, delivered when the test says).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page, Request } from 'playwright-core';
import { buildDashboard, chromiumAvailable, freshPage, launchBrowser } from '../helpers/browser.js';
import { serious } from '../helpers/dashboard-page.js';
import { startGateway, waitFor } from '../helpers/gateway.js';

interface Held {
  request: Request;
  deliver(): Promise<void>;
}

/** Holds the answers to requests whose URL matches `url` until the test delivers them. */
async function hold(page: Page, url: RegExp) {
  const held: Held[] = [];
  await page.route(url, async (route) => {
    const response = await route.fetch();
    // The page may have aborted the request meanwhile (that is the point): then there is nothing to deliver.
    held.push({ request: route.request(), deliver: () => route.fulfill({ response }).catch(() => {}) });
  });
  return {
    /** Waits until `n` requests are held; returns them, oldest first. */
    next: (n: number) => waitFor(() => held.length >= n && held.slice(0, n), 10_000, `${n} held request(s) to ${url}`),
    /** Delivers whatever is held and stops holding. */
    async release(): Promise<void> {
      await page.unroute(url);
      for (const h of held) await h.deliver();
    },
  };
}

test('late answers never land on the page: a view left, a filter changed, a switch flipped again, a device gone', {
  timeout: 240_000,
}, async (t) => {
  if (!chromiumAvailable(t)) return;
  const site = await buildDashboard(t);
  const tg = await startGateway({ http: { dashboard_dir: site }, can: { sim: { nodes: [1, 2, 3] } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-3')?.available, 5000, 'sockets online');
  const browser = await launchBrowser(t);
  const { page, errors } = await freshPage(browser, { width: 800, height: 480 });
  const ended = new Set<Request>();
  page.on('requestfinished', (r) => ended.add(r));
  page.on('requestfailed', (r) => ended.add(r));
  /** The page is done with a request (answered or aborted), and has had a moment to act on it. */
  const settled = async (request: Request) => {
    await waitFor(() => ended.has(request), 10_000, `${request.url()} to end`);
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 200)));
  };
  const card = (name: string) => page.locator(`.card[data-device="${name}"]`);
  const tab = (name: string) => page.getByRole('link', { name });
  await page.goto(`${gateway.httpUrl()}/#token=${tg.token}`);
  await card('socket-3').waitFor();

  await t.test('a view left while its data loads: no error, the view the user went to stays', async () => {
    for (const [view, url] of [
      ['Events', /\/api\/events\?/],
      ['History', /\/readings\?/],
      ['Rules', /\/api\/rules$/],
    ] as const) {
      const slow = await hold(page, url);
      await tab(view).click();
      const [request] = await slow.next(1);
      await tab('Devices').click();
      await card('socket-3').waitFor();
      await slow.release();
      await settled(request.request);
      assert.equal(await page.locator('.card').count(), 3, `the cards stay after ${view}'s late answer`);
      assert.deepEqual(serious(errors), [], `${view}'s late answer`);
    }
  });

  await t.test('Events: a filter chosen while another one loads shows only its own rows', async () => {
    await tab('Events').click();
    const rows = page.locator('#event-list .row');
    await rows.first().waitFor();
    const slow = await hold(page, /\/api\/events\?/);
    const filter = page.getByLabel('device filter');
    await filter.selectOption('socket-1');
    await filter.selectOption('socket-2');
    const [first, second] = await slow.next(2);
    // The older answer first, then the newer one: the list is the newer one's alone.
    await first.deliver();
    await settled(first.request);
    await slow.release();
    await rows.filter({ hasText: 'socket-2' }).first().waitFor();
    await settled(second.request);
    const texts = await rows.allInnerTexts();
    assert.ok(
      texts.every((text) => text.includes('socket-2')),
      `only socket-2's events: ${JSON.stringify(texts)}`,
    );
  });

  await t.test('Rules: two switches flipped quickly: the older list arriving last does not undo the newer', async () => {
    for (const name of ['heater off', 'fan off']) {
      const res = await gateway.parts.api.inject({
        method: 'POST',
        url: '/api/rules',
        headers: tg.auth,
        payload: {
          name,
          enabled: true,
          when: null,
          at: '07:00',
          between: null,
          days: null,
          then: { action: 'switch', device: 'socket-3', state: 'off' },
        },
      });
      assert.equal(res.statusCode, 201, res.body);
    }
    await tab('Rules').click();
    const enabled = (name: string) => page.getByRole('switch', { name: `rule ${name} enabled` });
    await enabled('fan off').waitFor();
    const slow = await hold(page, /\/api\/rules$/);
    await enabled('heater off').click();
    await slow.next(1);
    await enabled('fan off').click();
    const [older, newer] = await slow.next(2);
    await newer.deliver();
    await page.waitForFunction(
      () => document.querySelector('[aria-label="rule fan off enabled"]')?.getAttribute('aria-checked') === 'false',
    );
    await older.deliver();
    await settled(older.request);
    await slow.release();
    assert.equal(await enabled('fan off').getAttribute('aria-checked'), 'false', 'the page shows what the gateway has');
    assert.equal(await enabled('heater off').getAttribute('aria-checked'), 'false');
  });

  await t.test('Devices: a switch refused while the list changes: busy until the answer, the refusal on the card shown', async () => {
    await tab('Devices').click();
    gateway.parts.sim.sockets[1].setHumidity(90);
    await card('socket-2').locator('.badge.interlock').waitFor();
    const slow = await hold(page, /\/relay$/);
    await card('socket-2').locator('.toggle').click();
    await slow.next(1);
    // Another device renamed: the cards are laid out again while the request is on its way.
    const res = await gateway.parts.api.inject({
      method: 'PATCH',
      url: '/api/devices/socket-1',
      headers: tg.auth,
      payload: { name: 'washer' },
    });
    assert.equal(res.statusCode, 200, res.body);
    await card('washer').waitFor();
    assert.ok(await card('socket-2').locator('.toggle').isDisabled(), 'still busy: a second tap would send a second request');
    await slow.release();
    await card('socket-2')
      .locator('.message[role="alert"]')
      .filter({ hasText: /socket-2 is interlocked/ })
      .waitFor();
    assert.ok(await card('socket-2').locator('.toggle').isEnabled());
  });

  await t.test('History: a device removed while its charts load keeps saying it is gone', async () => {
    // Held at the second request of a load (readings in, energy on its way): the charts come right after it.
    const slow = await hold(page, /\/devices\/socket-3\/energy/);
    await page.goto(`${gateway.httpUrl()}/#/history/socket-3`);
    const [energy] = await slow.next(1);
    gateway.parts.sim.sockets[2].stop();
    // Stopped a moment ago, so still online until its heartbeat times out: removed anyway, as with "force".
    gateway.parts.registry.remove(gateway.parts.registry.find('socket-3')!, { force: true });
    const gone = page.getByText('socket-3 is no longer on this gateway.');
    await gone.waitFor();
    await slow.release();
    await settled(energy.request);
    assert.equal(await page.locator('.chart .uplot').count(), 0, 'no charts of a device that is gone');
    assert.ok(await gone.isVisible());
  });

  assert.deepEqual(serious(errors), []);
});

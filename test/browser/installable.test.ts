// The dashboard as a phone app: Chromium's own installability check passes (manifest, icons), and the
// offline shell opens the page with a "cannot be reached" banner while the gateway is away, instead
// of the browser's error page. 127.0.0.1 is a secure context, as the kiosk's localhost is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../../src/daemon/gateway.js';
import { silentLogger } from '../../src/log.js';
import { buildDashboard, chromiumAvailable, launchChromium, screenshot } from '../helpers/browser.js';
import { serious } from '../helpers/dashboard-page.js';
import { startGateway } from '../helpers/gateway.js';

interface Manifest {
  name: string;
  display: string;
  start_url: string;
  icons: { src: string; sizes: string; type: string; purpose?: string }[];
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): [number, number] {
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', 'a PNG file');
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}

test('installable on a phone: manifest and icons as Chromium wants them; the offline shell when the gateway is away', {
  timeout: 180_000,
}, async (t) => {
  if (!chromiumAvailable(t)) return;
  const site = await buildDashboard(t);
  const tg = await startGateway({ http: { dashboard_dir: site } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const url = gateway.httpUrl();
  // A real (fresh) profile: Chromium does not install apps from an incognito context.
  const { context, page, errors } = await launchChromium(t, { width: 390, height: 844 });
  await page.goto(`${url}/#/devices`);
  await page.locator('[data-device="socket-1"]').waitFor();

  await t.test('Chromium finds the manifest without errors and reports no installability errors', async () => {
    const cdp = await context.newCDPSession(page);
    const manifest = (await cdp.send('Page.getAppManifest')) as { url: string; errors: { message: string }[]; data?: string };
    assert.deepEqual(manifest.errors, [], 'the manifest parses');
    assert.equal(manifest.url, `${url}/manifest.webmanifest`);
    const data = JSON.parse(manifest.data!) as Manifest;
    assert.equal(data.display, 'standalone', 'opens full-screen from the home screen');
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] };
    assert.deepEqual(
      installabilityErrors.map((e) => e.errorId),
      [],
    );
    for (const icon of data.icons) {
      const res = await page.request.get(new URL(icon.src, manifest.url).href);
      assert.equal(res.status(), 200, icon.src);
      assert.equal(res.headers()['content-type'], 'image/png');
      assert.equal(pngSize(await res.body()).join('x'), icon.sizes, `${icon.src} is ${icon.sizes}`);
    }
    assert.ok(
      data.icons.some((i) => i.purpose === 'maskable'),
      'a maskable icon for round launchers',
    );
    const apple = await page.request.get(`${url}/icons/apple-touch-icon.png`);
    assert.equal(pngSize(await apple.body()).join('x'), '180x180', 'the iOS home-screen icon');
  });

  await t.test(
    'with the gateway away, opening the page shows it with the banner, not a browser error page; it comes back by itself',
    async () => {
      await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active?.state === 'activated');
      await page.reload(); // now controlled by the worker, which has kept the shell
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
      const port = Number(new URL(url).port);
      await gateway.stop();
      await page.goto(`${url}/#/devices`);
      const banner = page.locator('#banner');
      await banner.waitFor({ state: 'visible' });
      assert.match(await banner.innerText(), /The gateway cannot be reached/);
      assert.equal(await page.locator('.topbar .brand').innerText(), 'canplug', 'the page itself, not chrome-error://');
      await screenshot(page, 'offline-shell-390x844');
      const again = new Gateway({ config: { ...tg.config, http: { ...tg.config.http, port } }, log: silentLogger });
      await again.start();
      t.after(() => again.stop());
      await banner.waitFor({ state: 'hidden', timeout: 40_000 });
      await page.locator('[data-device="socket-1"]').waitFor();
    },
  );

  assert.deepEqual(serious(errors), []);
});

/**
 * Real headless Chromium for the dashboard tests: Debian's /usr/bin/chromium (or $CANPLUG_CHROMIUM)
 * driven by playwright-core, which never downloads a browser. Without Chromium the tests skip with
 * the reason, unless CANPLUG_REQUIRE_CHROMIUM=1 (CI), where that is a failure.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';

export const CHROMIUM = process.env.CANPLUG_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');
/** Where docs/dashboard.md takes its screenshots from; written only with CANPLUG_SCREENSHOTS=1. */
export const DOCS_IMAGES = join(import.meta.dirname, '..', '..', 'docs', 'images');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
const DASHBOARD = join(import.meta.dirname, '..', '..', 'dashboard');

/** Returns false (and marks the test skipped) when Chromium is missing and not required. */
export function chromiumAvailable(t: TestContext): boolean {
  if (existsSync(CHROMIUM)) return true;
  const reason = `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CANPLUG_CHROMIUM)`;
  if (process.env.CANPLUG_REQUIRE_CHROMIUM === '1') throw new Error(`${reason}; CANPLUG_REQUIRE_CHROMIUM=1 requires it`);
  t.skip(reason);
  return false;
}

/** Builds the dashboard from its sources into a temporary directory (the tests check the current code). */
export async function buildDashboard(t: TestContext): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-dashboard-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await build({
    root: DASHBOARD,
    configFile: join(DASHBOARD, 'vite.config.ts'),
    logLevel: 'error',
    build: { outDir: dir, emptyOutDir: true },
  });
  return dir;
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions seen so far (CSP violations show up here). */
  errors: string[];
}

/** Launches Chromium with a fresh profile in a temporary directory; closed after the test. */
export async function launchChromium(t: TestContext, viewport = { width: 800, height: 480 }): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'canplug-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
  t.after(async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page, errors: watchErrors(page) };
}

/** One Chromium for many fresh contexts: each context is a profile of its own (no storage, no service worker). */
export async function launchBrowser(t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  t.after(() => browser.close().catch(() => {}));
  return browser;
}

/** A page in a fresh context of `browser` (light colours, UTC, so screenshots do not depend on the machine). */
export async function freshPage(browser: Browser, viewport: { width: number; height: number }): Promise<TestBrowser> {
  const context = await browser.newContext({ viewport, colorScheme: 'light', timezoneId: 'UTC', locale: 'en-GB' });
  const page = await context.newPage();
  return { context, page, errors: watchErrors(page) };
}

function watchErrors(page: Page): string[] {
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return errors;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/**
 * A screenshot for docs/dashboard.md: into docs/images/ when CANPLUG_SCREENSHOTS=1 (then commit them),
 * otherwise into test-artifacts/ like the others, so an ordinary test run does not churn git.
 */
export async function docsScreenshot(page: Page, name: string): Promise<string> {
  if (process.env.CANPLUG_SCREENSHOTS !== '1') return screenshot(page, name);
  mkdirSync(DOCS_IMAGES, { recursive: true });
  const path = join(DOCS_IMAGES, `${name}.png`);
  // No blinking caret or running transition in the picture.
  await page.screenshot({ path, animations: 'disabled', caret: 'hide' });
  return path;
}

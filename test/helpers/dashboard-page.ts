/** Checks of the dashboard as a person sees it, for the browser tests. */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';

/** Problems the page must never have: uncaught exceptions and Content-Security-Policy violations. */
export const serious = (errors: string[]) => errors.filter((e) => /uncaught|Content Security Policy/i.test(e));

/**
 * Pixels drawn on the first canvas matching `selector`: any ink, or with `colourVar` only pixels of
 * that CSS custom property's colour (a chart's line, not its axes).
 */
export async function canvasInk(page: Page, selector: string, colourVar?: string): Promise<number> {
  return page.evaluate(
    ([selector, colourVar]) => {
      const canvas = document.querySelector<HTMLCanvasElement>(selector);
      const ctx = canvas?.getContext('2d');
      if (!canvas || !ctx || canvas.width === 0 || canvas.height === 0) return 0;
      let want: number[] | undefined;
      if (colourVar) {
        const probe = document.createElement('canvas').getContext('2d')!;
        probe.fillStyle = getComputedStyle(document.documentElement).getPropertyValue(colourVar).trim();
        probe.fillRect(0, 0, 1, 1);
        want = [...probe.getImageData(0, 0, 1, 1).data.slice(0, 3)];
      }
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] < (want ? 200 : 100)) continue;
        if (!want || want.every((c, k) => Math.abs(c - data[i + k]) < 24)) n++;
      }
      return n;
    },
    [selector, colourVar] as const,
  );
}

/** Elements that make the page scroll sideways (empty when the page fits its width). */
export async function horizontalOverflow(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth <= width) return [];
    return [...document.body.querySelectorAll<HTMLElement>('*')]
      .filter((el) => el.getBoundingClientRect().right > width + 1)
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className} right=${Math.round(el.getBoundingClientRect().right)} > ${width}`);
  });
}

/** Every tab is on screen, big enough to tap, not covered by anything, and opens its view. */
export async function everyTabReachable(page: Page): Promise<void> {
  const viewport = page.viewportSize()!;
  const tabs = page.locator('.tabs a');
  assert.equal(await tabs.count(), 4);
  for (const name of ['Devices', 'History', 'Events', 'Rules']) {
    const tab = page.getByRole('link', { name });
    const box = await tab.boundingBox();
    assert.ok(box, `${name} tab is shown`);
    assert.ok(
      box.x >= 0 && box.y >= 0 && box.x + box.width <= viewport.width + 0.5 && box.y + box.height <= viewport.height + 0.5,
      `${name} tab is on screen: ${JSON.stringify(box)} in ${viewport.width}x${viewport.height}`,
    );
    assert.ok(box.width >= 48 && box.height >= 48, `${name} tab is big enough to tap: ${box.width}x${box.height}`);
    const onTop = await page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.closest('.tabs a')?.textContent?.trim(), {
      x: box.x + box.width / 2,
      y: box.y + box.height / 2,
    });
    assert.equal(onTop, name, `nothing covers the ${name} tab`);
  }
}

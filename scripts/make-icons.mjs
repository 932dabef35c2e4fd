#!/usr/bin/env node
// Renders dashboard/icon.svg into the PNG icons the web app manifest and iOS want
// (dashboard/public/icons/), with the Chromium the browser tests use. Run after changing the SVG
// and commit the PNGs: browsers on phones need PNGs, and building them at install would need Chromium.
//   node scripts/make-icons.mjs
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const dashboard = join(dirname(fileURLToPath(import.meta.url)), '..', 'dashboard');
const out = join(dashboard, 'public', 'icons');
const svg = readFileSync(join(dashboard, 'icon.svg'), 'utf8');
const SIZES = { 'icon-192.png': 192, 'icon-512.png': 512, 'apple-touch-icon.png': 180 };

mkdirSync(out, { recursive: true });
const browser = await chromium.launch({ executablePath: process.env.CANPLUG_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  for (const [file, size] of Object.entries(SIZES)) {
    const page = await browser.newPage({ viewport: { width: size, height: size }, deviceScaleFactor: 1 });
    await page.setContent(`<style>html,body{margin:0}svg{display:block;width:${size}px;height:${size}px}</style>${svg}`);
    await page.screenshot({ path: join(out, file), omitBackground: false });
    await page.close();
    console.log(`${join('dashboard/public/icons', file)} ${size}x${size}`);
  }
} finally {
  await browser.close();
}

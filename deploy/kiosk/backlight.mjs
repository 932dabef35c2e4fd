#!/usr/bin/env node
// The kiosk's backlight: off after <seconds> without input, on again at the next touch (started by
// kiosk.sh). It reads the input devices only to notice that something happened, and writes the
// panel's bl_power (0 on, 1 off), which 70-canplug-backlight.rules lets the video group write.
// The dashboard's own blank screen (?blank=) turns black on the same timeout and swallows the
// waking touch, so waking the screen never switches a socket. Without a backlight to switch (an
// HDMI screen) this exits and the black page is what remains.
//   node backlight.mjs <seconds>    CANPLUG_KIOSK_INPUT, CANPLUG_KIOSK_BACKLIGHT: other directories (tests)
import { constants, existsSync, openSync, readdirSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const seconds = Number(process.argv[2]);
const inputDir = process.env.CANPLUG_KIOSK_INPUT ?? '/dev/input';
const backlightDir = process.env.CANPLUG_KIOSK_BACKLIGHT ?? '/sys/class/backlight';
const say = (message) => console.error(`canplug-kiosk backlight: ${message}`);
/** How often the input devices are looked at: a touch lights the panel within this. */
const POLL_MS = 200;

if (!(seconds > 0)) {
  say(`usage: backlight.mjs <seconds> (got ${process.argv[2]})`);
  process.exit(2);
}
const panels = existsSync(backlightDir)
  ? readdirSync(backlightDir)
      .map((name) => join(backlightDir, name, 'bl_power'))
      .filter((p) => existsSync(p))
  : [];
if (panels.length === 0) {
  say(`no backlight in ${backlightDir}: the screen stays lit (the page turns black when idle)`);
  process.exit(0);
}

let dark = false;
let timer;
const problems = new Set();
function setDark(off) {
  dark = off;
  for (const panel of panels) {
    try {
      writeFileSync(panel, off ? '1' : '0');
    } catch (error) {
      // Said once per panel, not at every touch.
      if (!problems.has(panel)) say(`cannot switch ${panel}: ${error.message} (is 70-canplug-backlight.rules installed?)`);
      problems.add(panel);
    }
  }
}
function activity() {
  if (dark) setDark(false);
  clearTimeout(timer);
  timer = setTimeout(() => setDark(true), seconds * 1000);
}

// Non-blocking reads, polled: a blocking read of a device that stays silent would tie up one of
// node's worker threads for good (and keep the process from exiting).
const devices = readdirSync(inputDir).filter((name) => name.startsWith('event'));
const inputs = new Map();
for (const name of devices) {
  try {
    inputs.set(openSync(join(inputDir, name), constants.O_RDONLY | constants.O_NONBLOCK), name);
  } catch (error) {
    say(`${name}: ${error.message} (is the kiosk user in the input group?)`);
  }
}
const scratch = Buffer.alloc(4096);
setInterval(() => {
  let touched = false;
  for (const [fd, name] of inputs) {
    try {
      while (readSync(fd, scratch) > 0) touched = true;
    } catch (error) {
      if (error.code === 'EAGAIN') continue;
      say(`${name}: ${error.message}; no longer watched`); // unplugged
      inputs.delete(fd);
    }
  }
  if (touched) activity();
}, POLL_MS);
say(`${panels.join(', ')}: dark after ${seconds} s without input from ${inputs.size} input devices`);
// Lit at the start, and lit when the kiosk stops: a dark screen must never outlive it.
activity();
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    setDark(false);
    process.exit(0);
  });
}

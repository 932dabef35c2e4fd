/**
 * The kiosk's blank screen: with `?blank=<seconds>` in the start URL the page turns black after that
 * long without a touch, and the touch that wakes it only wakes it (it must not switch a socket that
 * happens to be under the finger). The kiosk's backlight helper turns the panel off on the same
 * timeout (deploy/kiosk/); on a screen without backlight control the black page is what remains.
 */
import { h } from './dom.js';

const ACTIVITY = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart'] as const;

export function startScreenSaver(params: URLSearchParams): void {
  const seconds = Number(params.get('blank') ?? 0);
  if (!Number.isFinite(seconds) || seconds <= 0) return;
  const cover = h('div', { class: 'screen-saver', 'aria-hidden': 'true', hidden: true });
  document.body.append(cover);
  let timer = 0;
  const arm = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => (cover.hidden = false), seconds * 1000);
  };
  // The whole tap lands on the cover (it is on top of everything); it goes away once the tap is over.
  const swallow = (e: Event) => {
    e.preventDefault();
    e.stopPropagation();
  };
  for (const type of ['pointerdown', 'pointerup', 'touchstart', 'touchend', 'mousedown', 'mouseup'])
    cover.addEventListener(type, swallow, { passive: false });
  cover.addEventListener('click', (e) => {
    swallow(e);
    cover.hidden = true;
    arm();
  });
  for (const type of ACTIVITY) window.addEventListener(type, () => cover.hidden && arm(), { capture: true, passive: true });
  arm();
}

/** Page-wide bits every view uses: toasts and the top banner. */
import { h } from './dom.js';

/** At most this many toasts at once: the touchscreen is small, the newest matter. */
const MAX_TOASTS = 2;

export function toast(text: string, kind: 'info' | 'error' = 'info', ms = 5000): void {
  const box = document.getElementById('toasts')!;
  const el = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  box.append(el);
  while (box.children.length > MAX_TOASTS) box.firstElementChild!.remove();
  setTimeout(() => el.remove(), ms);
}

export function banner(text: string | undefined, kind: 'error' | 'info' = 'error'): void {
  const el = document.getElementById('banner')!;
  el.hidden = text === undefined;
  el.className = `banner ${kind === 'info' ? 'info' : ''}`;
  el.textContent = text ?? '';
}

/** A view of the page: mounted into <main>, unmounted when the user leaves it. */
export interface View {
  mount(root: HTMLElement, args: string[]): void;
  unmount(): void;
}

/** The link to the gateway is down: views disable their controls. */
export const link = { up: false };

/** A clear message in place of a feature the gateway does not offer (an older gateway: 404). */
export function notAvailable(what: string, route: string): HTMLElement {
  return h('p', { class: 'empty' }, `${what} is not available on this gateway (${route} answered 404).`);
}

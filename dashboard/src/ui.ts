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

/**
 * A view of the page: mounted into <main>, unmounted when the user leaves it. It follows the device
 * store itself; `refresh` runs when the link goes up or down or the access changes (controls follow).
 */
export interface View {
  mount(root: HTMLElement, args: string[]): void;
  unmount(): void;
  refresh?(): void;
}

/**
 * The link to the gateway: `up` while the live stream is connected; `access` is what the stream said
 * this browser may do ('read' without the token: controls are disabled, the top bar offers Unlock).
 */
export const link: { up: boolean; access: 'read' | 'write' } = { up: false, access: 'read' };

/** True when changes can be sent: the gateway is there and the token allows them. */
export const canChange = () => link.up && link.access === 'write';

/** Why a control is disabled, for its title (a tooltip on a desktop, read by screen readers). */
export function whyDisabled(): string | undefined {
  if (!link.up) return 'the gateway cannot be reached';
  if (link.access !== 'write') return 'read-only: unlock with the API token to change things';
  return undefined;
}

/** A clear message in place of a feature the gateway does not offer (an older gateway: 404). */
export function notAvailable(what: string, route: string): HTMLElement {
  return h('p', { class: 'empty' }, `${what} is not available on this gateway (${route} answered 404).`);
}

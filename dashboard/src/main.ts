/** The dashboard: one live connection, four views (devices, history, events, rules), hash routing. */
import './style.css';
import 'uplot/dist/uPlot.min.css';
import type { LiveMessage } from '../../src/contracts/live.js';
import { whenUnauthorized } from './api.js';
import { icon } from './icons.js';
import { Live, type LinkState } from './live.js';
import { startScreenSaver } from './screen-saver.js';
import { store } from './store.js';
import { setUpTheme } from './theme.js';
import { askForToken } from './token-dialog.js';
import { takeTokenFromUrl } from './token.js';
import { banner, link, toast, type View } from './ui.js';
import { DevicesView } from './views/devices.js';
import { EventsView, rememberEvent } from './views/events.js';
import { HistoryView } from './views/history.js';
import { RulesView } from './views/rules.js';

const VIEWS = {
  devices: () => new DevicesView(),
  history: () => new HistoryView(),
  events: () => new EventsView(),
  rules: () => new RulesView(),
} satisfies Record<string, () => View>;
type ViewName = keyof typeof VIEWS;
/** Events worth interrupting for, wherever the user is (a refusal answers someone's request: it shows there). */
const ALERTS = new Set(['trip', 'alarm', 'fault']);

const main = document.getElementById('view')!;
const dot = document.getElementById('link')!;
const unlock = document.getElementById('unlock') as HTMLButtonElement;
let current: { name: ViewName; view: View } | undefined;

function route(): void {
  const [name = 'devices', ...args] = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const key: ViewName = name in VIEWS ? (name as ViewName) : 'devices';
  current?.view.unmount();
  const view = VIEWS[key]();
  current = { name: key, view };
  shownAccess = `${link.up} ${link.access}`;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('.tabs a')) {
    if (a.dataset.view === key) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  view.mount(main, args);
}

function onMessage(message: LiveMessage): void {
  switch (message.type) {
    case 'snapshot':
      link.access = message.access;
      store.snapshot(message.devices);
      showAccess();
      return;
    case 'device':
      store.update(message.device);
      return;
    case 'device.removed':
      store.remove(message.key);
      return;
    case 'event':
      rememberEvent(message.event);
      if (current?.view instanceof EventsView) current.view.live(message.event);
      if (ALERTS.has(message.event.type))
        toast(
          `${message.event.device ?? 'gateway'}: ${message.event.type}${message.event.cause ? ` (${message.event.cause})` : ''}`,
          'error',
        );
      return;
  }
}

function onState(state: LinkState): void {
  link.up = state.kind === 'up';
  dot.className = `link ${state.kind === 'up' ? 'up' : state.kind === 'connecting' ? '' : 'down'}`;
  dot.title = state.kind === 'up' ? 'live' : state.kind;
  if (state.kind === 'up') banner(undefined);
  else if (state.kind === 'down') {
    const retry = `Reconnecting${state.retryInS > 0 ? ` in ${state.retryInS} s` : '…'}`;
    banner(
      store.loaded ? `The gateway cannot be reached: showing the last known state. ${retry}` : `The gateway cannot be reached. ${retry}`,
    );
  } else if (state.kind === 'unauthorized') {
    // Only with read protection on, or a token the gateway no longer takes (rotated).
    banner('The gateway wants its API token.', 'info');
    void askForToken(state.reason, () => live.reconnect());
  }
  showAccess();
}

/** The Unlock button shows while the page is read-only; views enable or disable their controls. */
let shownAccess = '';
function showAccess(): void {
  unlock.hidden = !(link.up && link.access === 'read');
  // The countdown while the gateway is away calls this every second: redraw only on a real change.
  const now = `${link.up} ${link.access}`;
  if (now === shownAccess) return;
  shownAccess = now;
  current?.view.refresh?.();
}

takeTokenFromUrl();
const live = new Live({ message: onMessage, state: onState });
whenUnauthorized((reason) => void askForToken(reason, () => live.reconnect()));
for (const a of document.querySelectorAll<HTMLAnchorElement>('.tabs a')) a.prepend(icon(a.dataset.view as ViewName));
unlock.prepend(icon('lock', 18));
unlock.setAttribute('aria-label', 'Unlock: read-only without the API token');
unlock.title = 'Read-only: enter the API token to switch sockets and edit rules';
unlock.addEventListener('click', () => void askForToken('', () => live.reconnect(), true));
// Charts take their colours when drawn: draw the view again in the new theme.
setUpTheme(document.getElementById('theme') as HTMLButtonElement, route);
window.addEventListener('hashchange', route);
route();
live.connect();
startScreenSaver(new URLSearchParams(location.search));
registerServiceWorker();

/**
 * The offline shell: a service worker keeps the page itself, so opening it while the gateway is away
 * shows the page and its "cannot be reached" banner instead of the browser's error page. Browsers
 * allow service workers only on https and on localhost (the kiosk); on plain http this is skipped.
 */
function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register('./sw.js').catch(() => {
    // Not allowed here (a private window, a policy): the page works as before without it.
  });
}

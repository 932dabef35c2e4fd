/** The dashboard: one live connection, four views (devices, history, events, rules), hash routing. */
import './style.css';
import type { LiveMessage } from '../../src/api/live-protocol.js';
import { whenUnauthorized } from './api.js';
import { Live, type LinkState } from './live.js';
import { store } from './store.js';
import { setUpTheme } from './theme.js';
import { askForToken } from './token-dialog.js';
import { takeTokenFromUrl } from './token.js';
import { banner, link, toast, type View } from './ui.js';
import { DevicesView } from './views/devices.js';
import { EventsView, rememberEvent } from './views/events.js';
import { HistoryView } from './views/history.js';
import { RulesView } from './views/rules.js';

const VIEWS: Record<string, () => View> = {
  devices: () => new DevicesView(),
  history: () => new HistoryView(),
  events: () => new EventsView(),
  rules: () => new RulesView(),
};
/** Events worth interrupting for, wherever the user is (a refusal answers someone's request: it shows there). */
const ALERTS = new Set(['trip', 'alarm', 'fault']);

const main = document.getElementById('view')!;
const dot = document.getElementById('link')!;
let current: { name: string; view: View } | undefined;

function route(): void {
  const [name = 'devices', ...args] = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const key = name in VIEWS ? name : 'devices';
  current?.view.unmount();
  const view = VIEWS[key]();
  current = { name: key, view };
  for (const a of document.querySelectorAll<HTMLAnchorElement>('.tabs a')) {
    if (a.dataset.view === key) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  view.mount(main, args);
}

function onMessage(message: LiveMessage): void {
  switch (message.type) {
    case 'snapshot':
      store.snapshot(message.devices);
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
      if (ALERTS.has(message.event.type)) toast(`${message.event.device ?? 'gateway'}: ${message.event.type}${message.event.cause ? ` (${message.event.cause})` : ''}`, 'error');
      return;
  }
}

function onState(state: LinkState): void {
  link.up = state.kind === 'up';
  dot.className = `link ${state.kind === 'up' ? 'up' : state.kind === 'connecting' ? '' : 'down'}`;
  dot.title = state.kind === 'up' ? 'live' : state.kind;
  if (state.kind === 'up') banner(undefined);
  else if (state.kind === 'down') {
    banner(`The gateway cannot be reached: showing the last known state. Reconnecting${state.retryInS > 0 ? ` in ${state.retryInS} s` : '…'}`);
  } else if (state.kind === 'unauthorized') {
    banner('The gateway wants its API token.', 'info');
    void askForToken(state.reason, () => live.reconnect());
  }
  if (current?.view instanceof DevicesView) current.view.refresh();
}

takeTokenFromUrl();
const live = new Live({ message: onMessage, state: onState });
whenUnauthorized((reason) => void askForToken(reason, () => live.reconnect()));
setUpTheme(document.getElementById('theme') as HTMLButtonElement, () => {
  if (current?.view instanceof HistoryView) route();
});
window.addEventListener('hashchange', route);
route();
live.connect();

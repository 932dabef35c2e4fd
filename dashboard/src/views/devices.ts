/**
 * Device cards: live readings with a power sparkline, relay toggle, interlock and fault badges with
 * reset. `#/devices/<key>` (Home Assistant's "Visit" link for a device) shows that device's card and
 * opens its settings.
 */
import type { DeviceView } from '../../../src/contracts/device.js';
import { api, type ApiError } from '../api.js';
import { fmt, h, replace } from '../dom.js';
import { store } from '../store.js';
import { canChange, toast, whyDisabled, type View } from '../ui.js';
import { openDeviceDialog } from './device-dialog.js';
import { Sparkline } from './sparkline.js';

const path = (d: DeviceView) => `api/devices/${encodeURIComponent(d.name)}`;

/** The sparklines slide left with time even when a socket's power does not change. */
const SLIDE_MS = 5000;

class Card {
  readonly el: HTMLElement;
  readonly spark = new Sparkline();
  private view: DeviceView;
  private readonly parts;
  private busy = false;
  private messageTimer: number | undefined;

  constructor(view: DeviceView) {
    this.view = view;
    this.parts = {
      dot: h('span', { class: 'dot', 'aria-hidden': 'true' }),
      name: h('span', { class: 'card-name' }),
      room: h('span', { class: 'room' }),
      badges: h('div', { class: 'badges' }),
      power: h('div', { class: 'power' }),
      readings: h('div', { class: 'readings' }),
      reasons: h('div', { class: 'message reasons' }),
      toggle: h('button', { class: 'toggle', type: 'button', role: 'switch', onclick: () => this.toggle() }),
      reset: h('button', { class: 'button danger reset', type: 'button', onclick: () => this.reset() }, 'Reset'),
      message: h('div', { class: 'message', role: 'alert' }),
    };
    const p = this.parts;
    const more = h(
      'button',
      {
        class: 'icon-button',
        type: 'button',
        'aria-label': 'device settings',
        title: 'device settings',
        onclick: () => openDeviceDialog(this.view),
      },
      '⋯',
    );
    this.el = h(
      'article',
      { class: 'card' },
      h('div', { class: 'card-head' }, p.dot, p.name, p.room, more),
      p.badges,
      h('div', { class: 'power-row' }, p.power, this.spark.el),
      p.readings,
      p.reasons,
      p.message,
      h('div', { class: 'actions' }, p.toggle, p.reset),
    );
    this.update(view);
  }

  update(view: DeviceView): void {
    this.view = view;
    const s = view.state;
    const p = this.parts;
    this.el.dataset.device = view.name;
    this.el.classList.toggle('offline', !view.available);
    this.el.classList.toggle('interlocked', s.interlock);
    p.dot.classList.toggle('online', view.available);
    p.dot.title = view.available ? 'online' : 'offline';
    p.name.textContent = view.name;
    p.room.textContent = typeof view.settings.room === 'string' ? view.settings.room : '';
    replace(
      p.badges,
      !view.available && h('span', { class: 'badge' }, 'OFFLINE'),
      s.interlock && h('span', { class: 'badge danger interlock' }, 'INTERLOCK'),
      s.fault && h('span', { class: 'badge warn fault' }, 'FAULT'),
      s.problem && h('span', { class: 'badge warn problem', title: view.problems.join('; ') }, 'ALARM'),
    );
    replace(p.power, fmt(s.power, s.power !== undefined && s.power >= 100 ? 0 : 1), h('small', {}, 'W'));
    replace(
      p.readings,
      reading(fmt(s.voltage, 1), 'V'),
      reading(fmt(s.current, 2), 'A'),
      reading(fmt(s.energy, s.energy !== undefined && s.energy < 10 ? 3 : 1), 'kWh'),
      reading(fmt(s.humidity, 1), '%RH'),
      reading(fmt(s.temperature, 1), '°C'),
      reading(view.kind === 'can' ? `#${view.node ?? '?'}` : view.kind, 'node'),
    );
    // A refusal message says the same and more: show one of the two (the card must stay short).
    p.reasons.textContent = p.message.textContent ? '' : [...(s.interlock ? view.interlock_reasons : []), ...view.problems].join('; ');
    const on = s.state === 'ON';
    p.toggle.setAttribute('aria-checked', String(on));
    p.toggle.setAttribute('aria-label', `${view.name} relay`);
    p.toggle.textContent = s.state === undefined ? '?' : on ? 'ON' : 'OFF';
    p.toggle.disabled = !view.available || !canChange() || this.busy;
    const why = view.available ? whyDisabled() : `${view.name} is offline`;
    p.toggle.title = why ?? '';
    p.reset.hidden = !s.interlock;
    p.reset.disabled = !view.available || !canChange();
    p.reset.title = why ?? '';
    this.drawSpark();
  }

  drawSpark(): void {
    this.spark.draw(store.power.series(this.view.key));
  }

  private say(text: string): void {
    this.parts.message.textContent = text;
    window.clearTimeout(this.messageTimer);
    if (text) this.messageTimer = window.setTimeout(() => this.say(''), 20_000);
    this.update(this.view);
  }

  private async toggle(): Promise<void> {
    const on = this.view.state.state !== 'ON';
    this.busy = true;
    this.parts.toggle.classList.add('busy');
    this.update(this.view);
    try {
      const view = await api<DeviceView>('PUT', `${path(this.view)}/relay`, { on });
      this.say('');
      store.update(view);
    } catch (error) {
      // The reason stays on the card, next to the switch that was refused.
      this.say((error as Error).message);
    } finally {
      this.busy = false;
      this.parts.toggle.classList.remove('busy');
      this.update(store.devices.get(this.view.key) ?? this.view);
    }
  }

  private async reset(): Promise<void> {
    try {
      await api('POST', `${path(this.view)}/reset`, {});
      this.say('');
      toast(`${this.view.name}: interlock reset`);
    } catch (error) {
      const e = error as ApiError;
      this.say(e.status === 404 ? 'resetting an interlock is not available on this gateway' : e.message);
    }
  }
}

function reading(value: string, unit: string): HTMLElement {
  return h('div', { class: 'reading' }, h('b', {}, value), h('span', {}, unit));
}

export class DevicesView implements View {
  private readonly cards = new Map<string, Card>();
  private root: HTMLElement | undefined;
  private unlisten: (() => void) | undefined;
  private slide: number | undefined;
  private observer: ResizeObserver | undefined;
  /** The device the address asks for (key or name), until it is shown. */
  private wanted: string | undefined;

  mount(root: HTMLElement, args: string[] = []): void {
    this.root = root;
    this.wanted = args[0] === undefined ? undefined : decodeURIComponent(args[0]);
    this.render();
    this.unlisten = store.listen(({ key, device, listChanged }) => {
      const card = this.cards.get(key);
      if (device && card && !listChanged) card.update(device);
      else this.render();
    });
    this.slide = window.setInterval(() => this.drawSparks(), SLIDE_MS);
    // A card has its width only once laid out (and it changes on rotation): the sparklines follow.
    this.observer = new ResizeObserver(() => this.drawSparks());
    this.observer.observe(root);
  }

  unmount(): void {
    this.unlisten?.();
    window.clearInterval(this.slide);
    this.observer?.disconnect();
    this.clear();
  }

  /** Called when the link goes up or down or the access changes: controls follow. */
  refresh(): void {
    if (this.cards.size === 0) return this.render();
    for (const [key, card] of this.cards) {
      const device = store.devices.get(key);
      if (device) card.update(device);
    }
  }

  private clear(): void {
    for (const card of this.cards.values()) card.spark.destroy();
    this.cards.clear();
  }

  /**
   * Lays the cards out again (a device came, went, was renamed, moved room). A card is kept while its
   * device is shown: a switch request on its way keeps it busy, and the answer lands on the card the
   * user sees, not on one laid out before.
   */
  private render(): void {
    if (!this.root) return;
    const devices = store.visible();
    const shown = new Set(devices.map((d) => d.key));
    for (const [key, card] of this.cards) {
      if (shown.has(key)) continue;
      card.spark.destroy();
      this.cards.delete(key);
    }
    if (devices.length === 0) {
      replace(
        this.root,
        h(
          'p',
          { class: 'empty' },
          store.loaded ? 'No devices yet: sockets appear here when their first heartbeat arrives.' : 'Connecting to the gateway…',
        ),
      );
      return;
    }
    const grid = h('div', { class: 'cards' });
    for (const device of devices) {
      let card = this.cards.get(device.key);
      if (card) card.update(device);
      else this.cards.set(device.key, (card = new Card(device)));
      grid.append(card.el);
    }
    replace(this.root, grid);
    this.drawSparks();
  }

  private drawSparks(): void {
    for (const card of this.cards.values()) card.drawSpark();
    this.showWanted();
  }

  /** Once the device asked for is known: its card in view and marked, its settings open (hidden devices too). */
  private showWanted(): void {
    const device = this.wanted === undefined ? undefined : (store.devices.get(this.wanted) ?? store.byName(this.wanted));
    if (!device) return;
    this.wanted = undefined;
    // Shown once: a later re-draw of the view (a theme change, a reload) must not open it again.
    history.replaceState(null, '', '#/devices');
    const card = this.cards.get(device.key);
    card?.el.classList.add('focused');
    card?.el.scrollIntoView({ block: 'center' });
    openDeviceDialog(device);
  }
}

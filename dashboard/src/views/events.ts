/** The event log: trips, refusals, resets, switching, availability; newest first, live, paged. */
import type { EventEntry } from '../../../src/contracts/event-entry.js';
import { EVENT_TYPES } from '../../../src/contracts/vocabulary.js';
import { type ApiError, get, Latest } from '../api.js';
import { h, replace, timeText } from '../dom.js';
import { store } from '../store.js';
import type { View } from '../ui.js';

interface EventPage {
  events: EventEntry[];
  next_before: string | number | null;
}

const PAGE = 50;

/** Events that arrived on the live stream while no events view was open (newest last), bounded. */
const recent: EventEntry[] = [];
export function rememberEvent(event: EventEntry): void {
  recent.push(event);
  if (recent.length > 200) recent.shift();
}

function row(e: EventEntry, fresh = false): HTMLElement {
  const detail =
    e.detail && Object.keys(e.detail).length > 0
      ? Object.entries(e.detail)
          .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
          .join(', ')
      : '';
  return h(
    'div',
    { class: `row event${fresh ? ' new' : ''}`, dataset: { type: e.type } },
    h('span', { class: 'time' }, timeText(e.ts)),
    h('span', { class: `kind ${e.type}` }, e.type),
    h(
      'div',
      { class: 'grow' },
      h('div', {}, [e.device, e.cause].filter(Boolean).join(' · ') || '—'),
      h('div', { class: 'sub' }, [e.origin && `by ${e.origin}`, detail].filter(Boolean).join(' · ')),
    ),
  );
}

export class EventsView implements View {
  private unlisten: (() => void) | undefined;
  private readonly devices = h('select', {
    'aria-label': 'device filter',
    onchange: (e: Event) => this.setFilter({ device: (e.target as HTMLSelectElement).value }),
  });
  private list: HTMLElement | undefined;
  private more: HTMLButtonElement | undefined;
  private note: HTMLElement | undefined;
  private filter = { device: '', type: '' };
  /** The key of the device filtered on, so a rename can be followed. */
  private filterKey: string | undefined;
  private nextBefore: string | number | null = null;
  private available = true;
  /** A filter changed (or the view left) while a page loads: that page's answer is dropped. */
  private readonly loads = new Latest();

  mount(root: HTMLElement): void {
    this.fillDevices();
    // The filter lists the devices the store has now, whenever that changes (a cold start fills it late).
    this.unlisten = store.listen(({ listChanged, key, device }) => {
      // The filtered device was renamed (the log names each event's device as it is called now) or removed.
      if (key === this.filterKey && device?.name !== this.filter.device) this.setFilter({ device: device?.name ?? '' });
      if (listChanged) this.fillDevices();
    });
    const types = h(
      'select',
      { 'aria-label': 'type filter', onchange: (e: Event) => this.setFilter({ type: (e.target as HTMLSelectElement).value }) },
      h('option', { value: '' }, 'All types'),
      EVENT_TYPES.map((t) => h('option', { value: t }, t)),
    );
    this.list = h('div', { class: 'list', id: 'event-list' });
    this.note = h('p', { class: 'empty' });
    this.more = h('button', { class: 'button', type: 'button', onclick: () => this.load(false) }, 'Older events');
    replace(root, h('div', { class: 'toolbar' }, this.devices, types), this.note, this.list, h('div', { class: 'toolbar' }, this.more));
    void this.load(true);
  }

  unmount(): void {
    this.unlisten?.();
    this.loads.stop();
    this.list = undefined;
  }

  private fillDevices(): void {
    const names = store.visible().map((d) => d.name);
    // A hidden device filtered on (or one named in a link before the store has it) stays in the list.
    if (this.filter.device && !names.includes(this.filter.device)) names.push(this.filter.device);
    replace(
      this.devices,
      h('option', { value: '' }, 'All devices'),
      names.map((n) => h('option', { value: n, selected: n === this.filter.device }, n)),
    );
  }

  /** A new event from the live stream. */
  live(event: EventEntry): void {
    if (!this.list || !this.matches(event)) return;
    this.list.prepend(row(event, true));
  }

  private matches(e: EventEntry): boolean {
    return (!this.filter.device || e.device === this.filter.device) && (!this.filter.type || e.type === this.filter.type);
  }

  private setFilter(change: Partial<typeof this.filter>): void {
    Object.assign(this.filter, change);
    this.filterKey = this.filter.device ? store.byName(this.filter.device)?.key : undefined;
    void this.load(true);
  }

  private async load(first: boolean): Promise<void> {
    const { list, more, note } = this;
    if (!list || !more || !note) return;
    const signal = this.loads.start();
    if (first) {
      this.nextBefore = null;
      list.replaceChildren();
      more.hidden = true;
    }
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (this.filter.device) query.set('device', this.filter.device);
    if (this.filter.type) query.set('type', this.filter.type);
    if (!first && this.nextBefore !== null) query.set('before', String(this.nextBefore));
    try {
      const page = await get<EventPage>(`api/events?${query}`, signal);
      note.hidden = true;
      list.append(...page.events.map((e) => row(e)));
      this.nextBefore = page.next_before;
      if (first && page.events.length === 0) this.showNote('No events yet.');
    } catch (error) {
      if (signal.aborted) return;
      const e = error as ApiError;
      this.available = e.status !== 404;
      this.nextBefore = null;
      // Without the stored log, show what the live stream brought since this page was opened.
      const seen = recent.filter((r) => this.matches(r)).reverse();
      list.append(...seen.map((r) => row(r)));
      this.showNote(
        this.available
          ? e.message
          : 'The stored event log is not available on this gateway (GET /api/events answered 404); showing events since this page was opened.',
      );
    }
    more.hidden = this.nextBefore === null;
  }

  private showNote(text: string): void {
    this.note!.hidden = false;
    this.note!.textContent = text;
  }
}

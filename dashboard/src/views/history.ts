/** Charts of a device's history: min/avg/max per bucket from the gateway, energy per day. */
import uPlot from 'uplot';
import { type ApiError, get, Latest } from '../api.js';
import { h, replace } from '../dom.js';
import { store, type StoreChange } from '../store.js';
import type { View } from '../ui.js';
import type { EnergyHistory, ReadingHistory } from '../../../src/contracts/history.js';
import type { Quantity } from '../../../src/contracts/vocabulary.js';

const RANGES: [string, number][] = [
  ['1 h', 3_600_000],
  ['6 h', 6 * 3_600_000],
  ['24 h', 86_400_000],
  ['7 d', 7 * 86_400_000],
  ['30 d', 30 * 86_400_000],
  ['1 y', 365 * 86_400_000],
];
const REFRESH_MS = 30_000;

/** Where the gateway took the buckets from: it picks the tier by the range (and widens buckets where a tier aged out). */
const TIER_NAMES = { raw: 'raw readings', '1m': 'per-minute rollups', '1h': 'hourly rollups' } as const;

function duration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
  ] as const)
    if (ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms / 1000} s`;
}

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function axisStyle(): Partial<uPlot.Axis> {
  return { stroke: css('--muted'), grid: { stroke: css('--line'), width: 1 }, ticks: { stroke: css('--line'), width: 1 } };
}

/** Time, min, avg, max of one quantity, with a gap where buckets are missing. */
function series(data: ReadingHistory, q: Quantity): uPlot.AlignedData {
  const xs: number[] = [];
  const cols: (number | null)[][] = [[], [], []];
  let previous: number | undefined;
  for (const b of data.buckets) {
    if (previous !== undefined && b.t - previous > data.bucket_ms * 1.5) {
      xs.push((previous + data.bucket_ms) / 1000);
      for (const c of cols) c.push(null);
    }
    previous = b.t;
    xs.push(b.t / 1000);
    const s = b[q];
    cols[0].push(s?.min ?? null);
    cols[1].push(s?.avg ?? null);
    cols[2].push(s?.max ?? null);
  }
  return [xs, ...cols];
}

function bandChart(title: string, unit: string, colour: string, data: uPlot.AlignedData, width: number, range: [number, number]): uPlot {
  const faint = { stroke: colour, width: 1, alpha: 0.35 } as const;
  return new uPlot(
    {
      title: `${title} (${unit})`,
      width,
      height: 170,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      series: [
        {},
        { label: 'min', stroke: colour, width: faint.width, dash: [4, 4] },
        { label: 'avg', stroke: colour, width: 2 },
        { label: 'max', stroke: colour, width: faint.width, dash: [4, 4] },
      ],
      bands: [{ series: [3, 1], fill: `${colour}33` }],
      // The range asked for, not just where data happens to be.
      scales: { x: { time: true, range: () => range } },
      axes: [axisStyle(), { ...axisStyle(), size: 48 }],
    },
    data,
  );
}

function energyChart(energy: EnergyHistory, width: number): uPlot {
  const xs = energy.periods.map((p) => Date.parse(p.start) / 1000);
  const ys = energy.periods.map((p) => p.kwh);
  const colour = css('--accent');
  return new uPlot(
    {
      title: 'Energy per day (kWh)',
      width,
      height: 170,
      legend: { show: false },
      series: [
        {},
        { label: 'kWh', stroke: colour, fill: `${colour}99`, paths: uPlot.paths.bars!({ size: [0.7, 40] }), points: { show: false } },
      ],
      axes: [axisStyle(), { ...axisStyle(), size: 48 }],
      scales: { y: { range: (_u, _min, max) => [0, Math.max(0.1, max * 1.1)] } },
    },
    [xs, ys],
  );
}

/**
 * The device is chosen by name (the URL says #/history/<name>) and then followed by its key: a rename
 * while shown keeps the charts and updates the URL; a removal says so. The picker is filled from the
 * store whenever the device list changes, so a cold deep link fills it once the snapshot is in.
 */
export class HistoryView implements View {
  private plots: uPlot[] = [];
  private observer: ResizeObserver | undefined;
  private timer: number | undefined;
  private unlisten: (() => void) | undefined;
  private rangeMs = 86_400_000;
  /** The device shown: its name (for the API and the URL) and, once the store knows it, its key. */
  private device = '';
  private key: string | undefined;
  private root: HTMLElement | undefined;
  /** Another device or range chosen, the device gone, or the view left while charts load: that answer is dropped. */
  private readonly loads = new Latest();
  private readonly picker = h('select', {
    'aria-label': 'device',
    onchange: (e: Event) => this.choose((e.target as HTMLSelectElement).value),
  });
  private readonly box = h('div', { class: 'charts', id: 'charts' });
  private readonly ranges = h('div', { class: 'segmented', role: 'group', 'aria-label': 'time range' });

  mount(root: HTMLElement, args: string[]): void {
    this.root = root;
    this.device = args[0] ? decodeURIComponent(args[0]) : '';
    this.observer = new ResizeObserver(() => this.resize());
    this.drawRanges();
    replace(root, h('div', { class: 'toolbar' }, this.picker, this.ranges), this.box);
    this.follow({ key: '*', device: undefined, listChanged: true });
    this.unlisten = store.listen((change) => this.follow(change));
    this.timer = window.setInterval(() => this.load(), REFRESH_MS);
  }

  unmount(): void {
    this.root = undefined;
    this.loads.stop();
    this.unlisten?.();
    window.clearInterval(this.timer);
    this.observer?.disconnect();
    for (const p of this.plots) p.destroy();
    this.plots = [];
  }

  /** Keeps the picker and the shown device in step with the store. */
  private follow(change: StoreChange): void {
    if (!change.listChanged || !this.root) return;
    const before = this.device;
    const known = this.key === undefined ? undefined : store.devices.get(this.key);
    if (known)
      this.device = known.name; // renamed while shown
    else if (this.key !== undefined) return this.gone(`${this.device} is no longer on this gateway.`);
    else if (!this.device && store.visible()[0]) this.device = store.visible()[0].name;
    this.key = store.byName(this.device)?.key;
    this.fillPicker();
    if (this.device !== before) history.replaceState(null, '', `#/history/${encodeURIComponent(this.device)}`);
    if (!this.device)
      replace(
        this.box,
        h(
          'p',
          { class: 'empty' },
          store.loaded ? 'No devices yet: history shows here once a socket reports.' : 'Connecting to the gateway…',
        ),
      );
    else if (store.loaded && !this.key) this.gone(`There is no device named "${this.device}" on this gateway.`);
    // The first time a device is known (a cold start), or a new name: load its charts.
    else if (this.device !== before || this.plots.length === 0) void this.load();
  }

  private gone(text: string): void {
    this.loads.stop();
    this.key = undefined;
    this.fillPicker();
    for (const p of this.plots) p.destroy();
    this.plots = [];
    replace(this.box, h('p', { class: 'empty' }, text, ' Pick another device above.'));
  }

  /** The shown devices, plus the chosen one even when hidden; a blank entry while none is chosen. */
  private fillPicker(): void {
    const devices = store.visible().map((d) => d.name);
    if (this.key && !devices.includes(this.device)) devices.push(this.device);
    const choosing = !this.key;
    replace(
      this.picker,
      choosing && h('option', { value: '', selected: true, disabled: true }, store.loaded ? 'Choose a device' : 'Loading devices…'),
      devices.map((name) => h('option', { value: name, selected: !choosing && name === this.device }, name)),
    );
  }

  private drawRanges(): void {
    replace(
      this.ranges,
      RANGES.map(([label, ms]) =>
        h('button', { type: 'button', 'aria-pressed': String(ms === this.rangeMs), onclick: () => this.setRange(ms) }, label),
      ),
    );
  }

  private choose(name: string): void {
    this.device = name;
    this.key = store.byName(name)?.key;
    this.fillPicker();
    history.replaceState(null, '', `#/history/${encodeURIComponent(name)}`);
    void this.load();
  }

  private setRange(ms: number): void {
    this.rangeMs = ms;
    this.drawRanges();
    void this.load();
  }

  private async load(): Promise<void> {
    const box = this.box;
    if (!this.root || !this.device || (store.loaded && !this.key)) return;
    const signal = this.loads.start();
    if (this.plots.length === 0) replace(box, h('p', { class: 'empty' }, 'Loading…'));
    const to = Date.now();
    const id = encodeURIComponent(this.device);
    let readings: ReadingHistory;
    let energy: EnergyHistory | undefined;
    try {
      readings = await get<ReadingHistory>(`api/devices/${id}/readings?from=${to - this.rangeMs}&to=${to}`, signal);
      energy = await get<EnergyHistory>(`api/devices/${id}/energy?period=day`, signal).catch(() => undefined);
    } catch (error) {
      if (!signal.aborted) replace(box, h('p', { class: 'empty' }, (error as ApiError).message));
      return;
    }
    if (signal.aborted) return;
    for (const p of this.plots) p.destroy();
    this.plots = [];
    const panels = [
      h('div', { class: 'chart' }),
      h('div', { class: 'chart' }),
      h('div', { class: 'chart' }),
      h('div', { class: 'chart' }),
      h('div', { class: 'chart' }),
    ];
    const source = h(
      'p',
      { class: 'tier', 'data-tier': readings.tier },
      `${duration(readings.bucket_ms)} buckets from the ${TIER_NAMES[readings.tier]}`,
    );
    replace(box, [source, ...panels]);
    const width = Math.max(200, panels[0].clientWidth - 20);
    const charts: [string, string, string, Quantity][] = [
      ['Power', 'W', css('--warn'), 'power'],
      ['Humidity', '%RH', css('--accent'), 'humidity'],
      ['Temperature', '°C', css('--danger'), 'temperature'],
      ['Voltage', 'V', css('--on'), 'voltage'],
    ];
    charts.forEach(([title, unit, colour, q], i) => {
      const p = bandChart(title, unit, colour, series(readings, q), width, [(to - this.rangeMs) / 1000, to / 1000]);
      panels[i].append(p.root);
      this.plots.push(p);
    });
    if (energy) {
      const p = energyChart(energy, width);
      panels[4].append(p.root);
      this.plots.push(p);
    } else panels[4].remove();
    this.observer?.disconnect();
    this.observer?.observe(box);
  }

  private resize(): void {
    for (const p of this.plots) {
      const width = Math.max(200, (p.root.parentElement?.clientWidth ?? 300) - 20);
      if (Math.abs(p.width - width) > 2) p.setSize({ width, height: 170 });
    }
  }
}

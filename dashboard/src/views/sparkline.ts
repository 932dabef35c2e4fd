/** A card's small power chart: the last few minutes from the live stream, drawn with uPlot. */
import uPlot from 'uplot';
import { h } from '../dom.js';
import { TRAIL_MS } from '../power-trail.js';

const HEIGHT = 34;
const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

const MIN_SPAN_S = 10;

function xRange(xs: ArrayLike<number>): [number, number] {
  const now = xs[xs.length - 1];
  const span = Math.min(TRAIL_MS / 1000, Math.max(MIN_SPAN_S, now - xs[0]));
  return [now - span, now];
}

export class Sparkline {
  readonly el = h('div', { class: 'spark', role: 'img' });
  private plot: uPlot | undefined;

  /** Draws `data` (seconds, watts); created on first use, when the card has a width. */
  draw(data: [number[], number[]] | undefined): void {
    const minutes = Math.round(TRAIL_MS / 60_000);
    this.el.setAttribute(
      'aria-label',
      data
        ? `power over the last ${minutes} minutes, ${Math.round(Math.min(...data[1]))} to ${Math.round(Math.max(...data[1]))} W`
        : 'power: no readings yet',
    );
    if (!data) return;
    const width = this.el.clientWidth;
    if (width === 0) return;
    if (!this.plot) this.plot = this.create(width, data);
    else {
      if (Math.abs(this.plot.width - width) > 2) this.plot.setSize({ width, height: HEIGHT });
      this.plot.setData(data);
    }
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = undefined;
  }

  private create(width: number, data: [number[], number[]]): uPlot {
    const colour = css('--accent');
    return new uPlot(
      {
        width,
        height: HEIGHT,
        pxAlign: false,
        cursor: { show: false },
        legend: { show: false },
        select: { show: false, left: 0, top: 0, width: 0, height: 0 },
        padding: [2, 0, 2, 0],
        axes: [{ show: false }, { show: false }],
        scales: {
          // Ending now; the whole window once the page has been open that long, until then what it has
          // (at least 10 s), so a fresh page does not squeeze its first seconds into a corner.
          x: { time: false, range: (u) => xRange(u.data[0]) },
          // From zero, so a socket drawing little does not look busy.
          y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] },
        },
        series: [
          {},
          { stroke: colour, width: 1.5, fill: `${colour}26`, points: { show: false }, paths: uPlot.paths.stepped!({ align: 1 }) },
        ],
      },
      data,
      this.el,
    );
  }
}

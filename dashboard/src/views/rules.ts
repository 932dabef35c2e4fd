/** Rules: list and editor (filled in below). */
import type { View } from '../ui.js';
import { h, replace } from '../dom.js';

export class RulesView implements View {
  mount(root: HTMLElement): void {
    replace(root, h('p', { class: 'empty' }, 'Loading rules…'));
  }
  unmount(): void {}
}

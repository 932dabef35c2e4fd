/** Rules: the list in evaluation order, enable/disable, edit, delete, new. */
import { api, get, Latest, type ApiError } from '../api.js';
import { h, replace, timeText } from '../dom.js';
import { canChange, notAvailable, toast, whyDisabled, type View } from '../ui.js';
import { openRuleEditor } from './rule-editor.js';
import { describe, type Rule } from './rule-types.js';

export class RulesView implements View {
  private root: HTMLElement | undefined;
  /** The rules as last loaded, drawn again when the access or the link changes. */
  private rules: Rule[] | undefined;
  /** Two quick changes each load the list: the older list arriving last must not undo the newer. */
  private readonly loads = new Latest();

  mount(root: HTMLElement): void {
    this.root = root;
    replace(root, h('p', { class: 'empty' }, 'Loading rules…'));
    void this.load();
  }

  unmount(): void {
    this.root = undefined;
    this.loads.stop();
  }

  /** Unlocked, locked, or the gateway came and went: the controls follow. */
  refresh(): void {
    this.render();
  }

  private async load(): Promise<void> {
    // A change answered after the view was left: nothing to show it on.
    if (!this.root) return;
    const signal = this.loads.start();
    try {
      this.rules = await get<Rule[]>('api/rules', signal);
    } catch (error) {
      if (signal.aborted) return;
      const e = error as ApiError;
      if (this.root) replace(this.root, e.status === 404 ? notAvailable('Rules', 'GET /api/rules') : h('p', { class: 'empty' }, e.message));
      return;
    }
    this.render();
  }

  private render(): void {
    const rules = this.rules;
    if (!this.root || !rules) return;
    const locked = !canChange();
    const add = h(
      'button',
      {
        class: 'button primary',
        type: 'button',
        disabled: locked,
        title: whyDisabled(),
        onclick: () => openRuleEditor(undefined, () => this.load()),
      },
      'New rule',
    );
    replace(
      this.root,
      h('div', { class: 'toolbar' }, add),
      rules.length === 0
        ? h(
            'p',
            { class: 'empty' },
            'No rules yet. A rule switches a socket (or publishes to MQTT) when a reading crosses a value, or at a time of day.',
          )
        : h(
            'div',
            { class: 'list' },
            [...rules].sort((a, b) => a.position - b.position).map((r) => this.row(r, locked)),
          ),
    );
  }

  private row(rule: Rule, locked: boolean): HTMLElement {
    const enabled = h(
      'button',
      {
        disabled: locked,
        class: 'toggle',
        type: 'button',
        role: 'switch',
        'aria-checked': String(rule.enabled),
        'aria-label': `rule ${rule.name} enabled`,
        onclick: () => this.save({ ...rule, enabled: !rule.enabled }),
      },
      rule.enabled ? 'ON' : 'OFF',
    );
    enabled.classList.add('small');
    const remove = h('button', { class: 'button', type: 'button', disabled: locked, onclick: () => this.remove(rule, remove) }, 'Delete');
    const fired =
      rule.fire_count > 0 ? `fired ${rule.fire_count}×, last ${rule.last_fired ? timeText(rule.last_fired) : '–'}` : 'not fired yet';
    return h(
      'div',
      { class: 'row rule', dataset: { rule: String(rule.id) } },
      enabled,
      h(
        'div',
        { class: 'grow' },
        h('div', {}, h('b', {}, rule.name)),
        h('div', { class: 'sub' }, describe(rule)),
        h('div', { class: 'sub' }, fired),
        rule.problem && h('div', { class: 'message' }, rule.problem),
      ),
      h('button', { class: 'button', type: 'button', disabled: locked, onclick: () => openRuleEditor(rule, () => this.load()) }, 'Edit'),
      remove,
    );
  }

  private async save(rule: Rule): Promise<void> {
    try {
      await api('PUT', `api/rules/${rule.id}`, rule);
    } catch (error) {
      toast((error as Error).message, 'error');
    }
    await this.load();
  }

  /** Two taps to delete (no browser pop-up on a kiosk). */
  private async remove(rule: Rule, button: HTMLButtonElement): Promise<void> {
    if (button.dataset.armed !== 'yes') {
      button.dataset.armed = 'yes';
      button.textContent = 'Tap again to delete';
      button.classList.add('danger');
      setTimeout(() => {
        button.dataset.armed = '';
        button.textContent = 'Delete';
        button.classList.remove('danger');
      }, 4000);
      return;
    }
    try {
      await api('DELETE', `api/rules/${rule.id}`);
    } catch (error) {
      toast((error as Error).message, 'error');
    }
    await this.load();
  }
}

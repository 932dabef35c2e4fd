/** The rule editor: a dialog with a trigger (a reading or a time), an optional window and days, and an action. */
import { api } from '../api.js';
import { h } from '../dom.js';
import { store } from '../store.js';
import { RELATIONS, RULE_QUANTITIES, WEEK } from '../../../src/contracts/vocabulary.js';
import type { Action, Rule, RuleInput } from './rule-types.js';

const options = (values: readonly string[], selected: string | undefined) =>
  values.map((v) => h('option', { value: v, selected: v === selected }, v));
const field = (label: string, control: HTMLElement) => h('label', { class: 'field' }, label, control);

/** Opens the editor; `saved` runs after the gateway accepted the rule. */
export function openRuleEditor(rule: Rule | undefined, saved: () => void): void {
  const devices = store.visible().map((d) => d.name);
  const when = rule?.when;
  const then = rule?.then ?? { action: 'switch', device: devices[0] ?? '', state: 'off' };

  const name = h('input', {
    type: 'text',
    value: rule?.name ?? '',
    required: true,
    maxLength: 100,
    placeholder: 'e.g. bathroom fan off when dry',
  });
  const enabled = h('input', { type: 'checkbox', checked: rule?.enabled ?? true });
  const trigger = h(
    'select',
    { 'aria-label': 'trigger' },
    h('option', { value: 'when', selected: !rule?.at }, 'When a reading…'),
    h('option', { value: 'at', selected: !!rule?.at }, 'At a time of day'),
  );
  const device = h('select', { 'aria-label': 'condition device' }, options(devices, when?.device));
  const quantity = h('select', { 'aria-label': 'quantity' }, options(RULE_QUANTITIES, when?.quantity ?? 'power'));
  const relation = h('select', { 'aria-label': 'relation' }, options(RELATIONS, when?.relation ?? '>'));
  const value = h('input', {
    type: 'text',
    inputMode: 'decimal',
    value: when ? String(when.value) : '',
    'aria-label': 'value',
    placeholder: 'number, or ON / OFF for state',
  });
  const forS = h('input', {
    type: 'number',
    min: 0,
    max: 86400,
    value: when?.for_s ? String(when.for_s) : '',
    'aria-label': 'for seconds',
    placeholder: '0',
  });
  const at = h('input', { type: 'time', value: rule?.at ?? '07:00', 'aria-label': 'time' });
  const windowOn = h('input', { type: 'checkbox', checked: !!rule?.between });
  const from = h('input', { type: 'time', value: rule?.between?.from ?? '22:00', 'aria-label': 'from' });
  const to = h('input', { type: 'time', value: rule?.between?.to ?? '06:00', 'aria-label': 'to' });
  const dayButtons = WEEK.map((d) =>
    h(
      'button',
      {
        type: 'button',
        'aria-pressed': String(!rule?.days || rule.days.includes(d)),
        onclick: (e: Event) => flip(e.currentTarget as HTMLButtonElement),
      },
      d,
    ),
  );
  const action = h('select', { 'aria-label': 'action' }, options(['switch', 'publish', 'event'], then.action));
  const target = h('select', { 'aria-label': 'action device' }, options(devices, then.action === 'switch' ? then.device : undefined));
  const state = h('select', { 'aria-label': 'switch to' }, options(['on', 'off', 'toggle'], then.action === 'switch' ? then.state : 'off'));
  const topic = h('input', {
    type: 'text',
    value: then.action === 'publish' ? then.topic : '',
    placeholder: 'home/fan/set',
    'aria-label': 'topic',
  });
  const payload = h('input', {
    type: 'text',
    value: then.action === 'publish' ? then.payload : '',
    placeholder: 'ON',
    'aria-label': 'payload',
  });
  const message = h('input', { type: 'text', value: then.action === 'event' ? then.message : '', maxLength: 500, 'aria-label': 'message' });
  const problem = h('p', { class: 'message', role: 'alert' });

  const whenPart = h(
    'div',
    { class: 'grid-2' },
    field('Device', device),
    field('Reading', quantity),
    field('Is', relation),
    field('Value', value),
    field('For at least (s)', forS),
  );
  const atPart = h('div', { class: 'grid-2' }, field('Time', at));
  const windowPart = h('div', { class: 'grid-2' }, field('From', from), field('To', to));
  const switchPart = h('div', { class: 'grid-2' }, field('Device', target), field('Switch', state));
  const publishPart = h('div', { class: 'grid-2' }, field('MQTT topic', topic), field('Payload', payload));
  const eventPart = h('div', {}, field('Event-log message', message));
  const sync = () => {
    whenPart.hidden = trigger.value !== 'when';
    atPart.hidden = trigger.value !== 'at';
    windowPart.hidden = !windowOn.checked;
    switchPart.hidden = action.value !== 'switch';
    publishPart.hidden = action.value !== 'publish';
    eventPart.hidden = action.value !== 'event';
  };
  for (const el of [trigger, windowOn, action]) el.addEventListener('change', sync);
  sync();

  const dialog = h('dialog', { 'aria-label': rule ? `edit rule ${rule.name}` : 'new rule' });
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  const build = (): RuleInput => {
    const days = WEEK.filter((_, i) => dayButtons[i].getAttribute('aria-pressed') === 'true');
    const raw = value.value.trim().toUpperCase();
    const act: Action =
      action.value === 'switch'
        ? { action: 'switch', device: target.value, state: state.value as 'on' | 'off' | 'toggle' }
        : action.value === 'publish'
          ? { action: 'publish', topic: topic.value.trim(), payload: payload.value }
          : { action: 'event', message: message.value.trim() };
    return {
      name: name.value.trim(),
      enabled: enabled.checked,
      when:
        trigger.value === 'when'
          ? {
              device: device.value,
              quantity: quantity.value as (typeof RULE_QUANTITIES)[number],
              relation: relation.value as (typeof RELATIONS)[number],
              value: raw === 'ON' || raw === 'OFF' ? raw : Number(value.value),
              ...(forS.value ? { for_s: Number(forS.value) } : {}),
            }
          : null,
      at: trigger.value === 'at' ? at.value : null,
      between: windowOn.checked ? { from: from.value, to: to.value } : null,
      // All seven days is the same as no restriction.
      days: days.length === WEEK.length ? null : days,
      then: act,
    };
  };
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      await api(rule ? 'PUT' : 'POST', rule ? `api/rules/${rule.id}` : 'api/rules', build());
      close();
      saved();
    } catch (error) {
      problem.textContent = (error as Error).message;
    }
  };
  dialog.append(
    h(
      'form',
      { onsubmit: save },
      h('h2', {}, rule ? 'Edit rule' : 'New rule'),
      field('Name', name),
      field('Trigger', trigger),
      whenPart,
      atPart,
      h('label', { class: 'check' }, windowOn, 'Only between two times'),
      windowPart,
      h('div', { class: 'segmented', role: 'group', 'aria-label': 'days' }, dayButtons),
      field('Then', action),
      switchPart,
      publishPart,
      eventPart,
      h('label', { class: 'check' }, enabled, 'Enabled'),
      problem,
      h(
        'div',
        { class: 'dialog-actions' },
        h('button', { class: 'button', type: 'button', onclick: close }, 'Cancel'),
        h('button', { class: 'button primary', type: 'submit' }, 'Save'),
      ),
    ),
  );
  dialog.addEventListener('cancel', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

function flip(button: HTMLButtonElement): void {
  button.setAttribute('aria-pressed', String(button.getAttribute('aria-pressed') !== 'true'));
}

/** A device's own settings: name, room, hidden, identify, and a way to its history. */
import type { DeviceView } from '../../../src/contracts/device.js';
import { api } from '../api.js';
import { h } from '../dom.js';
import { store } from '../store.js';
import { canChange, toast, whyDisabled } from '../ui.js';

export function openDeviceDialog(device: DeviceView): void {
  const name = h('input', { type: 'text', value: device.name, required: true, maxLength: 64, autocomplete: 'off' });
  const room = h('input', {
    type: 'text',
    value: typeof device.settings.room === 'string' ? device.settings.room : '',
    maxLength: 64,
    placeholder: 'e.g. bathroom',
  });
  const hidden = h('input', { type: 'checkbox', checked: device.settings.hidden === true });
  // Read-only (no token) or no gateway: the settings show, the History link works, nothing can be saved.
  const locked = !canChange();
  for (const input of [name, room, hidden]) input.disabled = locked;
  const message = h('p', { class: locked ? 'note' : 'message', role: 'alert' }, locked && `Shown only: ${whyDisabled()}.`);
  const dialog = h('dialog', { 'aria-label': `${device.name} settings` });
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const body: { name?: string; settings: Record<string, unknown> } = { settings: { room: room.value.trim(), hidden: hidden.checked } };
    if (name.value.trim() !== device.name) body.name = name.value.trim();
    try {
      store.update(await api<DeviceView>('PATCH', `api/devices/${encodeURIComponent(device.name)}`, body));
      close();
    } catch (error) {
      message.textContent = (error as Error).message;
    }
  };
  const identify = async () => {
    try {
      await api('POST', `api/devices/${encodeURIComponent(device.name)}/identify?seconds=10`);
      toast(`${device.name} blinks its LED for 10 s`);
    } catch (error) {
      message.textContent = (error as Error).message;
    }
  };
  dialog.append(
    h(
      'form',
      { onsubmit: save },
      h('h2', {}, device.name),
      h('p', { class: 'room' }, `${device.model} · ${device.key}${device.state.firmware ? ` · firmware ${device.state.firmware}` : ''}`),
      h('div', { class: 'grid-2' }, h('label', { class: 'field' }, 'Name', name), h('label', { class: 'field' }, 'Room', room)),
      h('label', { class: 'check' }, hidden, 'Hide from the dashboard'),
      message,
      h(
        'div',
        { class: 'dialog-actions' },
        device.kind === 'can' && h('button', { class: 'button', type: 'button', onclick: identify, disabled: locked }, 'Identify'),
        h('a', { class: 'button as-link', href: `#/history/${encodeURIComponent(device.name)}`, onclick: close }, 'History'),
        h('button', { class: 'button', type: 'button', onclick: close }, 'Cancel'),
        h('button', { class: 'button primary', type: 'submit', disabled: locked }, 'Save'),
      ),
    ),
  );
  dialog.addEventListener('cancel', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

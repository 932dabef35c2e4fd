/**
 * Asks for the API token when the gateway wants one, and says where to find it. `unlocking`: the user
 * asked (the Unlock button of the read-only page), so the dialog can be closed without a token.
 */
import { get } from './api.js';
import { h } from './dom.js';
import { getToken, setToken } from './token.js';

let open = false;

export async function askForToken(reason: string, done: () => void, unlocking = false): Promise<void> {
  if (open) return;
  open = true;
  let where = 'the token file named in the gateway log at start-up (by default "token" next to the database)';
  try {
    const config = await get<{ auth: { token_file: string | null } }>('api/config');
    if (config.auth.token_file) where = `the file ${config.auth.token_file} on the gateway`;
  } catch {
    // read protection is on: the generic hint will do
  }
  const input = h('input', {
    type: 'password',
    required: true,
    autocomplete: 'off',
    spellcheck: false,
    'aria-label': 'API token',
    placeholder: 'paste the token',
  });
  const dialog = h('dialog', { 'aria-label': 'API token' });
  const close = () => {
    open = false;
    dialog.close();
    dialog.remove();
  };
  dialog.append(
    h(
      'form',
      {
        onsubmit: (e: Event) => {
          e.preventDefault();
          setToken(input.value);
          close();
          done();
        },
      },
      h('h2', {}, unlocking ? 'Unlock switching with the API token' : 'This gateway needs its API token'),
      // On a first visit the reason is just "no token"; once one was given, say what was wrong with it.
      getToken() && h('p', { class: 'message' }, reason),
      h(
        'p',
        {},
        'The token is in ',
        h('code', {}, where),
        '. Paste it here once; this browser keeps it. For a kiosk, open the dashboard at ',
        h('code', {}, `${location.origin}${location.pathname}#token=<token>`),
        '.',
      ),
      input,
      h(
        'div',
        { class: 'dialog-actions' },
        getToken() &&
          h(
            'button',
            {
              class: 'button',
              type: 'button',
              onclick: () => {
                setToken('');
                close();
                done();
              },
            },
            'Forget the token',
          ),
        unlocking && h('button', { class: 'button', type: 'button', onclick: close }, 'Cancel'),
        h('button', { class: 'button primary', type: 'submit' }, 'Save'),
      ),
    ),
  );
  // Escape closes it only when there is something to go back to (the read-only page).
  dialog.addEventListener('cancel', (e) => (unlocking ? close() : e.preventDefault()));
  document.body.append(dialog);
  dialog.showModal();
  input.focus();
}

/** Dark or light: follows the system unless the user picked one (kept in localStorage). */
import { icon } from './icons.js';

const KEY = 'canplug.theme';
type Theme = 'auto' | 'dark' | 'light';
const NEXT: Record<Theme, Theme> = { auto: 'dark', dark: 'light', light: 'auto' };

function stored(): Theme {
  try {
    const t = localStorage.getItem(KEY);
    return t === 'dark' || t === 'light' ? t : 'auto';
  } catch {
    return 'auto';
  }
}

function apply(theme: Theme, button: HTMLButtonElement): void {
  if (theme === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  button.replaceChildren(icon(theme));
  button.title = `colour theme: ${theme === 'auto' ? 'as the system' : theme}`;
  button.setAttribute('aria-label', button.title);
}

/** Wires the theme button; `changed` runs after each switch (charts pick their colours up again). */
export function setUpTheme(button: HTMLButtonElement, changed: () => void): void {
  let theme = stored();
  apply(theme, button);
  button.addEventListener('click', () => {
    theme = NEXT[theme];
    try {
      localStorage.setItem(KEY, theme);
    } catch {
      // no storage: the choice lasts for this page
    }
    apply(theme, button);
    changed();
  });
  matchMedia('(prefers-color-scheme: light)').addEventListener('change', changed);
}

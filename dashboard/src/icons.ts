/** Icons from Lucide (ISC), imported one by one so the bundle carries only these. */
import { ChartLine, createElement, Lock, LockOpen, Moon, Plug, ScrollText, Sun, SunMoon, Workflow, type IconNode } from 'lucide';

export const ICONS = {
  devices: Plug,
  history: ChartLine,
  events: ScrollText,
  rules: Workflow,
  lock: Lock,
  unlocked: LockOpen,
  auto: SunMoon,
  dark: Moon,
  light: Sun,
} satisfies Record<string, IconNode>;

/** An inline SVG icon that takes the text colour; decorative (the control around it carries the label). */
export function icon(name: keyof typeof ICONS, size = 22): SVGElement {
  return createElement(ICONS[name], { width: size, height: size, 'aria-hidden': 'true', class: 'icon' });
}

/** The rule format of /api/rules (docs/rules.md), as the dashboard reads and writes it. */
export const RELATIONS = ['=', '!=', '>', '<', '<=', '>=', 'changes to'] as const;
export const QUANTITIES = ['power', 'current', 'voltage', 'energy', 'humidity', 'temperature', 'state'] as const;
export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export const UNITS: Record<string, string> = { power: 'W', current: 'A', voltage: 'V', energy: 'kWh', humidity: '%RH', temperature: '°C', state: '' };

export interface Condition {
  device: string;
  quantity: (typeof QUANTITIES)[number];
  relation: (typeof RELATIONS)[number];
  value: number | 'ON' | 'OFF';
  for_s?: number;
}

export type Action =
  | { action: 'switch'; device: string; state: 'on' | 'off' | 'toggle' }
  | { action: 'publish'; topic: string; payload: string; retain?: boolean }
  | { action: 'event'; message: string };

export interface Rule {
  id: number;
  name: string;
  enabled: boolean;
  position: number;
  when: Condition | null;
  at: string | null;
  between: { from: string; to: string } | null;
  days: (typeof DAYS)[number][] | null;
  then: Action;
  last_fired: string | null;
  fire_count: number;
  problem?: string | null;
}

export type RuleInput = Omit<Rule, 'id' | 'position' | 'last_fired' | 'fire_count' | 'problem'> & { position?: number };

/** The rule in one line, the way a person would say it. */
export function describe(rule: Rule | RuleInput): string {
  const parts: string[] = [];
  if (rule.when) {
    const w = rule.when;
    const unit = UNITS[w.quantity] ? ` ${UNITS[w.quantity]}` : '';
    parts.push(`when ${w.device} ${w.quantity} ${w.relation} ${w.value}${typeof w.value === 'number' ? unit : ''}${w.for_s ? ` for ${w.for_s} s` : ''}`);
  }
  if (rule.at) parts.push(`at ${rule.at}`);
  if (rule.between) parts.push(`between ${rule.between.from} and ${rule.between.to}`);
  if (rule.days) parts.push(`on ${rule.days.join(', ')}`);
  const t = rule.then;
  parts.push(
    t.action === 'switch' ? `switch ${t.device} ${t.state}` : t.action === 'publish' ? `publish to ${t.topic}` : `log "${t.message}"`,
  );
  return parts.join(' · ');
}

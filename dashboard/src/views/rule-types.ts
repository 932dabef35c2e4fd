/** The rule format of /api/rules (docs/rules.md): the gateway's own schema and vocabulary. */
import type { RuleInput as GatewayRuleInput, RuleView } from '../../../src/contracts/rules.js';
import { UNITS } from '../../../src/contracts/vocabulary.js';

export type Rule = RuleView;
export type Action = RuleView['then'];
/** What the editor sends: the read-only fields of a rule are left out. */
export type RuleInput = Omit<GatewayRuleInput, 'id' | 'last_fired' | 'fire_count' | 'problem'>;

/** The rule in one line, the way a person would say it. */
export function describe(rule: Rule | RuleInput): string {
  const parts: string[] = [];
  if (rule.when) {
    const w = rule.when;
    const unit = w.quantity !== 'state' ? ` ${UNITS[w.quantity]}` : '';
    parts.push(
      `when ${w.device} ${w.quantity} ${w.relation} ${w.value}${typeof w.value === 'number' ? unit : ''}${w.for_s ? ` for ${w.for_s} s` : ''}`,
    );
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

// The robustness figures of a test run: each fuzz and fault test appends one JSON line to
// test-artifacts/figures.jsonl (test/helpers/figures.ts); scripts/test.mjs prints them as one table.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIGURES_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-artifacts', 'figures.jsonl');

const KINDS = { fuzz: 'Bad input (cases tried, crashes)', fault: 'Faults (survived, readings lost)', security: 'Security checks (cases)' };

/** The figures as a plain-text table, grouped by kind, with totals. */
export function figuresTable(jsonl) {
  const rows = jsonl
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line))
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  if (rows.length === 0) return '';
  const out = ['', '== canplug robustness figures =='];
  for (const [kind, title] of Object.entries(KINDS)) {
    const group = rows.filter((r) => r.kind === kind);
    if (group.length === 0) continue;
    out.push('', title);
    const width = Math.max(...group.map((r) => r.name.length));
    for (const r of group) {
      const cells = [];
      if (r.cases !== undefined) cells.push(`${r.cases} cases`);
      if (r.crashes !== undefined) cells.push(`${r.crashes} crashes`);
      if (r.survived !== undefined) cells.push(`survived: ${r.survived}`);
      if (r.lost !== undefined) cells.push(`${r.lost} readings lost`);
      if (r.note) cells.push(r.note);
      out.push(`  ${r.name.padEnd(width)}  ${cells.join(' | ')}`);
    }
    const cases = group.reduce((n, r) => n + (r.cases ?? 0), 0);
    const lost = group.reduce((n, r) => n + (r.lost ?? 0), 0);
    if (kind === 'fuzz') out.push(`  total: ${cases} cases, ${group.reduce((n, r) => n + (r.crashes ?? 0), 0)} crashes`);
    if (kind === 'fault') out.push(`  total: ${group.length} faults survived, ${lost} readings lost`);
    if (kind === 'security') out.push(`  total: ${cases} cases`);
  }
  return `${out.join('\n')}\n\n`;
}

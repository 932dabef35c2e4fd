/** Renders the configuration reference (docs/configuration.md) from the schema, so it cannot drift. */
import { Kind, type TSchema } from '@sinclair/typebox';
import { ConfigSchema, envName } from './config.js';

function typeOf(schema: TSchema): string {
  if (schema.anyOf) return schema.anyOf.map((s: TSchema) => JSON.stringify(s.const)).join(' \\| ');
  const kind = schema[Kind] as string;
  const range = schema.minimum !== undefined && schema.maximum !== undefined ? ` ${schema.minimum}..${schema.maximum}` : '';
  if (kind === 'Array') return `list of ${typeOf(schema.items)}`;
  return `${kind.toLowerCase()}${range}`;
}

export function renderConfigDoc(): string {
  const lines = [
    '# Configuration reference',
    '',
    'Generated from the schema in `src/config/schema.ts` by `npm run docs:config`; a test keeps it current.',
    '',
    'The file is YAML, read from `--config`, `CANPLUG_CONFIG`, or `./canplug.yaml` when present; without one the',
    'built-in defaults below run the demo. Every key can be overridden by the environment variable shown',
    '(lists as comma-separated values). Unknown keys and bad values stop the daemon with one line per problem;',
    '`canplug config check <file>` prints them without starting anything.',
    '',
  ];
  const walk = (schema: TSchema, path: string[]) => {
    const rows: string[] = [];
    const children: [TSchema, string[]][] = [];
    for (const [key, sub] of Object.entries(schema.properties as Record<string, TSchema>)) {
      const here = [...path, key];
      if (sub[Kind] === 'Object') {
        children.push([sub, here]);
        continue;
      }
      const def = sub.default === undefined ? '' : `\`${JSON.stringify(sub.default)}\``;
      rows.push(`| \`${here.slice(1).join('.')}\` | ${typeOf(sub)} | ${def} | \`${envName(here)}\` | ${sub.description ?? ''} |`);
    }
    if (rows.length > 0) {
      lines.push(`## ${path.join('.')}`, '', '| key | type | default | environment | notes |', '|---|---|---|---|---|', ...rows, '');
    }
    for (const [sub, here] of children) walk(sub, here);
  };
  for (const [section, schema] of Object.entries(ConfigSchema.properties) as [string, TSchema][]) walk(schema, [section]);
  return lines.join('\n');
}

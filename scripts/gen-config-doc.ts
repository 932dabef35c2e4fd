// Rewrites docs/configuration.md from the config schema (npm run docs:config).
import { writeFileSync } from 'node:fs';
import { renderConfigDoc } from '../src/config/config-doc.js';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigDoc());

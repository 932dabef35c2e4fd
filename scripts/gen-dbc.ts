// Rewrites firmware/canplug.dbc from the protocol constants (npm run dbc).
import { writeFileSync } from 'node:fs';
import { generateDbc } from '../src/can/dbc.js';

writeFileSync(new URL('../firmware/canplug.dbc', import.meta.url), generateDbc());

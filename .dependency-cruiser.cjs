// The layering of src/ (docs/architecture.md), checked by `npm run lint:layers` in CI. Imports point
// one way, type-only imports included:
//   cli -> daemon -> adapters (api, mqtt, db, wifi) -> gateway -> can -> config, contracts, base files
// The dashboard (a separate browser build) may use src/contracts only.
const ADAPTERS = ['api', 'mqtt', 'db', 'wifi'];
/** The files at the top of src/ that everything may use: logging, the version, worker start-up, secret comparison. */
const BASE = '^src/(log|version|worker-thread|tokens-equal)\\.ts$';

const adapterRules = ADAPTERS.map((adapter) => ({
  name: `${adapter}-not-into-other-adapters`,
  comment: `src/${adapter} is an adapter: it depends on the gateway (and below), never on another adapter, the daemon or the CLI`,
  severity: 'error',
  from: { path: `^src/${adapter}/` },
  to: { path: `^src/(${ADAPTERS.filter((a) => a !== adapter).join('|')}|daemon|cli)/|^src/cli\\.ts$` },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'files that import each other (type imports included) cannot be understood, tested or moved one at a time',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'daemon-only-from-cli',
      comment: 'src/daemon is the composition root: only the command line (canplug run) starts it',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(daemon|cli)/' },
      to: { path: '^src/daemon/' },
    },
    {
      name: 'cli-is-the-top',
      comment: 'nothing in src imports the command line',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/|^src/cli\\.ts$' },
      to: { path: '^src/cli/|^src/cli\\.ts$' },
    },
    ...adapterRules,
    {
      name: 'gateway-below-adapters',
      comment: 'src/gateway is the domain: the adapters depend on it, it defines ports (storage.ts) instead of importing them',
      severity: 'error',
      from: { path: '^src/gateway/' },
      to: { path: `^src/(${ADAPTERS.join('|')}|daemon|cli)/` },
    },
    {
      name: 'can-below-gateway',
      comment: 'src/can turns frames into typed messages; it knows nothing of devices, the gateway or its interfaces',
      severity: 'error',
      from: { path: '^src/can/' },
      to: { path: `^src/(gateway|${ADAPTERS.join('|')}|daemon|cli)/` },
    },
    {
      name: 'config-at-the-bottom',
      comment: 'the config schema is read by every layer and reads none',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/config/' },
    },
    {
      name: 'contracts-at-the-bottom',
      comment: 'src/contracts holds the schemas the interfaces and the dashboard share; it depends on nothing in src',
      severity: 'error',
      from: { path: '^src/contracts/' },
      to: { path: '^src/', pathNot: '^src/contracts/' },
    },
    {
      name: 'base-files-at-the-bottom',
      comment: 'the shared files at the top of src/ import no folder of src',
      severity: 'error',
      from: { path: BASE },
      to: { path: '^src/[^/]+/' },
    },
    {
      name: 'dashboard-only-contracts',
      comment: 'the dashboard is built for the browser: from src it may take the shared contracts only',
      severity: 'error',
      from: { path: '^dashboard/' },
      to: { path: '^src/', pathNot: '^src/contracts/' },
    },
    {
      name: 'no-tests-in-src',
      comment: 'shipped code does not import test helpers',
      severity: 'error',
      from: { path: '^(src|dashboard)/' },
      to: { path: '^test/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that does not resolve would fail at run time',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are dependencies too: a type import back up the layers is still a cycle of knowledge.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};

// The identity of the TypeScript sources: a hash of every file under src/ (path and content). dist/
// records the hash it was built from, so bin/canplug.js runs the compiled code only when it matches.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export function sourceHash(dir = join(ROOT, 'src')) {
  const hash = createHash('sha256');
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(`${path.slice(dir.length)}\0`).update(readFileSync(path));
    }
  };
  walk(dir);
  return hash.digest('hex');
}

/** True when <root>/dist holds a build of exactly the sources in <root>/src. */
export function distIsFresh(root = ROOT) {
  try {
    const built = JSON.parse(readFileSync(join(root, 'dist', 'build.json'), 'utf8'));
    return built.sourceHash === sourceHash(join(root, 'src'));
  } catch {
    return false;
  }
}

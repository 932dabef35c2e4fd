/** Starting a module of this package as a worker thread, from dist/ (JavaScript) or from the TypeScript sources. */
import { Worker } from 'node:worker_threads';

/**
 * Starts `specifier` (relative to `base`, without extension) in a worker thread: the .js beside a
 * compiled `base`, or the .ts beside a source `base`, which the worker loads through tsx (a loader
 * registered in this thread does not apply to workers).
 */
export function startWorker(specifier: string, base: string, workerData: unknown): Worker {
  const fromSource = base.endsWith('.ts');
  const url = new URL(`${specifier}${fromSource ? '.ts' : '.js'}`, base);
  if (!fromSource) return new Worker(url, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/**
 * The dashboard: the static single-page app built from dashboard/ (npm install builds it into
 * dashboard/dist). @fastify/static resolves paths inside the root only, so ../ cannot leave it.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';

export const BUNDLED_DASHBOARD = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dashboard', 'dist');

export const dashboardRoutes: FastifyPluginAsyncTypebox<{ ctx: ApiContext }> = async (app, { ctx }) => {
  const root = resolve(ctx.http.dashboard_dir || BUNDLED_DASHBOARD);
  if (!existsSync(join(root, 'index.html'))) {
    app.log.warn({ dir: root }, 'the dashboard is not built; run "npm run build:dashboard"');
    app.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send(
          `The dashboard is not built in ${root}: run "npm run build:dashboard" (npm install does it). The API is at /api and its documentation at /docs.\n`,
        ),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root,
    index: 'index.html',
    cacheControl: false,
    // Vite names assets by content hash: cache them for good; index.html must be fresh.
    setHeaders: (res, path) =>
      res.setHeader('cache-control', path.includes(`${join(root, 'assets')}`) ? 'public, max-age=31536000, immutable' : 'no-cache'),
  });
};

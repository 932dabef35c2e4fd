/** One error handler: every 4xx says what was wrong in one sentence; 5xx internals stay in the log. The gateway's errors (src/gateway/errors.ts) get their status codes here. */
import Database from 'better-sqlite3';
import type { FastifyError, FastifyInstance } from 'fastify';
import {
  BusUnavailableError,
  CommandTimeoutError,
  InvalidRequestError,
  NotConfiguredError,
  RefusedError,
  UnavailableError,
} from '../gateway/errors.js';

/** An error whose message is safe and meant for the client. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new HttpError(404, what);

/** SQLite codes that mean "the database cannot take writes now" (disk full, read-only, I/O): a 503, not a bug. */
const UNAVAILABLE_DB = /^SQLITE_(FULL|READONLY|IOERR|BUSY|CANTOPEN|LOCKED)/;

function statusOf(error: Error): number | undefined {
  if (error instanceof HttpError) return error.statusCode;
  if (error instanceof Database.SqliteError && UNAVAILABLE_DB.test(error.code)) return 503;
  if (error instanceof InvalidRequestError) return 400;
  if (error instanceof RefusedError) return 409;
  if (error instanceof UnavailableError) return 409;
  if (error instanceof CommandTimeoutError) return 504;
  if (error instanceof BusUnavailableError) return 503;
  if (error instanceof NotConfiguredError) return 503;
  return undefined;
}

/** Fastify's own 4xx messages, rephrased as one sentence that says what to do. */
const FRIENDLY: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'the request body is larger than the 64 KiB this API accepts',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'the body must be JSON with "content-type: application/json"',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the content-type says JSON but the body is empty; send a JSON body or no content-type',
  FST_ERR_CTP_INVALID_JSON_BODY: 'the body is not valid JSON',
};

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      const first = error.validation[0];
      const where = `${error.validationContext ?? 'request'}${first.instancePath ?? ''}`.replace(/\//g, '.');
      return reply.status(400).send({ error: `${where}: ${first.message}`, statusCode: 400 });
    }
    let friendly = error.code ? FRIENDLY[error.code] : undefined;
    const limit = request.routeOptions.bodyLimit;
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' && limit && limit !== 64 * 1024)
      friendly = `the request body is larger than the ${Math.round(limit / 1024)} KiB this route accepts`;
    if (friendly) return reply.status(error.statusCode ?? 400).send({ error: friendly, statusCode: error.statusCode ?? 400 });
    const status = statusOf(error) ?? (error.statusCode && error.statusCode < 500 ? error.statusCode : 500);
    if (status >= 500 && statusOf(error) === undefined) {
      request.log.error({ err: error }, 'request failed');
      return reply.status(500).send({ error: 'internal error; see the gateway log', statusCode: 500 });
    }
    if (error instanceof Database.SqliteError) {
      return reply.status(status).send({
        error: `the database refuses changes right now (${error.message}); nothing was changed, try again later`,
        statusCode: status,
      });
    }
    return reply.status(status).send({ error: error.message, statusCode: status });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}`, statusCode: 404 }),
  );
}

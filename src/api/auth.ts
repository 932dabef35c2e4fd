/**
 * Bearer-token authentication. Mutating routes always need the token (when auth is on); reading
 * routes need it only with `http.read_protection`. The token is re-read when its file changes,
 * so `canplug token rotate` takes effect without a restart.
 */
import { statSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { HttpError } from './errors.js';
import { tokensEqual } from '../tokens-equal.js';
import { loadOrCreateToken, tokenPath } from './token.js';
import { LIVE_PROTOCOL, type LiveAccess } from '../contracts/live.js';

/** What a route needs: nothing, the token when reads are protected, or always the token. */
export type Access = 'public' | 'read' | 'write';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Overrides the access derived from the method and path (see accessOf). */
    access?: Access;
  }
}

const BEARER_PROTOCOL = 'bearer.';

export class TokenStore {
  private token = '';
  private version = '';
  private warned = false;

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {}

  /** Reads the token, creating the file on first start; returns whether it was created. */
  load(): boolean {
    const { token, created } = loadOrCreateToken(this.path);
    this.token = token;
    this.version = this.fileVersion() ?? '';
    return created;
  }

  /** Constant-time check against the token in force (re-read first if the file changed). */
  matches(given: string): boolean {
    this.refresh();
    return tokensEqual(given, this.token);
  }

  private fileVersion(): string | undefined {
    try {
      const s = statSync(this.path);
      return `${s.ino}:${s.mtimeMs}:${s.size}`;
    } catch {
      return undefined;
    }
  }

  private refresh(): void {
    const version = this.fileVersion();
    if (version === undefined || version === this.version) {
      if (version === undefined && !this.warned) {
        this.warned = true;
        this.log.warn({ path: this.path }, 'the API token file is gone; the token loaded earlier stays in force');
      }
      return;
    }
    try {
      this.token = loadOrCreateToken(this.path).token;
      this.version = version;
      this.warned = false;
      this.log.info({ path: this.path }, 'API token file changed; the new token is in force');
    } catch (error) {
      if (!this.warned) this.log.warn({ err: (error as Error).message }, 'cannot use the changed API token file; the token loaded earlier stays in force');
      this.warned = true;
    }
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The access a route needs unless its config says otherwise: writes always, reads of the API and metrics. */
export function accessOf(method: string, url: string): Access {
  if (MUTATING.has(method)) return 'write';
  if (url.startsWith('/api/') || url === '/metrics') return 'read';
  return 'public';
}

/**
 * The token from `Authorization: Bearer <token>`, or for the live stream (`liveStream`) a
 * `bearer.<token>` subprotocol or `?token=`. Other routes never take it from the URL: a token in a
 * URL ends up in browser history, proxy logs and Referer headers.
 */
export function presentedToken(request: FastifyRequest, liveStream = false): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new HttpError(401, 'the Authorization header must be "Bearer <token>"');
    return match[1];
  }
  if (!liveStream) return undefined;
  const protocols = request.headers['sec-websocket-protocol'];
  if (typeof protocols === 'string') {
    const bearer = protocols.split(',').map((p) => p.trim()).find((p) => p.startsWith(BEARER_PROTOCOL));
    if (bearer) return bearer.slice(BEARER_PROTOCOL.length);
  }
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.token === 'string' ? query.token : undefined;
}

/** Why the request may not pass, in one sentence, or undefined when it may. */
export function authProblem(tokens: TokenStore, request: FastifyRequest, liveStream = false): string | undefined {
  let token: string | undefined;
  try {
    token = presentedToken(request, liveStream);
  } catch (error) {
    return (error as Error).message;
  }
  if (token === undefined) return 'this request needs the API token: send "Authorization: Bearer <token>" (the token file is named in the gateway log at start-up)';
  if (!tokens.matches(token)) return 'the API token is wrong; it may have been rotated (see the token file named in the gateway log at start-up)';
  return undefined;
}

/**
 * What a live-stream client may do, or why it is refused. The stream carries what GET /api/devices
 * and /api/events show, so it follows `read_protection` like them: no token reads, the right token
 * (or auth off) writes. A token that is presented but wrong is refused, so a client learns at once
 * that its token went stale (rotated) instead of silently losing its controls.
 */
export function liveAccess(tokens: TokenStore | undefined, request: FastifyRequest, readProtection: boolean): LiveAccess | { problem: string } {
  if (!tokens) return 'write';
  let presented: string | undefined;
  try {
    presented = presentedToken(request, true);
  } catch (error) {
    return { problem: (error as Error).message };
  }
  if (presented === undefined && !readProtection) return 'read';
  const problem = authProblem(tokens, request, true);
  return problem === undefined ? 'write' : { problem };
}

export interface AuthOptions {
  /** Undefined: auth is off. */
  tokens: TokenStore | undefined;
  readProtection: boolean;
}

/**
 * Adds the check to every route as a route-level hook, so it runs after the rate limiter's
 * (register this after @fastify/rate-limit): failed attempts count towards the limit.
 */
export function registerAuth(app: FastifyInstance, { tokens, readProtection }: AuthOptions): void {
  if (!tokens) return;
  const check: onRequestAsyncHookHandler = async (request, reply) => {
    const problem = authProblem(tokens, request);
    if (problem === undefined) return;
    reply.header('www-authenticate', 'Bearer realm="canplug"');
    throw new HttpError(401, problem);
  };
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const access = route.config?.access ?? (methods.some((m) => MUTATING.has(m)) ? 'write' : accessOf(methods[0], route.url));
    if (access === 'public' || (access === 'read' && !readProtection)) return;
    // Shown in /docs: the lock on the route, and "Authorize" takes the token.
    if (route.schema) route.schema = { ...route.schema, security: [{ bearer: [] }] };
    const existing = route.onRequest;
    route.onRequest = [...(Array.isArray(existing) ? existing : existing ? [existing] : []), check];
  });
}

/** Picks the live stream's subprotocol during the WebSocket handshake (never echoes the token). */
export function selectProtocol(offered: Set<string>): string | false {
  return offered.has(LIVE_PROTOCOL) ? LIVE_PROTOCOL : false;
}

/** The API token in force (created on first start), or undefined when `http.auth` is off. Its path is logged, never the token. */
export function openTokenStore(http: Config['http'], databasePath: string, log: Logger): TokenStore | undefined {
  if (!http.auth) {
    log.warn('http.auth is off: anyone who can reach the API can switch sockets');
    return undefined;
  }
  const tokens = new TokenStore(tokenPath(databasePath, http.token_file), log);
  const created = tokens.load();
  log.info({ token_file: tokens.path, created }, created ? 'API token created' : 'API token loaded');
  return tokens;
}

/**
 * Bearer-token authentication. Mutating routes always need the token (when auth is on); reading
 * routes need it only with `http.read_protection`. The token is re-read when its file changes,
 * so `canplug token rotate` takes effect without a restart.
 */
import { statSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { LogLimiter } from '../log-limiter.js';
import { HttpError } from './errors.js';
import { tokensEqual } from '../tokens-equal.js';
import { loadOrCreateToken, tokenPath } from './token.js';
import { LIVE_PROTOCOL, type LiveAccess } from '../contracts/live.js';

/**
 * What a route needs: nothing, the token when reads are protected, always the token, or always the
 * token checked by the route itself (`stream`: the live stream, after the WebSocket upgrade, so a
 * browser learns why it was refused).
 */
export type Access = 'public' | 'read' | 'write' | 'stream';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Overrides the access derived from the method and path (see accessOf). */
    access?: Access;
    /** Set by registerAuth on every route that checks the token. */
    checksToken?: boolean;
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
      if (!this.warned)
        this.log.warn({ err: (error as Error).message }, 'cannot use the changed API token file; the token loaded earlier stays in force');
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
    const bearer = protocols
      .split(',')
      .map((p) => p.trim())
      .find((p) => p.startsWith(BEARER_PROTOCOL));
    if (bearer) return bearer.slice(BEARER_PROTOCOL.length);
  }
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.token === 'string' ? query.token : undefined;
}

/** The outcome of checking a request's credentials. */
export interface Verdict {
  /** Why the request may not pass, in one sentence; undefined when it may. */
  problem?: string;
  /** A credential was presented and is wrong (a guess, or a stale token), as opposed to none at all. */
  wrong: boolean;
}

/** Checked once per request: the rate limiter asks first, then the route's own check. */
const verdicts = new WeakMap<FastifyRequest, Verdict>();

/** The request's credentials against the token in force (the live stream's forms with `liveStream`). */
export function checkCredentials(tokens: TokenStore, request: FastifyRequest, liveStream = false): Verdict {
  const known = verdicts.get(request);
  if (known) return known;
  let verdict: Verdict;
  try {
    const token = presentedToken(request, liveStream);
    if (token === undefined) {
      verdict = {
        wrong: false,
        problem:
          'this request needs the API token: send "Authorization: Bearer <token>" (the token file is named in the gateway log at start-up)',
      };
    } else if (!tokens.matches(token)) {
      verdict = {
        wrong: true,
        problem: 'the API token is wrong; it may have been rotated (see the token file named in the gateway log at start-up)',
      };
    } else {
      verdict = { wrong: false };
    }
  } catch (error) {
    verdict = { wrong: true, problem: (error as Error).message };
  }
  verdicts.set(request, verdict);
  return verdict;
}

/**
 * Wrong credentials on a route that checks them: counted for health and /metrics, and logged with
 * the client's address (never the token) as `authentication failed from <address>`, the line
 * fail2ban matches (docs/security.md). At most one line per address a minute, with the number of
 * failures since; they are rate-limited per address like changes (app.ts).
 */
export class AuthFailures {
  total = 0;
  private readonly logLimiter = new LogLimiter(60_000, 1000);

  constructor(private readonly log: Logger) {}

  record(request: FastifyRequest, where: 'rest' | 'live stream'): void {
    this.total++;
    const earlier = this.logLimiter.take(request.ip);
    if (earlier === undefined) return;
    const path = request.url.split('?')[0].slice(0, 100);
    this.log.warn(
      { remote: request.ip, where, method: request.method, path, failures: earlier + 1 },
      `authentication failed from ${request.ip}`,
    );
  }
}

/** Whether the request presents wrong credentials to a route that checks them (counted by the rate limiter). */
export function failsAuthentication(tokens: TokenStore | undefined, request: FastifyRequest): boolean {
  const config = request.routeOptions.config;
  if (!tokens || !config?.checksToken) return false;
  return checkCredentials(tokens, request, config.access === 'stream').wrong;
}

/**
 * What a live-stream client may do, or why it is refused. The stream carries what GET /api/devices
 * and /api/events show, so it follows `read_protection` like them: no token reads, the right token
 * (or auth off) writes. A token that is presented but wrong is refused, so a client learns at once
 * that its token went stale (rotated) instead of silently losing its controls.
 */
export function liveAccess(
  tokens: TokenStore | undefined,
  request: FastifyRequest,
  readProtection: boolean,
): LiveAccess | Required<Verdict> {
  if (!tokens) return 'write';
  const verdict = checkCredentials(tokens, request, true);
  if (verdict.problem === undefined) return 'write';
  // No token at all: reading, unless reads are protected.
  if (!verdict.wrong && !readProtection) return 'read';
  return { problem: verdict.problem, wrong: verdict.wrong };
}

export interface AuthOptions {
  /** Undefined: auth is off. */
  tokens: TokenStore | undefined;
  readProtection: boolean;
  failures: AuthFailures;
}

/**
 * Adds the check to every route as a route-level hook, so it runs after the rate limiter's
 * (register this after @fastify/rate-limit): failed attempts count towards the limit.
 */
export function registerAuth(app: FastifyInstance, { tokens, readProtection, failures }: AuthOptions): void {
  if (!tokens) return;
  const check: onRequestAsyncHookHandler = async (request, reply) => {
    const verdict = checkCredentials(tokens, request);
    if (verdict.problem === undefined) return;
    if (verdict.wrong) failures.record(request, 'rest');
    reply.header('www-authenticate', 'Bearer realm="canplug"');
    throw new HttpError(401, verdict.problem);
  };
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const access = route.config?.access ?? (methods.some((m) => MUTATING.has(m)) ? 'write' : accessOf(methods[0], route.url));
    if (access === 'public' || (access === 'read' && !readProtection)) return;
    route.config = { ...route.config, checksToken: true };
    if (access === 'stream') return;
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

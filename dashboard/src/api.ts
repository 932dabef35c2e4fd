/** REST calls to the gateway (relative URLs, so a reverse proxy may serve the dashboard under a sub-path). */
import { getToken } from './token.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the gateway answers 401: the token is missing or wrong. */
let onUnauthorized: (message: string) => void = () => {};
export function whenUnauthorized(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

/**
 * `signal`: the caller no longer wants the answer (see Latest); the call then rejects, and the caller
 * checks `signal.aborted` to tell that from a failure.
 */
export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = {};
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      signal,
    });
  } catch {
    throw new ApiError(0, 'the gateway cannot be reached');
  }
  const text = await response.text();
  signal?.throwIfAborted();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!response.ok) {
    const message = (data as { error?: string } | undefined)?.error ?? `the gateway answered ${response.status}`;
    if (response.status === 401) onUnauthorized(message);
    throw new ApiError(response.status, message);
  }
  return data as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>('GET', path, undefined, signal);

/**
 * A view's loads where only the newest answer counts. Starting a load aborts the one before, and
 * leaving the view aborts the last: a late answer (a slow gateway, a loaded Pi) never lands on a view
 * that moved on (another filter, another device, a device gone, another view).
 */
export class Latest {
  private controller: AbortController | undefined;

  /** The signal for a new load; the one before is aborted. */
  start(): AbortSignal {
    this.stop();
    this.controller = new AbortController();
    return this.controller.signal;
  }

  /** Whatever is on its way is no longer wanted. */
  stop(): void {
    this.controller?.abort();
  }
}

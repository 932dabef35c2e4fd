/**
 * The live stream from the gateway, reconnecting by itself with back-off (1 s doubling to 30 s,
 * with jitter so a room full of tablets does not reconnect in step after a gateway restart).
 */
import { CLOSE, LIVE_PROTOCOL, type LiveMessage } from '../../src/contracts/live.js';
import { getToken } from './token.js';

export type LinkState =
  | { kind: 'connecting' }
  | { kind: 'up' }
  | { kind: 'down'; retryInS: number }
  | { kind: 'unauthorized'; reason: string };

export interface LiveHandlers {
  message(message: LiveMessage): void;
  state(state: LinkState): void;
}

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;

export class Live {
  private socket: WebSocket | undefined;
  private retryMs = FIRST_RETRY_MS;
  private timer: number | undefined;
  private countdown: number | undefined;
  private lastError = '';

  constructor(private readonly handlers: LiveHandlers) {}

  connect(): void {
    this.clearTimers();
    this.socket?.close();
    const url = new URL('api/live', document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = getToken();
    // Browsers cannot set headers on a WebSocket: the token travels as a subprotocol.
    const socket = new WebSocket(url, token ? [LIVE_PROTOCOL, `bearer.${token}`] : [LIVE_PROTOCOL]);
    this.socket = socket;
    this.handlers.state({ kind: 'connecting' });
    socket.onmessage = (e) => {
      const message = JSON.parse(String(e.data)) as LiveMessage;
      if (message.type === 'error') {
        this.lastError = message.error;
        return;
      }
      if (message.type === 'snapshot') {
        this.retryMs = FIRST_RETRY_MS;
        this.handlers.state({ kind: 'up' });
      }
      this.handlers.message(message);
    };
    socket.onclose = (e) => {
      if (socket !== this.socket) return;
      this.socket = undefined;
      if (e.code === CLOSE.unauthorized) {
        this.handlers.state({ kind: 'unauthorized', reason: this.lastError || e.reason });
        return;
      }
      this.retryLater();
    };
  }

  /** Connects again now (after the token changed, or when the user asks). */
  reconnect(): void {
    this.retryMs = FIRST_RETRY_MS;
    this.connect();
  }

  private retryLater(): void {
    const wait = Math.round(this.retryMs * (0.8 + Math.random() * 0.4));
    this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    const until = Date.now() + wait;
    const tick = () => this.handlers.state({ kind: 'down', retryInS: Math.max(0, Math.ceil((until - Date.now()) / 1000)) });
    tick();
    this.countdown = window.setInterval(tick, 1000);
    this.timer = window.setTimeout(() => this.connect(), wait);
  }

  private clearTimers(): void {
    window.clearTimeout(this.timer);
    window.clearInterval(this.countdown);
  }
}

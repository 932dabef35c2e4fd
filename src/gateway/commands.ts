/**
 * Commands to CAN nodes and their replies: each command carries a token the node echoes,
 * so a reply is matched to the request that caused it, even with several in flight.
 */
import { Opcode, validateCommand, type Command, type Message } from '../can/codec.js';
import type { CanBus } from '../can/can-bus.js';
import { BusUnavailableError, CommandArgumentError, CommandTimeoutError } from './errors.js';

export type Reply = Extract<Message, { type: 'reply' }>;

/**
 * Command tokens per node (docs/protocol.md): the main thread numbers its commands 1..239 and the
 * safety worker uses 240..255 for the opens it sends itself, so a reply is never taken for the
 * other's. 0 is never sent.
 */
export const MAIN_TOKENS = { first: 1, last: 239 } as const;
export const SAFETY_TOKENS = { first: 240, last: 255 } as const;

/** The next token after `previous` (undefined: none yet) within a range. */
export function nextToken(range: { first: number; last: number }, previous: number | undefined): number {
  return previous === undefined || previous >= range.last || previous < range.first ? range.first : previous + 1;
}

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  opcode: number;
}

export class Commands {
  private readonly pending = new Map<number, Pending>();
  private readonly lastToken = new Map<number, number>();
  private readonly onMessage = (message: Message) => {
    if (message.type === 'reply') this.settle(message);
  };

  constructor(
    private readonly can: CanBus,
    private readonly timeoutMs: number,
  ) {}

  start(): void {
    this.can.on('message', this.onMessage);
  }

  stop(): void {
    this.can.off('message', this.onMessage);
    for (const [key, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new BusUnavailableError('the gateway is shutting down'));
      this.pending.delete(key);
    }
  }

  /** Sends a command and resolves with the node's reply (whatever its result code); `sent` is called once it is on the bus. */
  send(
    node: number,
    command: Command,
    { timeoutMs = this.timeoutMs, sent }: { timeoutMs?: number; sent?: () => void } = {},
  ): Promise<Reply> {
    const problem = validateCommand(command);
    if (problem) return Promise.reject(new CommandArgumentError(problem));
    const token = this.token(node);
    const key = node * 256 + token;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new CommandTimeoutError(`node ${node} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.get(key)?.reject(new CommandTimeoutError(`node ${node}: token ${token} reused before a reply`));
      this.pending.set(key, { resolve, reject, timer, opcode: Opcode[command.op] });
      if (!this.can.sendCommand(node, token, command)) {
        clearTimeout(timer);
        this.pending.delete(key);
        reject(new BusUnavailableError('the CAN bus is down or its send queue is full'));
        return;
      }
      sent?.();
    });
  }

  /** Sends without waiting for the reply (safety path: the open must not wait on anything). */
  fire(node: number, command: Command): boolean {
    if (validateCommand(command)) return false;
    return this.can.sendCommand(node, this.token(node), command);
  }

  private token(node: number): number {
    const token = nextToken(MAIN_TOKENS, this.lastToken.get(node));
    this.lastToken.set(node, token);
    return token;
  }

  private settle(reply: Reply): void {
    const key = reply.node * 256 + reply.token;
    const p = this.pending.get(key);
    if (!p || p.opcode !== reply.opcode) return;
    clearTimeout(p.timer);
    this.pending.delete(key);
    p.resolve(reply);
  }
}

/**
 * One node's end of a firmware transfer on the gateway: requests go out as ISO-TP messages on
 * 0x780+node, paced to a share of the bus; the node's flow control steers the sender and its answers
 * (single frames on 0x7C0+node) settle the request that is waiting for them.
 */
import type { CanBus } from './can-bus.js';
import type { Message } from './codec.js';
import { decodeAnswer, type NodeAnswer } from './firmware-protocol.js';
import { IsoTpSender } from './isotp.js';

export class TransferTimeoutError extends Error {}

export interface ChannelOptions {
  bus: CanBus;
  node: number;
  /** Least time between two transfer frames (isotp.pacingGapMs of the bitrate and the bus share). */
  gapMs: number;
  flowTimeoutMs: number;
  onProgress?: (sentBytes: number) => void;
}

export class FirmwareChannel {
  private readonly sender: IsoTpSender;
  private waiting: { match: (a: NodeAnswer) => boolean; resolve: (a: NodeAnswer) => void } | undefined;
  /** Answers nobody was waiting for (a result that arrives while a message is still going out). */
  private readonly early: NodeAnswer[] = [];
  private readonly onMessage = (message: Message) => {
    if (message.type !== 'transfer' || message.direction !== 'toGateway' || message.node !== this.options.node) return;
    const { pdu } = message;
    if (pdu.kind === 'flow') this.sender.flow(pdu);
    else if (pdu.kind === 'single') {
      const answer = decodeAnswer(Buffer.from(pdu.data, 'hex'));
      if (!answer) return;
      if (this.waiting?.match(answer)) {
        const { resolve } = this.waiting;
        this.waiting = undefined;
        resolve(answer);
      } else this.early.push(answer);
    }
  };

  constructor(private readonly options: ChannelOptions) {
    this.sender = new IsoTpSender({
      send: (data) => options.bus.sendTransfer(options.node, data),
      gapMs: options.gapMs,
      flowTimeoutMs: options.flowTimeoutMs,
      onProgress: options.onProgress,
    });
    options.bus.on('message', this.onMessage);
  }

  close(): void {
    this.options.bus.off('message', this.onMessage);
    this.sender.cancel('the transfer was closed');
  }

  /**
   * Sends `payload` and resolves with the first answer `match` accepts (an answer that came while
   * the message was still going out included: a node refuses a manifest before its last frame).
   */
  async request(payload: Buffer, match: (a: NodeAnswer) => boolean, timeoutMs: number): Promise<NodeAnswer> {
    this.early.length = 0;
    const answered = new Promise<NodeAnswer>((resolve) => (this.waiting = { match, resolve }));
    let sendError: unknown;
    const sent = this.sender.send(payload).catch((error: unknown) => (sendError = error));
    const early = () => this.early.find(match);
    await Promise.race([sent, answered]);
    const answer = early() ?? (await this.settle(answered, sendError, timeoutMs));
    this.waiting = undefined;
    this.sender.cancel('answered');
    return answer;
  }

  private async settle(answered: Promise<NodeAnswer>, sendError: unknown, timeoutMs: number): Promise<NodeAnswer> {
    let timer: NodeJS.Timeout | undefined;
    // A refused message (overflow) is usually followed by the node's result saying why: wait a little for it.
    const wait = sendError ? Math.min(timeoutMs, 500) : timeoutMs;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(sendError ?? new TransferTimeoutError(`node ${this.options.node} did not answer within ${timeoutMs} ms`)),
        wait,
      );
    });
    try {
      return await Promise.race([answered, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

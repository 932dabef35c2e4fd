/**
 * One switch over a plug's WebSocket, done the way the plug's own page does it (data/index.htm of
 * the original firmware): ask for its things (`request_things`), check that the answer comes from
 * the chip meant, then `save_thing` thing 1 with the new value. A plug that is not the one meant
 * (its address passed to another plug by DHCP, two plugs behind one address) is sent nothing.
 * The firmware also pushes `thing_update` messages to every client, some cut short into invalid
 * JSON; only the two answers are read. Docs: docs/wifi-plugs.md.
 */
import WebSocket from 'ws';
import { UnavailableError } from '../gateway/errors.js';
import { Thing } from './datagram.js';

/** The firmware's thing type for a switch (SWITCH in spiffs_functions.h). */
const SWITCH_TYPE = 1;
/**
 * The largest message taken from a plug: its answers are a few hundred bytes. Whatever answers at a
 * plug's address is on the LAN, and ws would otherwise buffer up to 100 MiB per message.
 */
export const MAX_PLUG_MESSAGE_BYTES = 64 * 1024;

export interface PlugSwitchHandlers {
  /** save_thing went out; the plug applies it as it reads it. */
  sent(): void;
  /** Nothing was sent, and why. */
  failed(error: UnavailableError): void;
  /** The plug's answer to save_thing: `success` only says whether it could store the value in its flash. */
  answered(success: boolean): void;
  /** The connection ended after save_thing went out and before its answer. */
  lost(reason: string): void;
}

/** Where the exchange is: nothing sent yet while 'connecting' or 'identifying'. */
export type PlugSwitchStage = 'connecting' | 'identifying' | 'sent' | 'answered' | 'ended';

export class PlugSwitch {
  stage: PlugSwitchStage = 'connecting';
  /** True once save_thing went out. */
  commandSent = false;
  private readonly ws: WebSocket;
  private lastError = '';

  constructor(
    readonly url: string,
    private readonly chipId: string,
    private readonly on: boolean,
    private readonly handlers: PlugSwitchHandlers,
    timeoutMs: number,
  ) {
    this.ws = new WebSocket(url, { handshakeTimeout: timeoutMs, maxPayload: MAX_PLUG_MESSAGE_BYTES });
    this.ws.on('open', () => {
      this.stage = 'identifying';
      this.ws.send(JSON.stringify({ command: 'request_things' }));
    });
    this.ws.on('message', (data, isBinary) => {
      if (!isBinary) this.receive(data.toString());
    });
    this.ws.on('error', (error) => {
      this.lastError = error.message;
    });
    this.ws.on('close', () => this.closed());
  }

  /** Ends the exchange (confirmed, given up or superseded); nothing is reported after this. */
  close(): void {
    if (this.stage !== 'answered') this.stage = 'ended';
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close();
    else this.ws.terminate();
  }

  private receive(text: string): void {
    let message: { command?: unknown; nodeId?: unknown; nodeName?: unknown; things?: unknown; success?: unknown };
    try {
      message = JSON.parse(text);
    } catch {
      return; // a thing_update cut short by the firmware's 152-byte buffer
    }
    if (typeof message !== 'object' || message === null) return;
    if (message.command === 'response_things' && this.stage === 'identifying') this.identified(message);
    else if (message.command === 'response_save_thing' && this.stage === 'sent' && this.fromChip(message.nodeId)) {
      this.stage = 'answered';
      this.handlers.answered(message.success === true);
      this.close();
    }
  }

  private identified(message: { nodeId?: unknown; nodeName?: unknown; things?: unknown }): void {
    if (!this.fromChip(message.nodeId)) {
      const name = typeof message.nodeName === 'string' ? ` ("${clip(message.nodeName)}")` : '';
      this.fail(
        `the plug at ${this.url} is chip ${clip(String(message.nodeId))}${name}, not chip ${this.chipId}; nothing was sent ` +
          '(its address may have passed to another plug, or two plugs share it: see the ws_port setting)',
      );
      return;
    }
    // Keep the plug's own override flag: the firmware never reads it, but its page shows it.
    const things = Array.isArray(message.things) ? (message.things as { id?: unknown; override?: unknown }[]) : [];
    const override = things.find((t) => t?.id === Thing.plug)?.override === true;
    const thing = { id: Thing.plug, type: SWITCH_TYPE, value: this.on ? 1 : 0, override };
    this.ws.send(JSON.stringify({ command: 'save_thing', thing: JSON.stringify(thing) }));
    this.stage = 'sent';
    this.commandSent = true;
    this.handlers.sent();
  }

  /** The firmware sends nodeId as a number in its answers and as a string in thing_update. */
  private fromChip(nodeId: unknown): boolean {
    return (typeof nodeId === 'number' || typeof nodeId === 'string') && String(nodeId) === this.chipId;
  }

  private closed(): void {
    if (this.stage === 'connecting') this.fail(`cannot reach the plug at ${this.url}: ${this.lastError || 'the connection closed'}`);
    else if (this.stage === 'identifying')
      this.fail(`the plug at ${this.url} closed the WebSocket before answering request_things; nothing was sent`);
    else if (this.stage === 'sent') {
      this.stage = 'ended';
      this.handlers.lost('the WebSocket closed before the plug answered save_thing');
    }
  }

  private fail(reason: string): void {
    this.stage = 'ended';
    this.handlers.failed(new UnavailableError(reason));
    this.close();
  }
}

/** What the other side says, as it may appear in an answer or the log: printable and short. */
function clip(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 40)}...` : clean;
}

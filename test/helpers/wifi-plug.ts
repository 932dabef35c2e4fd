/**
 * A fake ESP8266 AsyncSmartPlug for tests: a real WebSocket server on 127.0.0.1 answering
 * `save_thing` as the original firmware does, and real UDP datagrams in the firmware's exact format.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

/** A UDP port that was free a moment ago (the gateway's udp.port 0 means "disabled"). */
export async function freeUdpPort(): Promise<number> {
  const probe = createSocket('udp4');
  probe.bind(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Sends one datagram to the gateway's UDP port on loopback. */
export async function sendDatagram(port: number, payload: string | Buffer): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => socket.send(payload, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
  socket.close();
}

export interface FakePlugOptions {
  chipId: number;
  name: string;
  /** The gateway's UDP port. */
  gatewayPort: number;
  /** Watts while the relay is on. */
  loadWatts?: number;
  relay?: boolean;
}

export class FakeWifiPlug {
  relay: boolean;
  loadWatts: number;
  wattHours = 0;
  /** Switches the firmware would not do, to test failures. */
  answerCommands = true;
  broadcastAfterSave = true;
  /** Every command text received over the WebSocket. */
  readonly commands: string[] = [];
  private server: WebSocketServer | undefined;
  private udp: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: FakePlugOptions) {
    this.relay = options.relay ?? false;
    this.loadWatts = options.loadWatts ?? 100;
  }

  get wsPort(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  get watts(): number {
    return this.relay ? this.loadWatts : 0;
  }

  async start(): Promise<void> {
    this.udp = createSocket('udp4');
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
    this.server = server;
    server.on('connection', (client) => {
      client.on('message', (data) => {
        const text = data.toString();
        this.commands.push(text);
        const command = JSON.parse(text) as { command: string; thing?: string };
        if (command.command !== 'save_thing' || !this.answerCommands) return;
        const thing = JSON.parse(command.thing!) as { id: number; value: number };
        if (thing.id === 1) this.relay = thing.value === 1;
        client.send(`{"command":"response_save_thing","nodeId":${this.options.chipId},"nodeName":"${this.options.name}","success":true}`);
        if (this.broadcastAfterSave) void this.broadcast();
      });
    });
    await once(server, 'listening');
  }

  /** The firmware's broadcast: floats printed with two decimals, the clock as text. */
  datagram(): string {
    const clock = new Date().toISOString().slice(0, 19).replace('T', ' ');
    const f = (v: number) => v.toFixed(2);
    return `${this.options.chipId}:${this.options.name}&1:${f(this.relay ? 1 : 0)}&2:${f(this.watts)}&3:${f(this.wattHours)}&4:${clock}`;
  }

  async broadcast(): Promise<void> {
    const payload = this.datagram();
    await new Promise<void>((resolve, reject) =>
      this.udp!.send(payload, this.options.gatewayPort, '127.0.0.1', (error) => (error ? reject(error) : resolve())),
    );
  }

  /** Broadcasts every `periodMs`, as the firmware does every 5 s. */
  startBroadcasting(periodMs: number): void {
    this.stopBroadcasting();
    void this.broadcast();
    this.timer = setInterval(() => void this.broadcast(), periodMs);
  }

  stopBroadcasting(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async stop(): Promise<void> {
    this.stopBroadcasting();
    this.udp?.close();
    this.udp = undefined;
    if (this.server) {
      for (const client of this.server.clients) client.terminate();
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
      this.server = undefined;
    }
  }
}

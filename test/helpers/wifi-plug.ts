/**
 * An emulation of the original ESP8266 ESP_AsyncSmartPlug firmware for tests, on real sockets: a
 * WebSocket server at /ws and UDP datagrams, behaving as the firmware's source does
 * (github.com/raliand/ESP_AsyncSmartPlug; docs/wifi-plugs.md names the files):
 * - every `periodMs` (the firmware's 5 s) it pushes `thing_update` for things 2 and 3 to every
 *   WebSocket client, cut to the 151 characters its buffer holds, then sends the broadcast;
 * - it parses commands as ArduinoJson 5 does (plug-firmware-formats.ts): no answer at all to a
 *   command it cannot parse, `thing` as a JSON string or an object, thing values as floats;
 * - `save_thing` stores any float in thing 1, and the relay follows its integer part at once;
 *   the answer comes after the flash write and only says whether that worked;
 * - what the firmware leaves undefined (a thing id outside 1..4, a datagram heard on UDP past its
 *   20-node table, a relay value outside a byte) is recorded in `undefinedBehaviour`, for tests to
 *   assert it empty.
 * Faults to inject: a lost or dropped answer, a full flash, a reboot in the middle of save_thing.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  arduinoFloat,
  asBool,
  asFloat,
  asInt,
  asString,
  epochToString,
  jsonObjectSize,
  parseObjectV5,
  secondsSince2000,
} from './plug-firmware-formats.js';

/** A UDP port that was free a moment ago (the gateway's udp.port 0 means "disabled"). */
export async function freeUdpPort(): Promise<number> {
  const probe = createSocket('udp4');
  probe.bind(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A TCP port that was free on 127.0.0.1 a moment ago (for plugs that must share a WebSocket port). */
export async function freeTcpPort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Sends one datagram to the gateway's UDP port on loopback. */
export async function sendDatagram(port: number, payload: string | Buffer): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => socket.send(payload, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
  socket.close();
}

/** spiffs_functions.h: thing types and table sizes. */
const SWITCH = 1;
const GENERIC = 6;
const CLOCK = 7;
const THINGS_LEN = 4;
const NODES_LEN = 20;
/** The thing_update buffer: `char buffer[JSON_OBJECT_SIZE(9)]`, so printTo keeps 151 characters. */
const THING_UPDATE_CHARS = jsonObjectSize(9) - 1;

export interface PlugThing {
  id: number;
  name: string;
  type: number;
  value: number;
  override: boolean;
  last_updated: number;
}

export interface FakePlugOptions {
  chipId: number;
  /** The firmware's nodeName ("SmartPlugEsp" unless rebuilt). */
  name: string;
  /** The gateway's UDP port on 127.0.0.1. */
  gatewayPort: number;
  /** The plug's own address: a loopback address, so tests can give two plugs one, or swap them. */
  host?: string;
  /** Its web server's port; 0 (default) picks a free one, kept across reboots and moves. */
  wsPort?: number;
  /** Watts the appliance draws while the relay is on. */
  loadWatts?: number;
  relay?: boolean;
  /** False: NTP did not answer at boot, so the clock counts from 0:00:00 - 1.1.2000. */
  ntp?: boolean;
}

export class FakeWifiPlug {
  loadWatts: number;
  /** How save_thing is answered: as the firmware does, never (connection stays open), or the connection drops first. */
  answer: 'reply' | 'lose' | 'drop' = 'reply';
  /** False: SPIFFS cannot open things.json, so save_thing answers success false (the relay still switched). */
  flashWorks = true;
  /** The next save_thing reboots the plug before or after its flash write (a brown-out as the relay clicks). */
  rebootOnSave: { when: 'before-flash' | 'after-flash'; downMs: number } | undefined;
  /** Every text message received over the WebSocket, and every datagram heard on its UDP port. */
  readonly commands: string[] = [];
  readonly heard: string[] = [];
  /** thing_update messages pushed to WebSocket clients, and how many of them the buffer cut short. */
  readonly thingUpdates = { sent: 0, cut: 0 };
  /** What the firmware would do that C++ leaves undefined (memory written out of bounds...). */
  readonly undefinedBehaviour: string[] = [];
  /** While rebooting: resolves once it is up again. */
  rebooting: Promise<void> | undefined;
  private things: PlugThing[];
  /** /things.json in its SPIFFS. */
  private flash: string;
  private host: string;
  private port: number;
  private server: WebSocketServer | undefined;
  private udp: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private periodMs: number | undefined;
  private bootAt = Date.now();
  private wattHours = 0;
  private lastEnergyAt = Date.now();
  /** setup() sets it from /nodes.json, which a first boot has not read yet: -1 (deserializeNodes fails). */
  private lastNodeIdx = -1;

  constructor(private readonly options: FakePlugOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.port = options.wsPort ?? 0;
    this.loadWatts = options.loadWatts ?? 100;
    const now = this.clockSeconds();
    const thing = (id: number, name: string, type: number, value: number) => ({
      id,
      name,
      type,
      value,
      override: false,
      last_updated: now,
    });
    // setup() on a first boot: the defaults, written to flash.
    this.things = [
      thing(1, 'Plug', SWITCH, options.relay ? 1 : 0),
      thing(2, 'Wats', GENERIC, 0),
      thing(3, 'Daily Wats/Hour', GENERIC, 1),
      thing(4, 'Clock', CLOCK, now),
    ];
    this.flash = JSON.stringify(this.things);
  }

  get wsPort(): number {
    return this.port;
  }

  /** Thing 1 as the relay pin sees it: `digitalWrite(switchOut, value)` takes the float as a byte. */
  get relay(): boolean {
    return (Math.trunc(this.things[0].value) & 0xff) !== 0;
  }

  /** Thing 1 as stored: any float a client saved. */
  get plugValue(): number {
    return this.things[0].value;
  }

  get override(): boolean {
    return this.things[0].override;
  }

  /** things_functions.cpp: RMS current x 240 V, and 0 below 300 W. */
  get watts(): number {
    return this.relay && this.loadWatts >= 300 ? this.loadWatts : 0;
  }

  async start(): Promise<void> {
    const udp = createSocket('udp4');
    // loop(): a datagram with a ":" before its first "&" takes the next arrNodes slot, unchecked.
    udp.on('message', (message) => {
      const text = message.toString('latin1');
      this.heard.push(text);
      if (!text.split('&')[0].includes(':')) return;
      if (this.lastNodeIdx < 0 || this.lastNodeIdx >= NODES_LEN)
        this.undefinedBehaviour.push(`UDP datagram heard: writes arrNodes[${this.lastNodeIdx}] (${text.slice(0, 40)})`);
      this.lastNodeIdx++;
    });
    udp.bind(0, this.host);
    await once(udp, 'listening');
    this.udp = udp;
    const server = new WebSocketServer({ host: this.host, port: this.port, path: '/ws' });
    server.on('connection', (client) => {
      client.on('message', (data, isBinary) => {
        if (isBinary) client.send(Buffer.from('I got your binary message'), { binary: true });
        else this.command(client, data.toString());
      });
    });
    await once(server, 'listening');
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** The broadcast as `multicast_status()` builds it. */
  datagram(): string {
    this.measure();
    return `${this.options.chipId}:${this.options.name}${this.things.map((t) => `&${t.id}:${t.type === CLOCK ? epochToString(this.clockSeconds()) : arduinoFloat(t.value)}`).join('')}`;
  }

  /** One `multicast_status()`: thing_update for things 2 and 3 to every WebSocket client, then the datagram. */
  async broadcast(): Promise<void> {
    const udp = this.udp;
    if (!udp) return; // stopped or rebooting: nothing goes out
    const payload = this.datagram();
    for (const thing of this.things.filter((t) => t.id === 2 || t.id === 3)) {
      const update = `{"command":"thing_update","nodeId":"${this.options.chipId}","nodeName":${JSON.stringify(this.options.name)},"thingId":${thing.id},"thingName":${JSON.stringify(thing.name)},"lastUpdate":${this.clockSeconds()},"value":${Math.fround(thing.value).toFixed(2)}}`;
      for (const client of this.server?.clients ?? []) {
        client.send(update.slice(0, THING_UPDATE_CHARS));
        this.thingUpdates.sent++;
        if (update.length > THING_UPDATE_CHARS) this.thingUpdates.cut++;
      }
    }
    await new Promise<void>((resolve, reject) =>
      udp.send(payload, this.options.gatewayPort, '127.0.0.1', (error) => (error ? reject(error) : resolve())),
    );
  }

  /** Broadcasts every `periodMs` (the firmware: 5000), the first one now. */
  startBroadcasting(periodMs = 5000): void {
    this.stopBroadcasting();
    this.periodMs = periodMs;
    void this.broadcast();
    this.timer = setInterval(() => void this.broadcast(), periodMs);
  }

  stopBroadcasting(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.periodMs = undefined;
  }

  /** DHCP gave it another address: same chip, same port, a new host (until its next broadcast, only it knows). */
  async moveTo(host: string): Promise<void> {
    await this.closeSockets();
    this.host = host;
    await this.start();
  }

  /** Power cycle: down for `downMs`, then setup() again: things from flash, energy estimate and node list from scratch. */
  reboot(downMs: number): Promise<void> {
    this.rebooting ??= (async () => {
      const period = this.periodMs;
      this.stopBroadcasting();
      await this.closeSockets();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      this.things = JSON.parse(this.flash) as PlugThing[];
      this.bootAt = Date.now();
      this.wattHours = 0;
      this.lastEnergyAt = Date.now();
      this.lastNodeIdx = 1; // its own entry, from the /nodes.json its first boot wrote
      await this.start();
      // setup() takes longer than the 5 s broadcast timer, so the first broadcast goes out at once.
      if (period !== undefined) this.startBroadcasting(period);
      this.rebooting = undefined;
    })();
    return this.rebooting;
  }

  async stop(): Promise<void> {
    this.stopBroadcasting();
    await this.rebooting;
    await this.closeSockets();
  }

  private async closeSockets(): Promise<void> {
    this.udp?.close();
    this.udp = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** The WebSocket handler for one whole text message: `StaticJsonBuffer<500>`, then the command. */
  private command(client: WebSocket, text: string): void {
    this.commands.push(text);
    const request = parseObjectV5(text, 500);
    if (!request) return; // response.success() is false: no answer at all
    const chip = this.options.chipId;
    const name = this.options.name;
    switch (asString(request.command)) {
      case 'request_things':
        // Built by concatenation: the node name is not escaped.
        client.send(`{"command":"response_things","nodeId":${chip},"nodeName":"${name}","things":${this.thingsJson()}}`);
        return;
      case 'save_thing':
        this.saveThing(client, request.thing);
        return;
      case 'request_nodes':
      case 'request_recipes':
      case 'save_recipe':
        this.undefinedBehaviour.push(`${asString(request.command)} is not emulated (canplug never sends it)`);
        return;
      default:
        client.send(JSON.stringify({ command: 'response_default', nodeId: chip, nodeName: name }));
    }
  }

  private saveThing(client: WebSocket, field: unknown): void {
    const text = asString(field);
    const thing = parseObjectV5(text, 200);
    // A thing that does not parse reads id 0: arrThings[-1] is written.
    const index = asInt(thing?.id) - 1;
    if (index < 0 || index >= THINGS_LEN) {
      this.undefinedBehaviour.push(`save_thing writes arrThings[${index}] (thing ${text.slice(0, 60)})`);
    } else {
      const stored = this.things[index];
      stored.type = asInt(thing!.type);
      stored.value = asFloat(thing!.value);
      stored.override = asBool(thing!.override);
      stored.last_updated = this.clockSeconds();
      if (index === 0 && !(stored.value > -1 && stored.value < 256))
        this.undefinedBehaviour.push(`digitalWrite of thing 1 = ${stored.value}: a float outside a byte`);
    }
    const reboot = this.rebootOnSave;
    this.rebootOnSave = undefined;
    if (reboot?.when === 'before-flash') return void this.reboot(reboot.downMs);
    if (this.flashWorks) this.flash = JSON.stringify(this.things);
    if (reboot?.when === 'after-flash') return void this.reboot(reboot.downMs);
    if (this.answer === 'drop') return void client.terminate();
    if (this.answer === 'lose') return;
    const { chipId, name } = this.options;
    client.send(`{"command":"response_save_thing","nodeId":${chipId},"nodeName":"${name}","success":${this.flashWorks}}`);
  }

  /** serializeThings(): each value through String(value).toFloat(), printed by ArduinoJson with two decimals. */
  private thingsJson(): string {
    this.measure();
    const float = (v: number) => (Number.isFinite(v) ? Number(arduinoFloat(v)).toFixed(2) : '0.00');
    return `[${this.things.map((t) => `{"id":${t.id},"name":${JSON.stringify(t.name)},"type":${t.type},"value":${float(t.value)},"override":${t.override},"last_updated":${t.last_updated}}`).join(',')}]`;
  }

  /** processThings(): watts and the watt-hours since boot (summed every second in the firmware). */
  private measure(): void {
    const now = Date.now();
    this.wattHours += (this.watts * (now - this.lastEnergyAt)) / 3_600_000;
    this.lastEnergyAt = now;
    this.things[1].value = this.watts;
    this.things[2].value = this.wattHours;
  }

  /** `millis()/1000 + ntp_timer`: seconds since 2000 with NTP, else since boot. */
  private clockSeconds(): number {
    return this.options.ntp === false ? Math.floor((Date.now() - this.bootAt) / 1000) : secondsSince2000();
  }
}

// The transport's own logic on any host, with a fake addon on the loopback interface (always present
// and up). What only the kernel can show (filters, down/up, floods) is in test/vcan/, run in a UML guest.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  loadSocketcanAddon,
  SOCKETCAN_PATCH_LEVEL,
  SocketCanTransport,
  type RawChannel,
  type SocketCanAddon,
} from '../../src/can/socketcan-transport.js';
import { V1_NODE_TO_GATEWAY_FILTERS } from '../../src/can/filters.js';
import type { CanFrame } from '../../src/can/frame.js';
import { waitFor } from '../helpers/gateway.js';

type Msg = { id: number; data: Buffer; ext?: boolean; rtr?: boolean; err?: boolean };

class FakeChannel implements RawChannel {
  onMessage?: (msg: Msg) => void;
  onStopped?: () => void;
  written: Msg[] = [];
  filters: { id: number; mask: number; invert?: boolean }[][] = [];
  /** How many upcoming writes fail as ENOBUFS would. */
  failNext = 0;
  started = false;
  addListener(event: string, listener: (msg: Msg) => void): void {
    if (event === 'onMessage') this.onMessage = listener;
    else this.onStopped = listener as () => void;
  }
  start() {
    this.started = true;
  }
  stop() {
    this.started = false;
    this.onStopped?.();
  }
  send(msg: Msg) {
    if (this.failNext > 0) {
      this.failNext--;
      return -1;
    }
    this.written.push({ ...msg });
    return 16;
  }
  setRxFilters(filters: { id: number; mask: number; invert?: boolean }[]) {
    this.filters.push(filters);
  }
  setErrorFilters() {}
  /** What the kernel allows without CAP_NET_ADMIN (net.core.rmem_max); undefined: the capability is there. */
  static rmemMax: number | undefined;
  /** The kernel's drop counter of this socket (SO_RXQ_OVFL). */
  drops = 0;
  receiveBuffer = 0;
  setReceiveBuffer(bytes: number) {
    const max = FakeChannel.rmemMax;
    this.receiveBuffer = 2 * (max === undefined ? bytes : Math.min(bytes, max));
    return { bytes: this.receiveBuffer, forced: max === undefined };
  }
  getDropCount() {
    return this.drops;
  }
}

function fakeAddon() {
  const channels: FakeChannel[] = [];
  const addon: SocketCanAddon = {
    createRawChannelWithOptions: () => {
      const ch = new FakeChannel();
      channels.push(ch);
      return ch;
    },
  };
  return { addon, channels };
}

const open: SocketCanTransport[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.stop();
  FakeChannel.rmemMax = undefined;
});
async function start(options: Partial<ConstructorParameters<typeof SocketCanTransport>[0]> = {}) {
  const { addon, channels } = fakeAddon();
  const transport = new SocketCanTransport({ interface: 'lo', loadAddon: async () => addon, ...options });
  open.push(transport);
  await transport.start();
  return { transport, channels };
}

test('a missing addon is a clear error naming the package and the interface', async () => {
  await assert.rejects(loadSocketcanAddon('can0', 'socketcan-not-installed-here'), (err: Error) => {
    assert.match(err.message, /CAN interface "can0"/);
    assert.match(err.message, /optional npm package "socketcan-not-installed-here" is not installed/);
    return true;
  });
});

test('filters go to the kernel as 11-bit data-frame-only filters', async () => {
  const { channels } = await start({ filters: V1_NODE_TO_GATEWAY_FILTERS });
  const [installed] = channels[0].filters;
  assert.equal(installed.length, V1_NODE_TO_GATEWAY_FILTERS.length); // 42: six blocks per function code, seven codes
  assert.deepEqual(installed[0], { id: 0x081, mask: 0xc00007ff }, 'EFF and RTR in the mask keep 29-bit and remote frames out');
});

test('frames are emitted and counted; error frames become bus errors with their kind', async () => {
  const { transport, channels } = await start();
  const frames: CanFrame[] = [];
  const errors: string[] = [];
  transport.on('frame', (f) => frames.push(f));
  transport.on('busError', (k) => errors.push(k));
  channels[0].onMessage!({ id: 0x181, data: Buffer.from('FD080802AC040107', 'hex') });
  channels[0].onMessage!({ id: 0x40, err: true, data: Buffer.alloc(8) });
  channels[0].onMessage!({ id: 0x04, err: true, data: Buffer.from([0, 0x03, 0, 0, 0, 0, 0, 0]) });
  assert.deepEqual(frames, [{ id: 0x181, data: Buffer.from('FD080802AC040107', 'hex') }]);
  assert.deepEqual(errors, ['bus-off', 'controller:rx-overflow,controller:tx-overflow']);
  assert.deepEqual(
    { ...transport.stats(), downReason: undefined },
    {
      received: 1,
      sent: 0,
      dropped: 0,
      busErrors: 2,
      reconnects: 0,
      up: true,
      interface: 'lo',
      queued: 0,
      downReason: undefined,
      kernelDrops: 0,
      receiveQueue: { bytes: 1_024_000, wanted: 1_024_000 },
    },
  );
});

test('a full device queue keeps frames in a bounded queue, in order, and drops beyond it', async () => {
  const { transport, channels } = await start({ maxQueue: 3 });
  const ch = channels[0];
  ch.failNext = 3;
  const results = [1, 2, 3, 4, 5].map((n) => transport.send({ id: 0x200 + n, data: Buffer.from([n]) }));
  // The first write fails and is queued; 2 and 3 queue behind it; 4 and 5 find the queue full.
  assert.deepEqual(results, [true, true, true, false, false]);
  assert.equal(transport.stats().queued, 3);
  assert.equal(transport.stats().dropped, 2);
  // The queue drains on the next write attempts (a loaded machine may take longer than usual).
  await waitFor(() => ch.written.length === 3, 5000, 'the three queued frames written');
  assert.deepEqual(
    ch.written.map((m) => m.id),
    [0x201, 0x202, 0x203],
  );
  assert.equal(transport.stats().sent, 3);
  assert.equal(transport.stats().queued, 0);
});

test('a channel the kernel stops reports down, reconnects and reports up; sends meanwhile are dropped', async () => {
  const { transport, channels } = await start({ maxBackoffMs: 200 });
  const events: string[] = [];
  transport.on('down', (reason) => events.push(`down: ${reason}`));
  transport.on('up', () => events.push('up'));
  channels[0].onStopped!();
  assert.equal(transport.stats().up, false);
  assert.equal(transport.send({ id: 0x201, data: Buffer.alloc(8) }), false);
  await new Promise((r) => setTimeout(r, 400));
  assert.deepEqual(events, ['down: socket on lo reported an error', 'up']);
  assert.equal(channels.length, 2);
  assert.deepEqual(channels[0].filters.at(-1), [{ id: 0, mask: 0, invert: true }], 'the old socket is silenced');
  assert.equal(transport.stats().reconnects, 1);
  assert.equal(transport.stats().dropped, 1);
});

test('an interface that does not exist: start resolves, down says why, retries continue', async () => {
  const { transport, channels } = await start({ interface: 'nocan9' });
  assert.equal(transport.stats().up, false);
  assert.equal(transport.stats().downReason, 'interface nocan9 does not exist');
  assert.equal(channels.length, 0);
  assert.throws(() => new SocketCanTransport({ interface: '../etc' }), /not a network interface name/);
});

test('reconnect attempts back off from 200 ms, doubling, and never wait longer than the cap', async () => {
  const attempts: number[] = [];
  const { addon } = fakeAddon();
  const failing: SocketCanAddon = {
    createRawChannelWithOptions: (name, options) => {
      attempts.push(performance.now());
      // The kernel refuses the first six binds, as it does while an interface is being re-created.
      if (attempts.length <= 6) throw new Error('Error while creating channel');
      return addon.createRawChannelWithOptions(name, options);
    },
  };
  const transport = new SocketCanTransport({ interface: 'lo', maxBackoffMs: 600, loadAddon: async () => failing });
  open.push(transport);
  const up = new Promise<void>((resolve) => transport.once('up', () => resolve()));
  await transport.start();
  assert.equal(transport.stats().downReason, 'cannot open lo');
  await up;
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
  // 200, 400, then the 600 cap: timers fire no earlier than asked, and a little later on a busy machine.
  const expected = [200, 400, 600, 600, 600, 600];
  assert.equal(gaps.length, expected.length);
  gaps.forEach((gap, i) => {
    assert.ok(gap >= expected[i] - 5 && gap < expected[i] + 250, `gap ${i + 1}: ${gap.toFixed(0)} ms, expected ${expected[i]}`);
  });
  assert.equal(transport.stats().up, true);
});

test('the receive queue is sized for one second of a full bus at the configured bitrate', async () => {
  const { transport, channels } = await start({ bitrate: 1_000_000 });
  // 8,000 frames of 1,024 bytes; the kernel doubles what SO_RCVBUF(FORCE) is given.
  assert.equal(channels[0].receiveBuffer, 8_192_000);
  assert.deepEqual(transport.stats().receiveQueue, { bytes: 8_192_000, wanted: 8_192_000 });
});

test('a queue capped by net.core.rmem_max is reported with the setting that fixes it', async () => {
  FakeChannel.rmemMax = 212_992;
  const { transport } = await start({ bitrate: 500_000 });
  const queue = transport.stats().receiveQueue!;
  assert.equal(queue.bytes, 425_984);
  assert.equal(queue.wanted, 4_096_000);
  assert.match(queue.problem!, /receive queue is 425984 bytes/);
  assert.match(queue.problem!, /net\.core\.rmem_max to at least 2048000/);
  assert.match(queue.problem!, /CAP_NET_ADMIN/);
});

test('kernel drops add up over reconnects and across the 32-bit wrap of the kernel counter', async () => {
  const { transport, channels } = await start({ maxBackoffMs: 100 });
  channels[0].drops = 0xffff_fff0;
  assert.equal(transport.stats().kernelDrops, 0xffff_fff0);
  channels[0].drops = 5; // wrapped: 21 more
  assert.equal(transport.stats().kernelDrops, 0xffff_fff0 + 21);
  channels[0].drops = 9; // 4 more, then the socket goes away: counted before it is dropped
  channels[0].onStopped!();
  await new Promise<void>((resolve) => transport.once('up', () => resolve()));
  channels[1].drops = 3; // the new socket counts from zero
  assert.equal(transport.stats().kernelDrops, 0xffff_fff0 + 21 + 4 + 3);
});

test('the installed socketcan addon carries the patch that sizes the queue, counts kernel drops and serves worker threads', async () => {
  // loadSocketcanAddon refuses an addon built without patches/socketcan+4.0.7.patch, or with an older level of it.
  const addon = await loadSocketcanAddon('vcan0');
  assert.equal(typeof addon.createRawChannelWithOptions, 'function');
  // The level is written in three places: the patch, the postinstall script that rebuilds an older build, and here.
  const root = new URL('../../', import.meta.url);
  assert.match(
    readFileSync(new URL('patches/socketcan+4.0.7.patch', root), 'utf8'),
    new RegExp(`#define CANPLUG_PATCH_LEVEL ${SOCKETCAN_PATCH_LEVEL}\\n`),
  );
  assert.match(
    readFileSync(new URL('scripts/patch-socketcan.mjs', root), 'utf8'),
    new RegExp(`const PATCH_LEVEL = ${SOCKETCAN_PATCH_LEVEL};`),
  );
});

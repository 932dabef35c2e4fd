/**
 * Raw CAN sockets through libc (the `koffi` FFI package) behind the part of the `socketcan` addon's
 * interface that SocketCanTransport uses, so the transport's reconnects, filters and send queue work
 * unchanged. It exists for worker threads: the socketcan 4.0.x addon hands received frames to the
 * process's main event loop (uv_default_loop), so it cannot serve a thread that must keep reading
 * while the main loop is stalled; its N-API releases, which can, need Node 22 (docs/safety.md).
 * Here a poll(2) waits on libuv's thread pool and its callback runs on the calling thread's own loop.
 */
import type { ReceiveBufferResult } from './receive-queue.js';
import type { RawChannel, SocketCanAddon } from './socketcan-transport.js';

// linux/socket.h, linux/can.h, linux/can/raw.h, poll.h (the same on every Linux architecture)
const PF_CAN = 29;
const SOCK_RAW = 3;
const CAN_RAW = 1;
const SOL_CAN_RAW = 101;
const CAN_RAW_FILTER = 1;
const CAN_RAW_ERR_FILTER = 2;
const MSG_DONTWAIT = 0x40;
// asm-generic/socket.h (x86, ARM, arm64; not alpha, mips, parisc, sparc)
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const POLLIN = 0x1;
const POLL_STOPPED = 0x8 | 0x10 | 0x20; // POLLERR | POLLHUP | POLLNVAL
const CAN_EFF_FLAG = 0x80000000;
const CAN_RTR_FLAG = 0x40000000;
const CAN_ERR_FLAG = 0x20000000;
const CAN_INV_FILTER = 0x20000000;
const CAN_SFF_MASK = 0x7ff;
const CAN_EFF_MASK = 0x1fffffff;
/** struct can_frame: u32 id, u8 len, 3 bytes padding/reserved, 8 bytes data. */
const FRAME_SIZE = 16;
/** How long one poll waits before it looks at `running` again, as the addon's reader thread does. */
const POLL_MS = 100;
/** Frames read per wake-up before the loop gets a turn. */
const MAX_BATCH = 256;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  if_nametoindex(name: string): number;
  bind(fd: number, addr: Buffer, len: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: Buffer): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  close(fd: number): number;
  poll: { async(fds: Buffer, n: number, timeout: number, done: (err: unknown, ready: number) => void): void };
}

type Listener = (...args: never[]) => void;

class FfiRawChannel implements RawChannel {
  private readonly fd: number;
  private running = false;
  private closed = false;
  private readonly onMessage: Listener[] = [];
  private readonly onStopped: Listener[] = [];
  private readonly pollFd = Buffer.alloc(8); // struct pollfd: int fd, short events, short revents
  private readonly rx = Buffer.alloc(FRAME_SIZE);

  constructor(
    private readonly libc: Libc,
    name: string,
  ) {
    const ifindex = libc.if_nametoindex(name);
    const fd = ifindex > 0 ? libc.socket(PF_CAN, SOCK_RAW, CAN_RAW) : -1;
    const addr = Buffer.alloc(24); // struct sockaddr_can: u16 family, int ifindex at 4, address union
    addr.writeUInt16LE(PF_CAN, 0);
    addr.writeInt32LE(ifindex, 4);
    if (fd < 0 || libc.bind(fd, addr, addr.length) !== 0) {
      if (fd >= 0) libc.close(fd);
      throw new Error('Error while creating channel'); // the addon's words, which the transport rewords
    }
    this.fd = fd;
    this.pollFd.writeInt32LE(fd, 0);
    this.pollFd.writeInt16LE(POLLIN, 4);
  }

  addListener(event: 'onMessage' | 'onStopped', listener: Listener): void {
    (event === 'onMessage' ? this.onMessage : this.onStopped).push(listener);
  }

  start(): void {
    this.running = true;
    this.wait();
  }

  /** Closes the socket now; a poll still waiting on it returns within POLL_MS and is ignored. */
  stop(): void {
    this.running = false;
    if (this.closed) return;
    this.closed = true;
    this.libc.close(this.fd);
  }

  send(msg: { id: number; data: Buffer; ext: boolean; rtr: boolean }): number {
    if (this.closed) return -1;
    const frame = Buffer.alloc(FRAME_SIZE);
    frame.writeUInt32LE((msg.id | (msg.ext ? CAN_EFF_FLAG : 0) | (msg.rtr ? CAN_RTR_FLAG : 0)) >>> 0, 0);
    frame[4] = msg.data.length;
    msg.data.copy(frame, 8, 0, 8);
    return this.libc.send(this.fd, frame, FRAME_SIZE, MSG_DONTWAIT);
  }

  setRxFilters(filters: { id: number; mask: number; invert?: boolean }[]): void {
    const value = Buffer.alloc(8 * filters.length);
    filters.forEach((f, i) => {
      value.writeUInt32LE((f.id | (f.invert ? CAN_INV_FILTER : 0)) >>> 0, 8 * i);
      value.writeUInt32LE((f.mask & ~CAN_ERR_FLAG) >>> 0, 8 * i + 4);
    });
    this.option(CAN_RAW_FILTER, value);
  }

  setErrorFilters(mask: number): void {
    const value = Buffer.alloc(4);
    value.writeUInt32LE(mask >>> 0, 0);
    this.option(CAN_RAW_ERR_FILTER, value);
  }

  /**
   * Raises the receive queue to at least `bytes` (never lowers it), as canplug's patch of the
   * socketcan addon does: SO_RCVBUFFORCE, else SO_RCVBUF within net.core.rmem_max. Called once,
   * before the first poll. (No getDropCount: see docs/socketcan.md.)
   */
  setReceiveBuffer(bytes: number): ReceiveBufferResult {
    let forced = false;
    if (this.socketInt(SO_RCVBUF) / 2 < bytes) {
      const value = Buffer.alloc(4);
      value.writeInt32LE(bytes, 0);
      forced = this.libc.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, value, 4) === 0;
      if (!forced && this.libc.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, value, 4) !== 0) throw new Error('setsockopt SO_RCVBUF failed on the CAN socket');
    }
    return { bytes: this.socketInt(SO_RCVBUF), forced };
  }

  private socketInt(name: number): number {
    const value = Buffer.alloc(4);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(4, 0);
    if (this.closed || this.libc.getsockopt(this.fd, SOL_SOCKET, name, value, len) !== 0) throw new Error('getsockopt failed on the CAN socket');
    return value.readInt32LE(0);
  }

  private option(name: number, value: Buffer): void {
    if (this.closed || this.libc.setsockopt(this.fd, SOL_CAN_RAW, name, value, value.length) !== 0) {
      throw new Error('setsockopt failed on the CAN socket');
    }
  }

  private wait(): void {
    this.libc.poll.async(this.pollFd, 1, POLL_MS, (_err, ready) => {
      if (!this.running) return;
      const revents = ready > 0 ? this.pollFd.readInt16LE(6) : 0;
      if (revents & POLLIN) this.drain();
      // The kernel reported ENETDOWN (down) or ENODEV (deleted): the transport reconnects.
      if (revents & POLL_STOPPED || ready < 0) {
        this.running = false;
        for (const listener of this.onStopped) (listener as () => void)();
        return;
      }
      if (this.running) this.wait();
    });
  }

  private drain(): void {
    for (let n = 0; n < MAX_BATCH && this.running; n++) {
      if (this.libc.recv(this.fd, this.rx, FRAME_SIZE, MSG_DONTWAIT) !== FRAME_SIZE) return;
      const canId = this.rx.readUInt32LE(0);
      const ext = (canId & CAN_EFF_FLAG) !== 0;
      const msg = {
        id: ext ? canId & CAN_EFF_MASK : canId & CAN_SFF_MASK,
        data: Buffer.from(this.rx.subarray(8, 8 + Math.min(this.rx[4], 8))),
        ext,
        rtr: (canId & CAN_RTR_FLAG) !== 0,
        err: (canId & CAN_ERR_FLAG) !== 0,
      };
      for (const listener of this.onMessage) (listener as (m: typeof msg) => void)(msg);
    }
  }
}

/** Loads libc through koffi; the error names the package and the interface it was needed for. */
export async function loadFfiRawChannels(iface: string): Promise<SocketCanAddon> {
  let libc: Libc;
  try {
    const { default: koffi } = await import('koffi');
    const lib = koffi.load('libc.so.6');
    libc = {
      socket: lib.func('int socket(int domain, int type, int protocol)'),
      if_nametoindex: lib.func('unsigned int if_nametoindex(const char *name)'),
      bind: lib.func('int bind(int fd, const void *addr, unsigned int len)'),
      setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *value, unsigned int len)'),
      getsockopt: lib.func('int getsockopt(int fd, int level, int name, void *value, void *len)'),
      recv: lib.func('long recv(int fd, void *buf, unsigned long len, int flags)'),
      send: lib.func('long send(int fd, const void *buf, unsigned long len, int flags)'),
      close: lib.func('int close(int fd)'),
      poll: lib.func('int poll(void *fds, unsigned long n, int timeout)'),
    } as Libc;
  } catch (err) {
    throw new Error(
      `the safety worker cannot open CAN interface "${iface}": the optional npm package "koffi" is missing or cannot load libc.so.6 (npm install koffi): ${(err as Error).message}`,
      { cause: err },
    );
  }
  return { createRawChannelWithOptions: (name) => new FfiRawChannel(libc, name) };
}

/**
 * The real MicroPython VM (the official WebAssembly port, npm @micropython/micropython-webassembly-pyscript)
 * in a worker thread: boot it with a filesystem and a heap, run Python in it, exchange CAN frames with
 * it, kill it at any moment (like pulling the plug) and boot another from what its flash held.
 *
 * One VM per worker: the port keeps its state in the worker's globals. The Python side reaches its host
 * through the module `vm_host` (can_send, can_recv, reboot); see micropython-vm-worker.mjs.
 */
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CanFrame } from '../../src/can/frame.js';

export interface MicroPythonVmOptions {
  /** The GC heap. The port grows its heap instead of raising MemoryError: heapTotal() shows when it did. */
  heapBytes: number;
  /** VM path -> contents. hostFiles() reads a host directory into this form. */
  files: Record<string, string | Uint8Array>;
  /** Working directory in the VM, also the first entry of sys.path. */
  cwd?: string;
  /** 'virtual': the VM's clock and timers move only through advance(ms). Default 'real'. */
  clock?: 'real' | 'virtual';
  /** Python stack in words (the port's default is 2048). */
  pystackWords?: number;
}

export interface MicroPythonVmEvents {
  /** A line the VM printed. */
  line: [text: string, stream: 'stdout' | 'stderr'];
  /** A frame the node put on its CAN port. */
  frame: [CanFrame];
  /** The firmware's last resort ran (an exception escaped the application): it asked for a reset. */
  reboot: [reason: string, flash: Record<string, Uint8Array>];
  /** The firmware reset the board itself (machine.reset()); `flash` is its file system at that moment. */
  reset: [flash: Record<string, Uint8Array>];
  /** The worker ended (kill(), or a crash of the VM itself). */
  exit: [code: number];
}

/** A Python exception raised by exec()/call(), with its type name ('ValueError', ...). */
export class PythonError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'PythonError';
  }
}

type Reply = { ok: true; value?: unknown } | { ok: false; error: { type: string; message: string } };

/** Every file under `hostDir` whose path passes `keep`, as VM paths under `vmDir`. */
export function hostFiles(hostDir: string, vmDir: string, keep: (relative: string) => boolean = () => true): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(hostDir, rel)).sort()) {
      const child = rel ? `${rel}/${name}` : name;
      if (statSync(join(hostDir, child)).isDirectory()) {
        if (name !== '__pycache__') walk(child);
      } else if (keep(child)) {
        out[`${vmDir}/${child}`] = readFileSync(join(hostDir, child));
      }
    }
  };
  if (existsSync(hostDir)) walk('');
  return out;
}

export class MicroPythonVm extends EventEmitter<MicroPythonVmEvents> {
  /** Everything the VM printed, newest last. */
  readonly lines: string[] = [];
  private readonly pending = new Map<number, (reply: Reply) => void>();
  private nextId = 1;
  private exited = false;

  private constructor(private readonly worker: Worker) {
    super();
  }

  static async boot(options: MicroPythonVmOptions): Promise<MicroPythonVm> {
    const worker = new Worker(new URL('./micropython-vm-worker.mjs', import.meta.url), {
      workerData: {
        heapBytes: options.heapBytes,
        pystackWords: options.pystackWords ?? 2048,
        files: options.files,
        cwd: options.cwd ?? '/',
        clock: options.clock ?? 'real',
      },
    });
    const vm = new MicroPythonVm(worker);
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m: { type: string } & Record<string, unknown>) => {
        if (m.type === 'ready') resolve();
        else vm.onMessage(m);
      });
      worker.once('error', reject);
      worker.once('exit', (code) => {
        vm.exited = true;
        for (const settle of vm.pending.values()) settle({ ok: false, error: { type: 'Exit', message: `VM exited (${code})` } });
        vm.pending.clear();
        vm.emit('exit', code);
        reject(new Error(`VM worker exited (${code}) before it was ready`));
      });
    });
    return vm;
  }

  private onMessage(m: Record<string, unknown>): void {
    if (m.type === 'line') {
      this.lines.push(m.text as string);
      this.emit('line', m.text as string, m.stream as 'stdout' | 'stderr');
    } else if (m.type === 'frame') {
      const f = m.frame as { id: number; data: string };
      this.emit('frame', { id: f.id, data: Buffer.from(f.data, 'hex') });
    } else if (m.type === 'reboot') {
      this.emit('reboot', m.reason as string, m.flash as Record<string, Uint8Array>);
    } else if (m.type === 'reset') {
      this.emit('reset', m.flash as Record<string, Uint8Array>);
    } else if (m.type === 'reply') {
      const settle = this.pending.get(m.id as number);
      this.pending.delete(m.id as number);
      settle?.(m as unknown as Reply);
    }
  }

  private request(message: Record<string, unknown>): Promise<unknown> {
    if (this.exited) return Promise.reject(new Error('the VM is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => (reply.ok ? resolve(reply.value) : reject(new PythonError(reply.error.type, reply.error.message))));
      this.worker.postMessage({ ...message, id });
    });
  }

  /** Runs Python statements in __main__; resolves when they return (tasks they start go on). */
  async exec(code: string): Promise<void> {
    await this.request({ type: 'exec', code });
  }

  /** Calls a function defined in __main__; a str, int, float or bool result comes back, else null. */
  call(name: string, ...args: (string | number | boolean)[]): Promise<unknown> {
    return this.request({ type: 'call', name, args });
  }

  /** Virtual clock only: runs the VM's timers for `ms` of simulated time; resolves with the VM's Date.now(). */
  async advance(ms: number): Promise<number> {
    return (await this.request({ type: 'advance', ms })) as number;
  }

  /** Every file under `dir` in the VM (its flash, for a later boot() or to inspect state). */
  async readTree(dir: string): Promise<Record<string, Uint8Array>> {
    return (await this.request({ type: 'readTree', path: dir })) as Record<string, Uint8Array>;
  }

  /** Hands a frame from the bus to the node's CAN port (it reads it on its next poll). */
  deliver(frame: CanFrame): void {
    if (this.exited) return;
    this.worker.postMessage({
      type: 'frame',
      frame: { id: frame.id, data: Buffer.from(frame.data).toString('hex'), ext: frame.ext ?? false, rtr: frame.rtr ?? false },
    });
  }

  /** The GC heap's current size in bytes, from micropython.mem_info(): above the boot size, a fixed heap would have run out. */
  async heapTotal(): Promise<number> {
    const before = this.lines.length;
    await this.call('_mem_info'); // defined by the worker: nothing to compile, nothing allocated here
    const line = this.lines.slice(before).find((l) => l.startsWith('GC: total:'));
    const match = /GC: total: (\d+)/.exec(line ?? '');
    if (!match) throw new Error(`no "GC: total" in micropython.mem_info(): ${this.lines.slice(before).join(' | ')}`);
    return Number(match[1]);
  }

  /** Stops the VM at once, wherever it is: what a power cut does to a board. */
  async kill(): Promise<void> {
    if (this.exited) return;
    await this.worker.terminate();
  }

  get running(): boolean {
    return !this.exited;
  }
}

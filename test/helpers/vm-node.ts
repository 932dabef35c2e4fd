/**
 * A canplug socket on the real MicroPython VM: the firmware's device code (firmware/canplug) with its
 * real asyncio tasks, on the simulated board, booted by firmware/host/vm_node.py the way main.py boots
 * the ESP32. Its flash is the VM's /flash (code, config.json, state.json): kill() it like a power cut,
 * read flash(), and boot() again from it. bridgeToTransport() joins its CAN port to a gateway transport:
 * the simulated bus on the host, vcan0 in the user-mode-linux guest.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CanFrame } from '../../src/can/frame.js';
import type { Transport } from '../../src/can/transport.js';
import { hostFiles, MicroPythonVm } from './micropython-vm.js';

const FIRMWARE = fileURLToPath(new URL('../../firmware', import.meta.url));
/** The host side of the VM runner: the boot script and the control lines, next to the device code. */
const GLUE = ['__init__.py', 'control.py', 'sim_node.py', 'vm_node.py'];

export interface VmNodeOptions {
  /** config.json keys (node_id and any other; firmware/config.example.json lists them). */
  config?: Record<string, unknown>;
  /** The simulated world: humidity, temperature, load_w, power_factor, voltage (canplug/hal/sim.py). */
  plant?: Record<string, number>;
  /** Default 1 MB; the ESP32-sized run uses 96 KB. */
  heapBytes?: number;
  clock?: 'real' | 'virtual';
  /** A previous node's flash (VmNode.flash()): boot from it instead of a fresh one. */
  flash?: Record<string, Uint8Array>;
  /** More files for a fresh flash, by VM path (e.g. /flash/update_key.pub). */
  files?: Record<string, string | Uint8Array>;
}

export interface HeapFigures {
  /** gc.mem_alloc() after a collection: the live heap. */
  alloc: number;
  /** The largest gc.mem_alloc() the CAN poll saw (every 10 ms), garbage not yet collected included. */
  peak_alloc: number;
}

/** The firmware on the flash did not start; `flash` is the flash as it was (the boot step may have written it). */
export class FirmwareStartError extends Error {
  constructor(
    message: string,
    readonly flash: Record<string, Uint8Array>,
  ) {
    super(message);
  }
}

export class VmNode {
  /** Reasons the firmware's last resort gave (an exception escaped the application): none, normally. */
  readonly reboots: string[] = [];

  private constructor(readonly vm: MicroPythonVm) {
    vm.on('reboot', (reason) => this.reboots.push(reason));
  }

  /** Boots the node; rejects with what the firmware printed when it does not start (a bad config.json). */
  static async boot(options: VmNodeOptions = {}): Promise<VmNode> {
    const files: Record<string, string | Uint8Array> = options.flash
      ? { ...options.flash }
      : { ...hostFiles(`${FIRMWARE}/canplug`, '/flash/canplug', (f) => f.endsWith('.py')) };
    if (!options.flash) Object.assign(files, options.files);
    Object.assign(
      files,
      hostFiles(`${FIRMWARE}/host`, '/flash/host', (f) => GLUE.includes(f)),
    );
    // main.py's boot step picks the firmware slot (a fresh flash: the firmware at the root); it is never updated.
    files['/flash/boot_slots.py'] = readFileSync(`${FIRMWARE}/boot_slots.py`);
    if (options.config) files['/flash/config.json'] = JSON.stringify(options.config);
    const vm = await MicroPythonVm.boot({ heapBytes: options.heapBytes ?? 1 << 20, files, cwd: '/flash', clock: options.clock });
    const node = new VmNode(vm);
    await vm.exec(
      'import sys, boot_slots\nslot, trial = boot_slots.select("/flash")\nif slot:\n    sys.path.insert(0, boot_slots.slot_dir("/flash", slot))',
    );
    try {
      await vm.exec('from host import vm_node\nfrom host.vm_node import collect, command, heap, refresh_tables, sampling_allocations');
      await vm.exec(
        `started = vm_node.boot("/flash/config.json", "/flash/state.json", ${JSON.stringify(JSON.stringify(options.plant ?? {}))})`,
      );
      await vm.exec('def is_started():\n    return started');
      if (!(await vm.call('is_started'))) throw new Error('see its output');
      await node.refreshTables();
      await vm.exec('vm_node.start()');
    } catch (error) {
      // What main.py does next on the board is a reset; whoever boots it again needs its flash as it is.
      const flash = await vm.readTree('/flash');
      await vm.kill();
      throw new FirmwareStartError(`the firmware did not start (${(error as Error).message}):\n${vm.lines.join('\n')}`, flash);
    }
    return node;
  }

  /** A control line (firmware/host/control.py: humidity 85, load 1500, dht fail, status, ...) or `bus-off on|off`. */
  async control(line: string): Promise<Record<string, unknown>> {
    const answer = JSON.parse((await this.vm.call('command', line)) as string) as Record<string, unknown>;
    await this.refreshTables();
    return answer;
  }

  /** The simulated ADCs' tables, a slice per call: the port collects garbage only between calls. */
  private async refreshTables(): Promise<void> {
    while (await this.vm.call('refresh_tables'));
  }

  /** The port collects only when a call returns to JavaScript: collect first, then read. */
  async heap(): Promise<HeapFigures> {
    await this.vm.call('collect');
    return JSON.parse((await this.vm.call('heap')) as string) as HeapFigures;
  }

  /** Everything on the node's flash: code, config.json, state.json. */
  flash(): Promise<Record<string, Uint8Array>> {
    return this.vm.readTree('/flash');
  }

  kill(): Promise<void> {
    return this.vm.kill();
  }
}

/** The one bridge: frames between a VM node's CAN port and a gateway-side transport. Returns the undo. */
export function bridgeToTransport(vm: MicroPythonVm, transport: Transport): () => void {
  const fromBus = (frame: CanFrame) => vm.deliver(frame);
  const fromNode = (frame: CanFrame) => void transport.send(frame);
  transport.on('frame', fromBus);
  vm.on('frame', fromNode);
  return () => {
    transport.off('frame', fromBus);
    vm.off('frame', fromNode);
  };
}

/**
 * A socket whose firmware runs on the MicroPython VM and lives through resets and power cuts, as one
 * in a wall box does: whenever its firmware resets the board (after an update's commit, to roll an
 * update back, or as main.py's last resort) or the power is cut, a new VM boots from the flash the old
 * one left, through the boot step (firmware/boot_slots.py), and joins the same bus again.
 */
import { EventEmitter } from 'node:events';
import type { Transport } from '../../src/can/transport.js';
import { bridgeToTransport, FirmwareStartError, VmNode, type VmNodeOptions } from './vm-node.js';

/** A firmware that cannot even start resets at once; a boot step that never settles would loop forever. */
const MAX_BOOTS_IN_A_ROW = 5;

export class VmSocket extends EventEmitter<{ booted: [VmNode]; down: [] }> {
  node!: VmNode;
  /** Every boot after the first, with why. */
  readonly restarts: string[] = [];
  private undo: (() => void) | undefined;
  private busy: Promise<void> | undefined;
  private stopped = false;

  private constructor(
    private readonly transport: Transport,
    private readonly options: VmNodeOptions,
  ) {
    super();
  }

  static async start(transport: Transport, options: VmNodeOptions): Promise<VmSocket> {
    const socket = new VmSocket(transport, options);
    await socket.boot(undefined);
    return socket;
  }

  /** Cuts the power now and switches it back on: the node boots again from its flash as it was. */
  powerCut(): Promise<void> {
    return this.restart('power cut', async () => {
      const flash = await this.node.flash();
      return flash;
    });
  }

  /** The node is down (between a reset and the next boot) while this is pending. */
  get restarting(): Promise<void> | undefined {
    return this.busy;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.busy?.catch(() => undefined);
    this.undo?.();
    await this.node?.kill();
  }

  private restart(why: string, flashOf: () => Promise<Record<string, Uint8Array>>): Promise<void> {
    if (this.busy || this.stopped) return this.busy ?? Promise.resolve();
    this.busy = (async () => {
      const flash = await flashOf();
      this.undo?.();
      this.undo = undefined;
      await this.node.kill();
      this.emit('down');
      this.restarts.push(why);
      await this.boot(flash);
    })().finally(() => (this.busy = undefined));
    return this.busy;
  }

  private async boot(flash: Record<string, Uint8Array> | undefined): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        this.node = await VmNode.boot({ ...this.options, ...(flash ? { flash, config: undefined } : {}) });
        break;
      } catch (error) {
        if (!(error instanceof FirmwareStartError) || attempt >= MAX_BOOTS_IN_A_ROW) throw error;
        this.restarts.push(`the firmware did not start: ${error.message.split('\n')[0]}`);
        flash = error.flash;
      }
    }
    const { vm } = this.node;
    vm.on('reset', (after) => void this.restart('reset', async () => after));
    vm.on('reboot', (reason, after) => void this.restart(`last resort: ${reason}`, async () => after));
    this.undo = bridgeToTransport(vm, this.transport);
    this.emit('booted', this.node);
  }
}

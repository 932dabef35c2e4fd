/**
 * A CAN bus of a given bitrate emulated on vcan0, for timing measurements in the guest: vcan echoes
 * every frame only after the device's queue (the vcan module loaded with echo=1), and the queue is a
 * token bucket (tc tbf) at the rate of worst-case 8-byte frames (135 bits, isotp.frameBits), with a
 * priority qdisc inside it whose lower band takes the firmware transfer ids (0x780..0x7FF, tc's
 * em_canid match): higher-priority frames go first, as arbitration makes them on a real bus. What it
 * does not emulate: arbitration within a band (first come, first served), error frames, bit stuffing
 * of the actual data (the worst case is assumed for every frame).
 */
import { frameBits } from '../../src/can/isotp.js';
import { IFACE, sh } from './vcan-helpers.js';

/** The kernel counts a classic CAN frame as 16 bytes (struct can_frame) in the qdisc. */
const SKB_BYTES = 16;

async function modules(): Promise<string> {
  return `/usr/lib/uml/modules/${(await sh('uname', '-r')).trim()}/kernel`;
}

async function reloadVcan(echo: boolean): Promise<void> {
  const mods = await modules();
  await sh('ip', 'link', 'del', IFACE).catch(() => '');
  await sh('rmmod', 'vcan');
  await sh('insmod', `${mods}/drivers/net/can/vcan.ko`, ...(echo ? ['echo=1'] : []));
  await sh('ip', 'link', 'add', 'dev', IFACE, 'type', 'vcan');
  await sh('ip', 'link', 'set', 'up', IFACE);
}

const tbf = (bitrate: number) => [
  'tbf',
  'rate',
  `${Math.round((bitrate / frameBits(8)) * SKB_BYTES * 8)}bit`,
  'burst',
  `${2 * SKB_BYTES}`,
  'limit',
  `${200 * SKB_BYTES}`,
];

/** vcan0 becomes a bus of `bitrate` bit/s with two priority bands (the transfer's ids in the lower one). */
export async function emulateBus(bitrate: number): Promise<void> {
  const mods = await modules();
  for (const m of ['sch_prio', 'cls_basic', 'em_canid']) await sh('insmod', `${mods}/net/sched/${m}.ko`).catch(() => ''); // loaded already: fine
  await reloadVcan(true);
  await sh('tc', 'qdisc', 'add', 'dev', IFACE, 'root', 'handle', '1:', ...tbf(bitrate));
  await sh('tc', 'qdisc', 'add', 'dev', IFACE, 'parent', '1:1', 'handle', '10:', 'prio', 'bands', '2', 'priomap', ...Array(16).fill('0'));
  await sh('tc', 'filter', 'add', 'dev', IFACE, 'parent', '10:', 'prio', '1', 'basic', 'match', 'canid(sff 0x780:0x780)', 'flowid', '10:2');
}

/** The emulated bus at another bitrate, in place: open sockets keep working. */
export async function retimeBus(bitrate: number): Promise<void> {
  await sh('tc', 'qdisc', 'change', 'dev', IFACE, 'root', 'handle', '1:', ...tbf(bitrate));
}

/** Back to the guest's usual vcan0 (echo in the CAN core, no qdisc of ours) for the files that follow. */
export async function restorePlainVcan(): Promise<void> {
  await reloadVcan(false);
}

/** The q-quantile (0..1) of `values` in ms, rounded to 0.01; undefined for none. */
export function percentile(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 100) / 100;
}

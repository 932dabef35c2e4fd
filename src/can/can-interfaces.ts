/**
 * CAN network interfaces as the kernel shows them in sysfs: which exist, and whether one can carry
 * frames. Plain file reads, no addon: usable on any Linux host and in health checks.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const IFF_UP = 0x1;
const ARPHRD_CAN = 280;

export interface InterfaceState {
  exists: boolean;
  /** Administratively up and operstate not down: frames can flow. */
  up: boolean;
  operstate: string;
  ifindex: number;
}

const NET = '/sys/class/net';
const readSys = (name: string, file: string) => readFileSync(join(NET, name, file), 'utf8').trim();

/** The interface's state from sysfs; never throws. vcan reports operstate "unknown" when up. */
export function interfaceState(name: string): InterfaceState {
  try {
    const flags = Number.parseInt(readSys(name, 'flags'), 16);
    const operstate = readSys(name, 'operstate');
    const ifindex = Number(readSys(name, 'ifindex'));
    const up = (flags & IFF_UP) !== 0 && !['down', 'lowerlayerdown', 'notpresent', 'dormant'].includes(operstate);
    return { exists: true, up, operstate, ifindex };
  } catch {
    return { exists: false, up: false, operstate: 'absent', ifindex: 0 };
  }
}

/** Names of the CAN interfaces (real and virtual) on this machine. */
export function listCanInterfaces(): string[] {
  try {
    return readdirSync(NET).filter((name) => {
      try {
        return Number(readSys(name, 'type')) === ARPHRD_CAN;
      } catch {
        return false;
      }
    });
  } catch {
    return [];
  }
}

/**
 * Helpers for the guest tests (test/vcan/*.vcan.ts). They run inside the UML guest started by
 * scripts/uml/run-in-guest.mjs, where vcan0 is real kernel SocketCAN and can-utils is the peer.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once, type EventEmitter } from 'node:events';
import { promisify } from 'node:util';
import { SocketCanTransport, type SocketCanOptions } from '../../src/can/socketcan-transport.js';

export const IFACE = 'vcan0';
/**
 * How long an expected event may take in the guest. A correct transport needs well under a second
 * (up after a link change: at most its 2 s back-off cap, which test/can/socketcan-transport.test.ts
 * pins down), but UML on a busy 2-core machine can be many times slower; the tests report the
 * delays they saw as metrics.
 */
export const PATIENCE_MS = 15_000;
const run = promisify(execFile);

/** Fails loudly when a guest test is started on a host by mistake: it would poke the host's links. */
export function assertInGuest(): void {
  if (process.env.CANPLUG_IN_GUEST !== '1') {
    throw new Error('vcan tests run inside the UML guest: node scripts/uml/run-in-guest.mjs test/vcan/<file>.vcan.ts');
  }
}

export async function sh(cmd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(cmd, args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export const cansend = (frame: string, iface = IFACE) => sh('cansend', iface, frame);

/** Brings vcan0 back to "exists and up" whatever an earlier test did to it. */
export async function resetVcan(): Promise<void> {
  const links = await sh('ip', '-j', 'link', 'show');
  if (!(JSON.parse(links) as { ifname: string }[]).some((l) => l.ifname === IFACE)) {
    await sh('ip', 'link', 'add', 'dev', IFACE, 'type', 'vcan');
  }
  await sh('ip', 'link', 'set', 'up', IFACE);
}

export interface LinkCounters {
  rxPackets: number;
  rxDropped: number;
  txPackets: number;
  txDropped: number;
}

/** The kernel's per-device counters (`ip -s link`): rx dropped counts frames lost in the backlog queue. */
export async function linkCounters(iface = IFACE): Promise<LinkCounters> {
  const [link] = JSON.parse(await sh('ip', '-s', '-j', 'link', 'show', 'dev', iface)) as {
    stats64: { rx: { packets: number; dropped: number }; tx: { packets: number; dropped: number } };
  }[];
  const { rx, tx } = link.stats64;
  return { rxPackets: rx.packets, rxDropped: rx.dropped, txPackets: tx.packets, txDropped: tx.dropped };
}

/**
 * Frames the kernel delivered to raw-socket filters on `iface`, summed over the exact-id (rx_sff)
 * and mask (rx_fil) receive lists: the kernel's own count of what passed the filters.
 */
export function kernelFilterMatches(iface = IFACE): { entries: number; matches: number } {
  let entries = 0;
  let matches = 0;
  for (const list of ['rcvlist_sff', 'rcvlist_fil']) {
    for (const line of readFileSync(`/proc/net/can/${list}`, 'utf8').split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols[0] === iface && cols.length >= 7 && /^\d+$/.test(cols[5])) {
        entries++;
        matches += Number(cols[5]);
      }
    }
  }
  return { entries, matches };
}

/** candump as an independent observer; stop() ends it and returns its lines. */
export async function startCandump(
  ...args: string[]
): Promise<{ stop: () => Promise<string[]>; lines: () => string[]; proc: ChildProcess }> {
  const proc = spawn('candump', [...args, IFACE], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  // candump has no "ready" signal; its socket is bound within a few ms, give it generous time.
  await new Promise((r) => setTimeout(r, 300));
  return {
    proc,
    lines: () => out.split('\n').filter(Boolean),
    stop: async () => {
      await new Promise((r) => setTimeout(r, 300));
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await once(proc, 'exit');
      }
      return out.split('\n').filter(Boolean);
    },
  };
}

/** Resolves with the event's arguments, or rejects naming what did not happen in time. */
export async function waitForEvent<T extends unknown[]>(emitter: EventEmitter, event: string, timeoutMs: number): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    return (await once(emitter, event, { signal: ac.signal })) as T;
  } catch (err) {
    if (ac.signal.aborted) throw new Error(`no "${event}" event within ${timeoutMs} ms`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export async function waitUntil(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Transports made here are stopped by stopAll() in each file's afterEach, even after a failure. */
const open: SocketCanTransport[] = [];
export async function openTransport(
  options: Partial<SocketCanOptions> = {},
  { waitUp = true, onCreate }: { waitUp?: boolean; onCreate?: (t: SocketCanTransport) => void } = {},
): Promise<SocketCanTransport> {
  const transport = new SocketCanTransport({ interface: IFACE, ...options });
  open.push(transport);
  onCreate?.(transport);
  await transport.start();
  if (waitUp && !transport.stats().up) await waitForEvent(transport, 'up', PATIENCE_MS);
  return transport;
}
export async function stopAll(): Promise<void> {
  for (const t of open.splice(0)) await t.stop();
}

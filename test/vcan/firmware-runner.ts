/**
 * The CPython host runner (firmware/host/run.py) as a socket on vcan0 for the firmware-update guest
 * tests: started with a state directory as its flash, killed for a power cut, started again on the
 * same flash. A reset by its firmware restarts the process in place (same pid, a new "ready" line).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { waitFor } from '../helpers/gateway.js';
import { PATIENCE_MS } from './vcan-helpers.js';

const RUNNER = new URL('../../firmware/host/run.py', import.meta.url).pathname;

export class FirmwareRunner {
  private proc: ChildProcess | undefined;
  private answers: Record<string, unknown>[] = [];
  /** "ready" lines seen: one per boot (a reset by the firmware boots again in the same process). */
  boots = 0;
  /** Power cuts so far. */
  cuts = 0;

  constructor(private readonly args: string[]) {}

  async start(): Promise<void> {
    const proc = spawn('/usr/bin/python3', [RUNNER, ...this.args], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc = proc;
    const before = this.boots;
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const message = JSON.parse(line) as Record<string, unknown>;
      if (message.event === 'ready') this.boots++;
      else if (message.event === undefined) this.answers.push(message);
    });
    await waitFor(() => this.boots > before, 3 * PATIENCE_MS, 'the firmware runner ready');
  }

  /** A control line (firmware/host/control.py) and its answer. */
  async control(line: string): Promise<Record<string, unknown>> {
    const at = this.answers.length;
    this.proc!.stdin!.write(`${line}\n`);
    return waitFor(() => this.answers[at], PATIENCE_MS, `answer to "${line}"`);
  }

  /** SIGKILL: whatever the firmware was writing stays as it was; then power back on, same flash. */
  async powerCut(): Promise<void> {
    const proc = this.proc!;
    this.cuts++;
    proc.kill('SIGKILL');
    if (proc.exitCode === null && proc.signalCode === null) await once(proc, 'exit');
    this.answers = [];
    await this.start();
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    await once(proc, 'exit');
  }
}

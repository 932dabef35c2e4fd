/**
 * CAN -> MQTT on kernel SocketCAN: the same measurements as can-mqtt, on vcan0 inside the
 * user-mode-linux guest (scripts/uml/run-in-guest.mjs runs bench/guest/can-mqtt.guest.ts there).
 * The guest has one (slow, system-call-heavy) CPU for the gateway, the frame source, Mosquitto and
 * the subscriber together: these numbers bound the kernel path, they are not a Pi's.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { guestAvailability, runInGuest } from '../../scripts/uml/run-in-guest.mjs';
import type { BenchCase, BenchOptions, Row } from '../lib/bench-case.js';
import { flowPlans, flowRows, type FlowResult } from './can-mqtt.js';

/** Where the host leaves the options for the guest (the guest shares the host's files). */
export const GUEST_OPTIONS_FILE = fileURLToPath(new URL('../results/guest-options.json', import.meta.url));
/** net.core.rmem_default and rmem_max in the guest: 8 MB, about 10,000 frames of socket buffer. */
export const RMEM_BYTES = 8 * 1024 * 1024;

/**
 * The guest's pipeline drains a few hundred frames per second, so a 10 s plan at 8k frames/s would
 * take minutes to drain: 3 s per rate and 10,000 frames flat out, one run (its runs vary little).
 */
export const guestPlans = (options: BenchOptions) => flowPlans({ ...options, quick: true }, 40_000);
export const guestRuns = (options: BenchOptions) => (options.quick ? 1 : Math.min(options.runs, 1));

export const canMqttVcan: BenchCase = {
  name: 'can-mqtt-vcan',
  description: 'CAN -> MQTT on vcan0 in the UML guest (kernel SocketCAN): 1k/4k/8k frames/s and flat out',
  async run(options) {
    const availability = guestAvailability();
    if (!availability.ok) {
      return [{ case: 'can-mqtt-vcan', scenario: '(not run)', result: `no UML guest here: ${availability.reason}`, data: {} }];
    }
    mkdirSync(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true });
    writeFileSync(
      GUEST_OPTIONS_FILE,
      JSON.stringify({ quick: options.quick, runs: options.runs, minutes: options.minutes, fromSource: options.fromSource }),
    );
    try {
      const result = await runInGuest({
        files: ['bench/guest/can-mqtt.guest.ts'],
        timeoutMs: 40 * 60_000,
        onConsole: (line) => {
          if (/bench-progress|not ok|Error/.test(line)) options.log(`  guest| ${line.slice(0, 300)}`);
        },
      });
      const flows = result.metrics
        .filter((m) => m.message.startsWith('bench-flow '))
        .map((m) => JSON.parse(m.message.slice('bench-flow '.length)) as { label: string; run: number; result: FlowResult });
      if (result.status !== 0 || flows.length === 0) {
        const why = result.timedOut ? 'timed out' : `status ${result.status}; ${result.tests.find((x) => x.type === 'fail')?.error ?? ''}`;
        throw new Error(`the guest benchmark failed (${why}); console kept in ${result.runDir ?? '(removed)'}`);
      }
      options.log(`  guest boot ${Math.round(result.bootMs ?? 0)} ms, benchmark ${Math.round((result.suiteMs ?? 0) / 1000)} s`);
      const rows: Row[] = [];
      for (const plan of guestPlans(options)) {
        const runs = flows.filter((f) => f.label === plan.label).map((f) => f.result);
        if (runs.length === 0) continue;
        const planRows = flowRows('can-mqtt-vcan', `vcan (UML, rmem ${RMEM_BYTES / 1024 / 1024} MB)`, plan, runs, {});
        for (const row of planRows) row.data = { ...row.data, guest_boot_ms: result.bootMs, rmem_default: RMEM_BYTES };
        rows.push(...planRows);
      }
      return rows;
    } finally {
      rmSync(GUEST_OPTIONS_FILE, { force: true });
    }
  },
};

/**
 * Firmware transfer times and bus load computed from the frames (docs/reliability.md, "Firmware
 * updates"): the current firmware as a bundle, segmented exactly as the gateway sends it, at 125 and
 * 500 kbit/s, for the block sizes nodes announce, with an assumed node turnaround per block.
 *
 *   node --import tsx bench/firmware-update-model.ts
 */
import { generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { frameBits, segment } from '../src/can/isotp.js';
import { encodeBegin, encodeFile } from '../src/can/firmware-protocol.js';
import { buildBundle, verifyBundle } from '../src/gateway/firmware-bundle.js';

const FIRMWARE = fileURLToPath(new URL('../firmware', import.meta.url));
const FRAME = frameBits(8); // worst-case stuffing

const key = generateKeyPairSync('ed25519').privateKey;
const bundle = verifyBundle(buildBundle(FIRMWARE, key), key);
const messages = [encodeBegin(bundle.signature, bundle.manifestBytes), ...bundle.contents.map((c, i) => encodeFile(i, c))];
const bytes = messages.reduce((n, m) => n + m.length, 0);

interface Case {
  bitrate: number;
  share: number;
  blockSize: number;
  /** From the last frame of a block to the node's flow control on the bus (its poll and work). */
  turnaroundMs: number;
  label: string;
}

function estimate(c: Case) {
  const gapMs = ((FRAME / c.bitrate) * 1000) / c.share;
  let frames = 0;
  let ms = 0;
  for (const m of messages) {
    const f = segment(m).length;
    const consecutive = f - 1;
    const blocks = consecutive === 0 ? 0 : 1 + Math.floor((consecutive - 1) / c.blockSize); // flow controls
    frames += f + blocks + 1; // + the node's flow controls and its answer
    ms += f * gapMs + (blocks + 1) * (c.turnaroundMs + (FRAME / c.bitrate) * 1000);
  }
  const busMs = (frames * FRAME * 1000) / c.bitrate;
  return { ...c, frames, seconds: ms / 1000, share_of_bus: busMs / ms };
}

const cases: Case[] = [];
for (const bitrate of [125_000, 500_000]) {
  cases.push({ bitrate, share: 0.5, blockSize: 255, turnaroundMs: 0, label: 'bus-limited (node keeps up)' });
  cases.push({ bitrate, share: 0.5, blockSize: 63, turnaroundMs: 5, label: 'host runner / VM node, BS 63, 5 ms per block' });
  cases.push({ bitrate, share: 0.5, blockSize: 1, turnaroundMs: 5, label: 'ESP32 + MCP2515, BS 1, 5 ms per frame (assumed)' });
  cases.push({
    bitrate,
    share: 0.5,
    blockSize: 1,
    turnaroundMs: 20,
    label: 'ESP32 + MCP2515, BS 1, 20 ms per frame (a sampling window in the way)',
  });
}

process.stdout.write(
  `bundle: ${bundle.manifest.files.length} files, ${bytes} bytes in ${messages.length} messages; a frame is ${FRAME} bits at worst\n\n`,
);
process.stdout.write('| bitrate | node | frames | time | share of the bus |\n|---|---|---|---|---|\n');
for (const e of cases.map(estimate)) {
  process.stdout.write(
    `| ${e.bitrate / 1000} kbit/s | ${e.label} | ${e.frames} | ${e.seconds.toFixed(0)} s | ${(e.share_of_bus * 100).toFixed(0)} % |\n`,
  );
}
// A report (power 0x180+n) has a higher priority than any transfer frame: it waits for at most the one
// frame already on the bus, as it already may for a heartbeat (0x700+n), so the worst case is unchanged.
for (const bitrate of [125_000, 500_000]) {
  process.stdout.write(
    `\n${bitrate / 1000} kbit/s: one 8-byte frame takes ${((FRAME / bitrate) * 1000).toFixed(2)} ms at worst: the most a transfer frame can delay a report`,
  );
}
process.stdout.write('\n');

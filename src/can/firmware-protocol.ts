/**
 * The firmware transfer's messages (docs/protocol.md, "Firmware transfer"), carried by ISO-TP
 * (isotp.ts): requests from the gateway, and the node's two answers, which always fit a single frame.
 * The node's side is firmware/canplug/update.py; the numbers here are its numbers.
 */

export const Request = { query: 0x01, begin: 0x02, file: 0x03, commit: 0x04, abort: 0x05, copy: 0x06 } as const;
export type RequestName = keyof typeof Request;
export const Answer = { info: 0x81, result: 0x82 } as const;

export const UpdateState = ['idle', 'receiving', 'verifying', 'installing', 'trial'] as const;
export type UpdateStateName = (typeof UpdateState)[number];
export const LastInstall = ['none', 'installed', 'rolled back', 'refused'] as const;
export type LastInstallName = (typeof LastInstall)[number];

/** Result codes and what they mean to a person. */
export const RESULTS: readonly { name: string; text: string }[] = [
  { name: 'ok', text: 'ok' },
  { name: 'badSignature', text: 'the bundle is not signed by the key the node holds (unsigned, mis-signed or altered)' },
  { name: 'noKey', text: 'the node has no update key (update_key.pub): flash it once by hand with the key' },
  { name: 'badManifest', text: 'the manifest is malformed' },
  { name: 'notAllowed', text: 'the manifest names a file outside the firmware (only canplug/*.py|.mpy and update_key.pub)' },
  { name: 'noSpace', text: 'not enough free flash on the node' },
  { name: 'fileCorrupt', text: 'a file arrived corrupted (its SHA-256 does not match the manifest)' },
  { name: 'fileSize', text: 'a file arrived with the wrong size' },
  { name: 'transferBroken', text: 'a transfer frame was lost or out of order' },
  { name: 'transferTimeout', text: "the transfer stalled (no frame within the node's update_frame_timeout_ms, 1 s by default)" },
  { name: 'writeFailed', text: 'writing to the flash failed' },
  { name: 'outOfOrder', text: 'the request came out of order' },
  { name: 'filesMissing', text: 'not every file arrived before the commit' },
  { name: 'busy', text: 'the node is busy (verifying, installing, or its last update has not confirmed itself yet)' },
  { name: 'tooLarge', text: 'the manifest is too large for the node' },
  { name: 'stagedDamaged', text: 'a staged file no longer matches on the flash' },
  { name: 'notSame', text: 'the running firmware has no identical copy of the file' },
];

export interface Info {
  state: UpdateStateName;
  /** Consecutive frames the node takes before its next flow control. */
  blockSize: number;
  stMin: number;
  freeBytes: number;
  last: LastInstallName;
}

export interface Result {
  request: number;
  code: number;
  /** File index, free bytes (noSpace), errno (writeFailed), or 0. */
  detail: number;
}

export type NodeAnswer = { kind: 'info'; info: Info } | { kind: 'result'; result: Result };

/** A single-frame payload from the node -> its meaning, or undefined when it is neither answer. */
export function decodeAnswer(payload: Buffer): NodeAnswer | undefined {
  if (payload.length === 7 && payload[0] === Answer.info) {
    const state = UpdateState[payload[1]];
    const last = LastInstall[payload[6]];
    if (state === undefined || last === undefined) return undefined;
    return { kind: 'info', info: { state, blockSize: payload[2], stMin: payload[3], freeBytes: payload.readUInt16LE(4) * 1024, last } };
  }
  if (payload.length === 7 && payload[0] === Answer.result) {
    return { kind: 'result', result: { request: payload[1], code: payload[2], detail: payload.readUInt32LE(3) } };
  }
  return undefined;
}

export function encodeRequest(request: Exclude<RequestName, 'begin' | 'file' | 'copy'>): Buffer {
  return Buffer.from([Request[request]]);
}

/** "Copy file `index` from the firmware you run, if yours is the same": no need to send it. */
export function encodeCopy(index: number): Buffer {
  return Buffer.from([Request.copy, index]);
}

export function encodeBegin(signature: Buffer, manifest: Buffer): Buffer {
  return Buffer.concat([Buffer.from([Request.begin]), signature, manifest]);
}

export function encodeFile(index: number, contents: Buffer): Buffer {
  return Buffer.concat([Buffer.from([Request.file, index]), contents]);
}

/** "the bundle is not signed ..." with the detail that matters for the code. */
export function describeResult(result: Result, fileName?: (index: number) => string): string {
  const entry = RESULTS[result.code];
  if (!entry) return `result code ${result.code} (unknown to this gateway)`;
  const aboutFile = result.request === Request.file || result.request === Request.commit || result.request === Request.copy;
  const file = !aboutFile ? 'the manifest' : fileName ? fileName(result.detail) : `file ${result.detail}`;
  switch (entry.name) {
    case 'noSpace':
      return `${entry.text}: ${Math.floor(result.detail / 1024)} KiB free`;
    case 'fileCorrupt':
    case 'fileSize':
    case 'stagedDamaged':
    case 'filesMissing':
    case 'transferBroken':
    case 'transferTimeout':
      return `${entry.text}: ${file}`;
    case 'writeFailed':
      return `${entry.text} (error ${result.detail})`;
    default:
      return entry.text;
  }
}

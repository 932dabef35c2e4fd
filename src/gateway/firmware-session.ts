/**
 * One socket's firmware update, from the gateway's side (docs/protocol.md, "Firmware transfer"):
 * ask the node's state, send the signed manifest and every file, commit, then watch the node reboot
 * into the new firmware and confirm it, or come back with the old one. Each step's failure ends the
 * update with what the node said; before the commit an abort tells the node to drop what it staged.
 */
import type { CanBus } from '../can/can-bus.js';
import type { Message } from '../can/codec.js';
import { FirmwareChannel, TransferTimeoutError } from '../can/firmware-channel.js';
import {
  describeResult,
  encodeBegin,
  encodeCopy,
  encodeFile,
  encodeRequest,
  Request,
  type Info,
  type NodeAnswer,
} from '../can/firmware-protocol.js';
import type { FirmwareStage } from '../contracts/firmware.js';
import type { Commands } from './commands.js';
import type { VerifiedBundle } from './firmware-bundle.js';

export class UpdateFailedError extends Error {}

export interface SessionOptions {
  bus: CanBus;
  commands: Commands;
  node: number;
  bundle: VerifiedBundle;
  /** The version the node runs now (its last heartbeat). */
  from: string | undefined;
  gapMs: number;
  flowTimeoutMs: number;
  confirmTimeoutMs: number;
  /** Time the node has to answer a request once its last frame is out (the signature check is the slowest). */
  answerTimeoutMs: number;
  onStage: (stage: FirmwareStage) => void;
  onProgress: (sentBytes: number, totalBytes: number) => void;
  /** What the node reported about itself at the start. */
  onInfo?: (info: Info) => void;
  /** Stops the update (the gateway is stopping): before the commit the node is told to drop it. */
  signal?: AbortSignal;
  /** A file the node copied from the firmware it runs instead of receiving it. */
  onCopied?: (path: string) => void;
}

const OK = 0;
/** A file's answer needs no signature check: its SHA-256 (or a copy) is quick even on an ESP32. */
const FILE_ANSWER_MS = 10_000;
const QUERY_TRIES = 3;
const POLL_MS = 1000;

export async function runSession(o: SessionOptions): Promise<void> {
  const { bundle } = o;
  const payloads = [encodeBegin(bundle.signature, bundle.manifestBytes), ...bundle.contents.map((c, i) => encodeFile(i, c))];
  const total = payloads.reduce((n, p) => n + p.length, 0);
  let before = 0;
  const channel = new FirmwareChannel({
    bus: o.bus,
    node: o.node,
    gapMs: o.gapMs,
    flowTimeoutMs: o.flowTimeoutMs,
    onProgress: (sent) => o.onProgress(before + sent, total),
  });
  const fileName = (i: number) => bundle.manifest.files[i]?.path ?? `file ${i}`;
  const fileTimeoutMs = Math.min(FILE_ANSWER_MS, o.answerTimeoutMs);
  let committed = false;
  const onAbort = () => channel.close();
  o.signal?.addEventListener('abort', onAbort);
  try {
    o.onStage('checking');
    const info = await query(channel);
    o.onInfo?.(info);
    if (info.state === 'trial') throw new UpdateFailedError('the node is still confirming its last update; try again in a minute');
    if (info.state === 'verifying' || info.state === 'installing') throw new UpdateFailedError(`the node is busy (${info.state})`);

    o.onStage('transferring');
    for (const [i, payload] of payloads.entries()) {
      const request = i === 0 ? Request.begin : Request.file;
      if (i > 0 && (await copied(channel, i - 1, fileTimeoutMs))) {
        o.onCopied?.(fileName(i - 1));
        before += payload.length;
        o.onProgress(before, total);
        continue;
      }
      const answer = await channel.request(payload, resultFor(request), i === 0 ? o.answerTimeoutMs : fileTimeoutMs);
      const result = (answer as Extract<NodeAnswer, { kind: 'result' }>).result;
      if (result.code !== OK)
        throw new UpdateFailedError(`the node refused ${i === 0 ? 'the manifest' : fileName(i - 1)}: ${describeResult(result, fileName)}`);
      before += payload.length;
      o.onProgress(before, total);
    }
    o.onStage('installing');
    // Without an answer the commit may or may not have happened (the node lost power, or reset before
    // its answer went out): what the node boots next tells, so both go on to the confirmation.
    committed = true;
    const commit = await channel.request(encodeRequest('commit'), resultFor(Request.commit), o.answerTimeoutMs).catch((error: unknown) => {
      if (error instanceof TransferTimeoutError) return undefined;
      throw error;
    });
    const result = commit?.kind === 'result' ? commit.result : undefined;
    if (result && result.code !== OK) throw new UpdateFailedError(`the node refused the commit: ${describeResult(result, fileName)}`);
    o.onStage('confirming');
    await confirm(o, channel);
  } catch (error) {
    if (!committed) channel.request(encodeRequest('abort'), resultFor(Request.abort), 500).catch(() => undefined);
    if (error instanceof UpdateFailedError) throw error;
    throw new UpdateFailedError((error as Error).message);
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    setTimeout(() => channel.close(), 600).unref();
  }
}

const resultFor = (request: number) => (a: NodeAnswer) => a.kind === 'result' && a.result.request === request;

/** Asks the node to copy file `index` from the firmware it runs; false when it has no identical copy. */
async function copied(channel: FirmwareChannel, index: number, timeoutMs: number): Promise<boolean> {
  const answer = await channel.request(encodeCopy(index), resultFor(Request.copy), timeoutMs);
  return answer.kind === 'result' && answer.result.code === OK;
}

/** Why a node that rebooted runs another version than the update's. */
function notInstalled(last: Info['last'], running: string): string {
  if (last === 'rolled back') return `the new firmware did not confirm itself in time and was rolled back; the node runs ${running} again`;
  if (last === 'refused') return `the node's boot step refused the staged files (damaged on its flash); it still runs ${running}`;
  return `the node came back with ${running}: the commit did not take effect (power lost before it was written?)`;
}

async function query(channel: FirmwareChannel): Promise<Info> {
  let last: unknown;
  for (let i = 0; i < QUERY_TRIES; i++) {
    try {
      const answer = await channel.request(encodeRequest('query'), (a) => a.kind === 'info', 2000);
      if (answer.kind === 'info') return answer.info;
    } catch (error) {
      last = error;
    }
  }
  throw new UpdateFailedError(
    `the node does not answer firmware requests (${(last as Error).message}): is its firmware older than the update protocol?`,
  );
}

/**
 * After the commit the node resets. The update is done when the node runs the new version and says it
 * confirmed it; it failed when the node, no longer installing or on trial, runs another version: its
 * boot step refused the files, the new firmware did not confirm itself and was rolled back, or the
 * commit never took effect (the node lost power before writing it).
 */
function confirm(o: SessionOptions, channel: FirmwareChannel): Promise<void> {
  const to = o.bundle.version;
  return new Promise<void>((resolve, reject) => {
    let running = o.from;
    let asking = false;
    const finish = (error?: Error) => {
      clearInterval(timer);
      clearTimeout(deadline);
      o.bus.off('message', onMessage);
      if (error) reject(error);
      else resolve();
    };
    const onMessage = (m: Message) => {
      if (m.type === 'heartbeat' && m.node === o.node) running = m.firmware;
    };
    const poll = async () => {
      if (asking) return;
      asking = true;
      try {
        // A new firmware confirms itself only after a CAN reply: give it a command to answer.
        o.commands.fire(o.node, { op: 'reportNow' });
        const answer = await channel.request(encodeRequest('query'), (a) => a.kind === 'info', POLL_MS);
        if (answer.kind !== 'info') return;
        const { state, last } = answer.info;
        if (state !== 'idle' || running === undefined) return; // installing, rebooting, on trial
        if (running === to && last === 'installed') finish();
        else if (running !== to) finish(new UpdateFailedError(notInstalled(last, running)));
      } catch {
        // resetting or booting: ask again at the next poll
      } finally {
        asking = false;
      }
    };
    o.bus.on('message', onMessage);
    o.signal?.addEventListener('abort', () => finish(new UpdateFailedError('the gateway stopped before the node confirmed the update')));
    const timer = setInterval(() => void poll(), POLL_MS);
    const deadline = setTimeout(
      () =>
        finish(
          new UpdateFailedError(
            `no confirmation from the node within ${o.confirmTimeoutMs / 1000} s (it runs ${running ?? 'nothing it reported'})`,
          ),
        ),
      o.confirmTimeoutMs,
    );
  });
}

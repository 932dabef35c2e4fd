import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePdu, encodePdu, frameBits, IsoTpSender, pacingGapMs, segment, stMinMs, type IsoTpPdu } from '../../src/can/isotp.js';

/** Reassembles what a sender put on the bus, as a receiver would (checking the sequence numbers). */
function reassemble(frames: Buffer[]): Buffer {
  const first = decodePdu(frames[0]);
  assert.ok(first.ok);
  if (first.pdu.kind === 'single') return Buffer.from(first.pdu.data, 'hex');
  assert.equal(first.pdu.kind, 'first');
  const { length } = first.pdu as Extract<IsoTpPdu, { kind: 'first' }>;
  const parts = [Buffer.from((first.pdu as { data: string }).data, 'hex')];
  let seq = 1;
  for (const frame of frames.slice(1)) {
    const r = decodePdu(frame);
    assert.ok(r.ok && r.pdu.kind === 'consecutive');
    assert.equal(r.pdu.seq, seq);
    seq = (seq + 1) & 0xf;
    parts.push(Buffer.from(r.pdu.data, 'hex'));
  }
  return Buffer.concat(parts).subarray(0, length);
}

test('segment() and a receiver give back every message length, across the 12-bit and the escaped first frame', () => {
  for (const length of [1, 7, 8, 13, 14, 100, 4095, 4096, 20_000]) {
    const message = Buffer.from(Array.from({ length }, (_, i) => (i * 31 + length) & 0xff));
    const frames = segment(message);
    assert.ok(
      frames.every((f) => f.length === 8),
      'every frame has DLC 8',
    );
    const expected = length <= 7 ? 1 : length <= 4095 ? 1 + Math.ceil((length - 6) / 7) : 1 + Math.ceil((length - 2) / 7);
    assert.equal(frames.length, expected, `${length} bytes`);
    assert.deepEqual(reassemble(frames), message, `${length} bytes`);
  }
});

test('every frame kind encodes and decodes to itself; padding is 0xCC', () => {
  const pdus: IsoTpPdu[] = [
    { kind: 'single', data: '01' },
    { kind: 'first', length: 300, data: '02aabbccddee' },
    { kind: 'first', length: 70_000, data: '0301' },
    { kind: 'consecutive', seq: 15, data: '00112233445566' },
    { kind: 'flow', status: 'wait', blockSize: 8, stMin: 0xf3 },
  ];
  for (const pdu of pdus) assert.deepEqual(decodePdu(encodePdu(pdu)), { ok: true, pdu });
  assert.equal(encodePdu({ kind: 'single', data: '01' }).toString('hex'), '0101cccccccccccc');
});

test('frame lengths and pacing: an 8-byte frame is 135 bits at worst; half of 125 kbit/s is one frame per 2.16 ms', () => {
  assert.equal(frameBits(8), 135);
  assert.equal(frameBits(0), 55);
  assert.ok(Math.abs(pacingGapMs(125_000, 0.5) - 2.16) < 1e-9);
  assert.deepEqual([stMinMs(0), stMinMs(10), stMinMs(0xf1), stMinMs(0xf9), stMinMs(0x80)], [0, 10, 0.1, 0.9, 127]);
});

test('the sender waits for flow control after each block, and paces its frames to the gap it was given', async () => {
  const sent: { data: Buffer; at: number }[] = [];
  const sender = new IsoTpSender({
    send: (data) => {
      sent.push({ data, at: performance.now() });
      return true;
    },
    gapMs: 5,
  });
  const message = Buffer.alloc(6 + 7 * 9, 0x5a); // first frame + 9 consecutive frames
  const done = sender.send(message);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(sent.length, 1, 'only the first frame before the receiver grants a block');
  sender.flow({ kind: 'flow', status: 'continue', blockSize: 4, stMin: 0 });
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(sent.length, 5, 'one block of 4');
  sender.flow({ kind: 'flow', status: 'continue', blockSize: 0, stMin: 0 });
  await done;
  assert.equal(sent.length, 10);
  assert.deepEqual(reassemble(sent.map((s) => s.data)), message);
  // 5 ms apart on average: the last block of 5 frames took at least 4 gaps minus one burst
  const block = sent.slice(5);
  assert.ok(block[4].at - block[0].at >= 3 * 5 - 1, `paced: ${(block[4].at - block[0].at).toFixed(1)} ms for 5 frames`);
});

test('overflow, silence and a bus that refuses frames each end the send with the reason', async () => {
  const overflow = new IsoTpSender({ send: () => true, gapMs: 0 });
  const a = overflow.send(Buffer.alloc(100));
  overflow.flow({ kind: 'flow', status: 'overflow', blockSize: 0, stMin: 0 });
  await assert.rejects(a, /cannot take a 100-byte message/);

  const silent = new IsoTpSender({ send: () => true, gapMs: 0, flowTimeoutMs: 50 });
  await assert.rejects(silent.send(Buffer.alloc(100)), /no flow control from the receiver within 50 ms/);

  const refused = new IsoTpSender({ send: () => false, gapMs: 0 });
  await assert.rejects(refused.send(Buffer.alloc(3)), /refused a transfer frame/);

  const waiting = new IsoTpSender({ send: () => true, gapMs: 0, flowTimeoutMs: 1000, maxWaits: 2 });
  const w = waiting.send(Buffer.alloc(100));
  for (let i = 0; i < 3; i++) waiting.flow({ kind: 'flow', status: 'wait', blockSize: 0, stMin: 0 });
  await assert.rejects(w, /kept answering "wait"/);
});

test('a receiver STmin slows the sender below its own gap', async () => {
  const sent: number[] = [];
  const sender = new IsoTpSender({
    send: () => {
      sent.push(performance.now());
      return true;
    },
    gapMs: 0,
  });
  const done = sender.send(Buffer.alloc(6 + 7 * 5));
  sender.flow({ kind: 'flow', status: 'continue', blockSize: 0, stMin: 20 });
  await done;
  const cf = sent.slice(1);
  assert.ok(
    cf[cf.length - 1] - cf[0] >= 4 * 20 - 2,
    `5 consecutive frames at STmin 20 ms took ${(cf[cf.length - 1] - cf[0]).toFixed(1)} ms`,
  );
});

// The node's Ed25519 verifier (firmware/canplug/ed25519.py) on the real MicroPython VM against
// node:crypto (OpenSSL): every signature OpenSSL makes verifies, every altered one fails, with the
// same verdict as OpenSSL's own verify. Also times one verification of a manifest-sized message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { hostFiles, MicroPythonVm } from '../helpers/micropython-vm.js';

const FIRMWARE = fileURLToPath(new URL('../../firmware/canplug', import.meta.url));

function rawPublicKey(key: ReturnType<typeof generateKeyPairSync>['publicKey']): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(-32);
}

interface Case {
  name: string;
  publicKey: Buffer;
  message: Buffer;
  signature: Buffer;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const length of [0, 1, 31, 64, 111, 112, 127, 128, 129, 500, 1024, 3000]) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const message = randomBytes(length);
    const signature = sign(null, message, privateKey);
    const pk = rawPublicKey(publicKey);
    out.push({ name: `valid, ${length} bytes`, publicKey: pk, message, signature });
    const flipped = Buffer.from(signature);
    flipped[length % 64] ^= 1 << (length % 8);
    out.push({ name: `signature bit flipped, ${length} bytes`, publicKey: pk, message, signature: flipped });
    if (length > 0) {
      const changed = Buffer.from(message);
      changed[length - 1] ^= 0x80;
      out.push({ name: `message changed, ${length} bytes`, publicKey: pk, message: changed, signature });
    }
    const other = rawPublicKey(generateKeyPairSync('ed25519').publicKey);
    out.push({ name: `another key, ${length} bytes`, publicKey: other, message, signature });
  }
  return out;
}

test('the node verifies Ed25519 exactly as OpenSSL does, on the MicroPython VM', { timeout: 300_000 }, async (t) => {
  const vm = await MicroPythonVm.boot({
    heapBytes: 1 << 20,
    files: hostFiles(FIRMWARE, '/flash/canplug', (f) => f.endsWith('.py')),
    cwd: '/flash',
  });
  t.after(() => vm.kill());
  await vm.exec(`
import binascii
from canplug import ed25519
def check(pk, msg, sig):
    return ed25519.verify(binascii.unhexlify(pk), binascii.unhexlify(msg), binascii.unhexlify(sig))
`);
  let valid = 0;
  for (const c of cases()) {
    const openssl = verify(
      null,
      c.message,
      { key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), c.publicKey]), format: 'der', type: 'spki' },
      c.signature,
    );
    const node = await vm.call('check', c.publicKey.toString('hex'), c.message.toString('hex'), c.signature.toString('hex'));
    assert.equal(node, openssl, c.name);
    if (openssl) valid++;
  }
  assert.equal(valid, 12, 'every unaltered signature verified');

  // A manifest-sized message (3 KB): the time one verification takes on this VM, all steps in one call.
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const message = randomBytes(3000);
  const signature = sign(null, message, privateKey);
  const args = [rawPublicKey(publicKey).toString('hex'), message.toString('hex'), signature.toString('hex')] as const;
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    assert.equal(await vm.call('check', ...args), true);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  t.diagnostic(
    `Ed25519 verification of a 3000-byte manifest on the MicroPython VM: median ${Math.round(times[1])} ms (${times.map(Math.round).join(', ')} ms)`,
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { deviceNameFor, parseDatagram, relayFromPlugValue } from '../../src/wifi/datagram.js';

const parse = (text: string | Uint8Array, max = 1024) => parseDatagram(typeof text === 'string' ? Buffer.from(text) : text, max);

test('the broadcast from the issue parses: chip id, node name, numeric things, the clock as text', () => {
  const result = parse('1234567:Kitchen&1:1&2:118.5&3:0.9&4:2026-11-22 10:00:00');
  assert.ok(result.ok, !result.ok ? result.error : '');
  const d = result.datagram;
  assert.equal(d.chipId, '1234567');
  assert.equal(d.nodeName, 'Kitchen');
  assert.deepEqual(
    [...d.values],
    [
      [1, 1],
      [2, 118.5],
      [3, 0.9],
    ],
  );
  assert.deepEqual([...d.texts], [[4, '2026-11-22 10:00:00']]);
});

test('the firmware prints floats with two decimals and may end with a NUL or a line end', () => {
  const result = parse('16777215:SmartPlugEsp&1:0.00&2:0.00&3:1.00&4:23:59:59 - 31.12.2026\0');
  assert.ok(result.ok);
  assert.equal(result.datagram.values.get(1), 0);
  assert.equal(result.datagram.values.get(3), 1);
  assert.equal(result.datagram.texts.get(4), '23:59:59 - 31.12.2026');
  assert.ok(parse('7:Plug&1:1.00\r\n').ok);
});

test('thing 1 holds any float, as the firmware stores it: the relay is on for a non-zero integer part', () => {
  const relay = (text: string) => {
    const result = parse(`1234567:Kitchen&1:${text}&2:0.00`);
    assert.ok(result.ok, `${text} refused: ${!result.ok ? result.error : ''}`);
    return relayFromPlugValue(result.datagram.values.get(1)!);
  };
  assert.equal(relay('0.00'), false);
  assert.equal(relay('1.00'), true);
  assert.equal(relay('2.00'), true, 'its page or another client may store 2');
  assert.equal(relay('0.50'), false, 'digitalWrite takes the integer part');
  assert.equal(relay('1.99'), true);
  assert.equal(relay('-1.00'), true);
  assert.equal(relay('nan'), undefined, 'the firmware prints a NaN as "nan": the relay is unknown, the plug still online');
  assert.equal(relay('inf'), undefined);
});

test('the clock arrives as the firmware prints it (H:MM:SS - D.M.YYYY), its colons and all', () => {
  const result = parse('1234567:SmartPlugEsp&1:0.00&2:0.00&3:1.00&4:0:00:07 - 1.1.2000');
  assert.ok(result.ok);
  assert.equal(result.datagram.texts.get(4), '0:00:07 - 1.1.2000');
});

test('malformed datagrams are refused with the reason', () => {
  const cases: [string | Uint8Array, RegExp][] = [
    ['1234567Kitchen&1:1', /no ":" between chip id and node name/],
    ['1234567:Kitchen', /no things/],
    ['1234567:Kitchen&1', /thing "1" has no ":"/],
    ['1234567:Kitchen&11&2:5', /has no ":"/],
    ['abc:Kitchen&1:1', /chip id "abc"/],
    ['99999999999:Kitchen&1:1', /chip id/],
    ['1234567:&1:1', /empty node name/],
    ['1234567:Kitchen&1:on', /thing 1 value "on" is not a number/],
    ['1234567:Kitchen&2:nan', /not a number/],
    ['1234567:Kitchen&2:', /not a number/],
    ['1234567:Kitchen&2:1e', /not a number/],
    ['1234567:Kitchen&x:1', /thing id "x"/],
    ['1234567:Kitchen&0:1', /thing id "0"/],
    ['1234567:Kitchen&1:1&1:0', /thing 1 appears twice/],
    ['1234567:Kitchen&1:1e999', /out of range/],
    ['1234567:Kitchen&1:on', /thing 1 value "on" is not a number/],
    ['1234567:Kitchen&2:-5', /negative/],
    ['1234567:Kit\u0007chen&1:1', /control characters/],
    [Buffer.from([0x31, 0x3a, 0xff, 0xfe, 0x26, 0x31, 0x3a, 0x31]), /not UTF-8/],
    [`1234567:${'x'.repeat(200)}&1:1`, /node name longer than 127/],
    [`1234567:Kitchen${'&2:1'.repeat(300)}`, /over the 1024-byte limit/],
    [`1234567:Kitchen&4:${'9'.repeat(50)}`, /longer than 40/],
  ];
  for (const [input, reason] of cases) {
    const result = parse(input);
    assert.equal(result.ok, false, `accepted ${JSON.stringify(input.toString())}`);
    if (!result.ok) assert.match(result.error, reason, JSON.stringify(input.toString()));
  }
});

test('no input makes the parser throw, and anything it accepts has a chip id, a name and a thing', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const result = parseDatagram(bytes, 256);
      if (result.ok) {
        assert.match(result.datagram.chipId, /^\d+$/);
        assert.ok(result.datagram.nodeName.length > 0);
        assert.ok(result.datagram.values.size + result.datagram.texts.size > 0);
      }
    }),
    { numRuns: 2000 },
  );
  // Text built from the format's own characters finds the edge cases faster than random bytes.
  const alphabet = fc.constantFrom(...'0123456789:&.-eE Kn\0'.split(''));
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 40 }), (chars) => {
      parseDatagram(Buffer.from(chars.join('')), 256);
    }),
    { numRuns: 2000 },
  );
});

test('node names become device names the registry accepts', () => {
  assert.equal(deviceNameFor('Kitchen'), 'Kitchen');
  assert.equal(deviceNameFor('Living room/lamp'), 'Living room-lamp');
  assert.equal(deviceNameFor('  _heater'), 'heater');
  assert.equal(deviceNameFor('Küche'), 'K-che');
  assert.equal(deviceNameFor('12345'), undefined, 'digits only would address a CAN node id');
  assert.equal(deviceNameFor('bridge'), undefined);
  assert.equal(deviceNameFor('***'), undefined);
  assert.equal(deviceNameFor('x'.repeat(100))?.length, 64);
});

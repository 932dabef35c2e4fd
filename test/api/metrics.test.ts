import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, waitFor } from '../helpers/gateway.js';

function value(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

test('/metrics counts frames, times database flushes and MQTT acknowledgements, and has the rule counter', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const scrape = async () => (await tg.gateway.parts.api.inject({ url: '/metrics' })).body;
  const text = await waitFor(
    async () => {
      const body = await scrape();
      return (value(body, 'canplug_db_flush_seconds_count') ?? 0) > 0 && body;
    },
    3000,
    'a database flush observed',
  );
  const res = await tg.gateway.parts.api.inject({ url: '/metrics' });
  assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
  assert.ok(value(text, 'canplug_can_frames_received_total')! > 0);
  assert.ok(value(text, 'canplug_can_frames_sent_total')! > 0, 'discovery was sent');
  for (const name of ['canplug_can_frames_unknown_total', 'canplug_can_frames_lost_total', 'canplug_rules_fired_total']) {
    assert.equal(typeof value(text, name), 'number', name);
  }
  // The bridge's "online" is published with QoS 1 on connect: its acknowledgement is timed.
  assert.ok(value(text, 'canplug_mqtt_round_trip_seconds_count')! >= 1);
  assert.ok(value(text, 'canplug_mqtt_round_trip_seconds_sum')! > 0);
});

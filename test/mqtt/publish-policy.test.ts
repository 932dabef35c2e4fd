import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, waitFor, authHeaders } from '../helpers/gateway.js';
import { haView } from '../helpers/ha-rules.js';
import { homeAppliances, mains, NodeFrames, simulatedClock } from '../helpers/load-shapes.js';

const HOUR_S = 3600;

test('an hour of a home on six sockets: Home Assistant gets at least 10x fewer messages per socket, at least one every 5 min, a relay change at once', async (t) => {
  const clock = simulatedClock();
  t.after(() => clock.restore());
  const tg = await startGateway({ can: { sim: { nodes: [] } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const ha = await haView(gateway.mqttUrl(), ['canplug/#']);
  t.after(() => ha.close());
  const appliances = homeAppliances();
  const nodes = appliances.map((a, i) => new NodeFrames(i + 1, a));
  const voltage = mains();
  // What the gateway published before the policy: one state message for every change of a device.
  const changes = new Map<string, number>();
  gateway.parts.events.subscribe('test', { 'device.changed': (d) => changes.set(d.name, (changes.get(d.name) ?? 0) + 1) });
  const peer = gateway.parts.sim.bus!.attach(() => {});
  const mark = ha.log.length;
  // The second of the hour in which the gateway published each state (the subscriber sees it a few loop turns later).
  let second = 0;
  const publishedAt: { topic: string; payload: string; second: number }[] = [];
  const publish = gateway.parts.mqtt.publish.bind(gateway.parts.mqtt);
  gateway.parts.mqtt.publish = (topic, payload, options) => {
    publishedAt.push({ topic, payload: payload.toString(), second });
    publish(topic, payload, options);
  };

  for (let s = 0; s < HOUR_S; s++) {
    second = s;
    const v = voltage(s);
    for (const node of nodes) for (const frame of node.second(s, v)) peer.send(frame);
    await new Promise((r) => setImmediate(r)); // the bus delivers, the gateway handles it all at second s
    clock.advance(1000);
  }
  await new Promise((r) => setTimeout(r, 300));

  const rows: string[] = [];
  let before = 0;
  let after = 0;
  nodes.forEach((node, i) => {
    const name = `socket-${node.node}`;
    const mine = ha.log.slice(mark).filter((m) => m.topic === `canplug/${name}` || m.topic.startsWith(`canplug/${name}/`));
    const states = mine.filter((m) => m.topic === `canplug/${name}`);
    // Availability went online once; the old code published that too.
    const was = (changes.get(name) ?? 0) + mine.length - states.length;
    before += was;
    after += mine.length;
    rows.push(
      `${appliances[i].name.padEnd(7)} ${String(was).padStart(6)} -> ${String(mine.length).padStart(4)} (${(was / mine.length).toFixed(0)}x)`,
    );
    assert.ok(was >= 10 * mine.length, `${appliances[i].name}: ${was} messages before, ${mine.length} now`);
    // At least every max_interval_s (300 s) while it reports: the seconds in which the gateway published.
    const seconds = publishedAt.filter((m) => m.topic === `canplug/${name}`).map((m) => m.second);
    const gaps = seconds.slice(1).map((s, k) => s - seconds[k]);
    assert.ok(Math.max(...gaps) <= 300, `${appliances[i].name}: longest gap ${Math.max(...gaps)} s`);
  });
  t.diagnostic(
    `HA-side messages per socket in the hour, before -> after:\n${rows.join('\n')}\ntotal ${before} -> ${after} (${(before / after).toFixed(1)}x)`,
  );

  // The lamp (socket-6) was switched at 10, 30 and 45 min: each change was published in the second its frame came.
  const lamp = publishedAt
    .filter((m) => m.topic === 'canplug/socket-6')
    .map((m) => ({ second: m.second, state: JSON.parse(m.payload).state }));
  for (const [at, state] of [
    [600, 'ON'],
    [1800, 'OFF'],
    [2700, 'ON'],
  ] as const) {
    assert.equal(lamp.find((m) => m.second >= at && m.state === state)?.second, at, `lamp ${state} at ${at} s`);
  }
  assert.deepEqual(
    publishedAt.filter((m) => m.topic === 'canplug/socket-6').length,
    ha.log.slice(mark).filter((m) => m.topic === 'canplug/socket-6').length,
    'the subscriber got every state published',
  );
});

test('a relay change, an interlock trip, a refusal and a reset reach Home Assistant at once, the safety events with their reason', async (t) => {
  const tg = await startGateway({ can: { sim: { nodes: [1, 2] } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const ha = await haView(gateway.mqttUrl(), ['canplug/#']);
  t.after(() => ha.close());
  await waitFor(
    () => ha.topics.get('canplug/socket-2/availability') === 'online' && ha.topics.has('canplug/socket-2'),
    5000,
    'socket-2 online',
  );
  const state = () => JSON.parse(ha.topics.get('canplug/socket-2')!);
  const nextState = async (mark: number, what: string, check: (s: Record<string, unknown>) => boolean) =>
    waitFor(() => ha.log.slice(mark).find((m) => m.topic === 'canplug/socket-2' && check(JSON.parse(m.payload))), 1000, what);
  const events: Record<string, unknown>[] = [];
  ha.client.on('message', (topic, payload, packet) => {
    if (topic === 'canplug/socket-2/event') events.push({ ...JSON.parse(payload.toString()), retained: packet.retain });
  });

  // Switched off over REST: the next state message says OFF, with no reading having moved.
  let mark = ha.log.length;
  const off = await gateway.parts.api.inject({
    method: 'PUT',
    url: '/api/devices/socket-2/relay',
    headers: authHeaders(gateway),
    payload: { on: false },
  });
  assert.equal(off.statusCode, 200);
  await nextState(mark, 'OFF published', (s) => s.state === 'OFF');
  assert.equal(
    ha.log
      .slice(mark)
      .filter((m) => m.topic === 'canplug/socket-2')[0]
      .payload.includes('"state":"OFF"'),
    true,
    'the first state after the command carries it',
  );

  // Humid bathroom: the node latches; HA hears the interlock at once, and a trip event with its reason.
  mark = ha.log.length;
  gateway.parts.sim.sockets[1].setHumidity(85);
  await nextState(mark, 'interlock published', (s) => s.interlock === true);
  await waitFor(() => events.some((e) => e.event_type === 'trip'), 1000, 'trip event');
  assert.equal(state().interlock, true);
  const trip = events.find((e) => e.event_type === 'trip')!;
  assert.equal(trip.retained, false, 'events are never retained (HA ignores retained events)');
  assert.match(String(trip.reason), /humidity/);

  // A close is refused while latched: the refusal is an event with the reason a person needs.
  const refused = await gateway.parts.api.inject({
    method: 'PUT',
    url: '/api/devices/socket-2/relay',
    headers: authHeaders(gateway),
    payload: { on: true },
  });
  assert.equal(refused.statusCode, 409);
  await waitFor(() => events.some((e) => e.event_type === 'refusal'), 1000, 'refusal event');
  assert.equal(events.find((e) => e.event_type === 'refusal')!.reason, refused.json().error ?? refused.json().message);

  // Dry again and reset by a person: the reset is an event too, and HA sees the interlock go.
  gateway.parts.sim.sockets[1].setHumidity(50);
  await waitFor(() => gateway.parts.registry.find('socket-2')!.state.humidity === 50, 2000, 'dry reading in');
  mark = ha.log.length;
  const reset = await gateway.parts.api.inject({ method: 'POST', url: '/api/devices/socket-2/reset', headers: authHeaders(gateway) });
  assert.equal(reset.statusCode, 200, reset.body);
  await waitFor(() => events.some((e) => e.event_type === 'reset'), 1000, 'reset event');
  await nextState(mark, 'interlock cleared', (s) => s.interlock === false);
  assert.deepEqual(Object.keys(events.find((e) => e.event_type === 'reset')!).sort(), ['event_type', 'origin', 'reason', 'retained']);
});

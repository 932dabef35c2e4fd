/** Is another canplug gateway online on this base topic? Asked by the connection before it publishes (mqtt/namespace.ts says why). */
import type { MqttClient } from 'mqtt';

/** How long another gateway is given to answer the health check. */
const ANSWER_MS = 1000;

/**
 * Another gateway online on this base topic, described, or undefined. Run on the raw client before
 * this gateway publishes anything: its bridge state retained `online` means a gateway is up (or died
 * less than a keepalive ago without its last will yet); a live one answers a `health_check` request.
 */
export async function findLiveGateway(client: MqttClient, baseTopic: string, instance: string): Promise<string | undefined> {
  const topics = {
    state: `${baseTopic}/bridge/state`,
    info: `${baseTopic}/bridge/info`,
    request: `${baseTopic}/bridge/request/health_check`,
    response: `${baseTopic}/bridge/response/health_check`,
  };
  const transaction = `probe-${instance}`;
  const seen: { state?: string; info?: string; echoed?: boolean; answered?: boolean } = {};
  const onMessage = (topic: string, payload: Buffer) => {
    const text = payload.toString();
    if (topic === topics.state) seen.state = text;
    else if (topic === topics.info) seen.info = text;
    else if (topic === topics.request && text.includes(transaction)) seen.echoed = true;
    else if (topic === topics.response && text.includes(transaction)) seen.answered = true;
  };
  client.on('message', onMessage);
  try {
    await client.subscribeAsync(Object.values(topics), { qos: 1 });
    await client.publishAsync(topics.request, JSON.stringify({ transaction }), { qos: 1 });
    // Our own request coming back means the retained messages queued before it have arrived.
    await until(() => seen.echoed === true, 2 * ANSWER_MS);
    if (seen.state !== 'online') return undefined;
    await until(() => seen.answered === true, ANSWER_MS);
    return seen.answered ? describe(seen.info) : undefined;
  } finally {
    client.removeListener('message', onMessage);
    await client.unsubscribeAsync(Object.values(topics)).catch(() => {});
  }
}

function describe(info: string | undefined): string {
  try {
    const i = JSON.parse(info ?? '') as { version?: unknown; host?: unknown; gateway_id?: unknown };
    const parts = [
      typeof i.host === 'string' && `on host ${i.host}`,
      typeof i.gateway_id === 'string' && `gateway id ${i.gateway_id}`,
      typeof i.version === 'string' && `version ${i.version}`,
    ];
    return parts.filter(Boolean).join(', ') || 'no details';
  } catch {
    return 'no details';
  }
}

/** Waits until `check` holds, or `timeoutMs` passed. */
export async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

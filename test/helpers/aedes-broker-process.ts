/**
 * The gateway's embedded broker (aedes) in a process of its own, listening on 127.0.0.1:<argv[2]>:
 * the stand-in for Mosquitto that `startBroker()` (broker.ts) stops, pauses and restarts like one.
 */
import { startEmbeddedBroker } from '../../src/mqtt/embedded-broker.js';

const broker = await startEmbeddedBroker('127.0.0.1', Number(process.argv[2]));
process.once('SIGTERM', () => void broker.close().then(() => process.exit(0)));

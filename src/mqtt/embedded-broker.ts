/** The embedded MQTT broker (aedes) used when no broker URL is configured: the demo needs nothing installed. */
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(host: string, port: number): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
  // No Nagle delay: a relay command is one small packet and must not wait for the previous one's ACK.
  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`the embedded MQTT broker cannot listen on ${host}:${port}: the port is in use (is another broker running? set mqtt.url to use it)`)
          : error,
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as { port: number }).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `mqtt://${urlHost}:${actual}`,
    port: actual,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

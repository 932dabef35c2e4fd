/**
 * The embedded MQTT broker (aedes) used when no broker URL is configured: the demo needs nothing installed.
 * With credentials (mqtt.username / mqtt.password) every client must log in with them; without, it
 * takes anyone, which is why it listens on 127.0.0.1 by default (docs/security.md).
 */
import { createServer, type Server } from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import { tokensEqual } from '../tokens-equal.js';

export interface BrokerCredentials {
  username: string;
  password: string;
}

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(host: string, port: number, credentials?: BrokerCredentials): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker(
    credentials
      ? {
          authenticate: (_client, username, password, done) => {
            // Constant-time, like the API token: a wrong guess must not tell how close it was.
            const ok = tokensEqual(username ?? '', credentials.username) && tokensEqual(password?.toString('utf8') ?? '', credentials.password);
            if (ok) return done(null, true);
            const error = Object.assign(new Error('bad username or password'), { returnCode: 4 }) as AuthenticateError;
            done(error, false);
          },
        }
      : {},
  );
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

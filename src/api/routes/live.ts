import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';
import { CLOSE, LIVE_PROTOCOL } from '../../contracts/live.js';
import { liveAccess } from '../auth.js';
import { ErrorResponse } from '../schemas.js';

const DESCRIPTION = `WebSocket. Connect with subprotocols ["${LIVE_PROTOCOL}", "bearer.<token>"] (browsers cannot set an
Authorization header on a WebSocket; tools may send the header or ?token=<token> instead).
Messages are JSON: {"type":"snapshot","devices":[device...]} first, then {"type":"device","device":{...}}
(the object of GET /api/devices/:id, at most 5 per second per device), {"type":"device.removed","key","name"}
and {"type":"event","event":{id,ts,device,type,cause,origin,detail}} (as GET /api/events).
Without a token the stream is read-only (the snapshot says "access":"read"), unless http.read_protection
is on; with the right token "access":"write". A wrong token (or a missing one under read protection)
closes the connection with code ${CLOSE.unauthorized} and the reason.`;

export const liveRoutes: FastifyPluginAsyncTypebox<{ ctx: ApiContext }> = async (app, { ctx }) => {
  const live = ctx.live;
  live.start();
  app.addHook('onClose', async () => live.stop());

  app.route({
    method: 'GET',
    url: '/api/live',
    // The token is checked in wsHandler, after the upgrade, so a browser learns why it was refused.
    config: { access: 'stream' },
    schema: {
      tags: ['live'],
      summary: 'Live stream of device state and events (WebSocket)',
      description: DESCRIPTION,
      response: { 426: ErrorResponse },
    },
    // A plain GET (no upgrade) is told what this is.
    handler: async (_request, reply) =>
      reply
        .status(426)
        .header('upgrade', 'websocket')
        .send({ error: 'this is a WebSocket: connect with a WebSocket client (see /docs)', statusCode: 426 }),
    wsHandler: (socket, request) => {
      const access = liveAccess(ctx.tokens, request, ctx.http.read_protection);
      if (typeof access !== 'string') {
        if (access.wrong) ctx.authFailures.record(request, 'live stream');
        socket.send(JSON.stringify({ type: 'error', error: access.problem }));
        socket.close(CLOSE.unauthorized, 'unauthorized: the API token is missing or wrong');
        return;
      }
      live.add(socket, access);
    },
  });
};

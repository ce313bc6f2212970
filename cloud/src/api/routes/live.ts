import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { LiveFeed } from '../../live/live-feed.js';

/** A client this far behind is cut off rather than allowed to grow the hub's memory. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export const liveRoutes =
  (live: LiveFeed): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/live',
      {
        websocket: true,
        schema: {
          summary: 'WebSocket: pushes {type:"readings"} as readings are stored and {type:"device"} as devices change',
          tags: ['live'],
        },
      },
      (socket) => {
        const unsubscribe = live.subscribe((message) => {
          if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
            socket.close(1013, 'too far behind; reconnect');
            return;
          }
          socket.send(JSON.stringify(message));
        });
        socket.on('close', unsubscribe);
        socket.send(JSON.stringify({ type: 'hello' }));
      },
    );
  };

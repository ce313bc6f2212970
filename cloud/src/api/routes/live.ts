import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { parseHubDeviceId } from '@gatehouse/protocols';
import { EVERY_ROLE, seesEverySite, seesSite } from '../../auth/roles.js';
import type { LiveFeed, LiveMessage } from '../../live/live-feed.js';
import { principalOf } from '../access.js';

/** A client this far behind is cut off rather than allowed to grow the hub's memory. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export const liveRoutes =
  (live: LiveFeed): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/live',
      {
        websocket: true,
        config: { access: { roles: EVERY_ROLE, scope: 'devices:read', site: 'listed' } },
        schema: {
          summary: 'WebSocket: pushes {type:"readings"} and {type:"events"} as they are stored, {type:"device"} as devices change, {type:"command"} as commands progress, and {type:"alarm"} and {type:"work_order"} as alarms and work orders change',
          tags: ['live'],
        },
      },
      (socket, request) => {
        const principal = principalOf(request);
        // What a caller scoped to some sites may see of a message: only their sites' part.
        const visible = (message: LiveMessage): LiveMessage | undefined => {
          if (seesEverySite(principal)) return message;
          switch (message.type) {
            case 'device':
              return seesSite(principal, message.device.site) ? message : undefined;
            case 'command':
              return seesSite(principal, message.command.site) ? message : undefined;
            case 'alarm':
              return seesSite(principal, message.alarm.site) ? message : undefined;
            case 'work_order':
              return seesSite(principal, message.work_order.site) ? message : undefined;
            case 'events': {
              const events = message.events.filter((event) => seesSite(principal, event.site));
              return events.length > 0 ? { ...message, events } : undefined;
            }
            case 'readings': {
              const readings = message.readings.filter((reading) => seesSite(principal, parseHubDeviceId(reading.device)?.site ?? ''));
              return readings.length > 0 ? { ...message, readings } : undefined;
            }
          }
        };
        const unsubscribe = live.subscribe((original) => {
          const message = visible(original);
          if (!message) return;
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

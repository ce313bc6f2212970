import { createServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import { sameSecret } from '../auth/secrets.js';
import { mayPublish, maySubscribe, type BrokerIdentity } from './broker-policy.js';

export interface EmbeddedBroker {
  readonly url: string;
  /**
   * Where the hub's own ingestion connects: the same as `url`, or with TLS a plain listener on
   * loopback, so that ingestion need not trust the certificate (it still authenticates).
   */
  readonly internalUrl: string;
  connectedClients(): number;
  /** Cuts off every connection of a gateway (after its credentials were revoked or replaced). */
  disconnectGateway(site: string, gateway: string): number;
  close(): Promise<void>;
}

/** How the embedded broker tells who a client is. */
export interface BrokerAuth {
  /** The hub's own credentials (its ingestion connects with them). */
  hub: { username: string; password: string };
  /** A gateway's current credentials, checked against the registry. */
  verifyGateway(username: string, password: string): Promise<{ site: string; gateway: string } | undefined>;
  /** Development only: let clients without credentials in, as any gateway. */
  allowAnonymous: boolean;
  log: Logger;
}

export interface BrokerTls {
  cert: Buffer;
  key: Buffer;
}

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3; aedes maps them for MQTT 5 clients. */
const BAD_USERNAME_OR_PASSWORD = 4;

function authError(message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: BAD_USERNAME_OR_PASSWORD });
}

const identityKey = (identity: BrokerIdentity) => (identity.kind === 'gateway' ? `${identity.site}/${identity.gateway}` : identity.kind);

/**
 * The MQTT broker of the embedded deployment: aedes inside the hub process, on TCP or TLS. With
 * `auth`, every client must authenticate and is held to its own topics (broker-policy.ts).
 */
export async function startEmbeddedBroker(host: string, port: number, auth?: BrokerAuth, tls?: BrokerTls): Promise<EmbeddedBroker> {
  const identities = new WeakMap<Client, BrokerIdentity>();
  const byGateway = new Map<string, Set<Client>>();
  const aedes = await Aedes.createBroker(
    auth && {
      authenticate: (client, username, password, done) => {
        const secret = password?.toString('utf8') ?? '';
        const accept = (identity: BrokerIdentity) => {
          identities.set(client, identity);
          done(null, true);
        };
        if (username === undefined || username === '') {
          if (auth.allowAnonymous) return accept({ kind: 'anonymous' });
          auth.log.warn({ client: client.id }, 'mqtt client refused: no credentials');
          return done(authError('credentials required'), false);
        }
        if (username === auth.hub.username) {
          if (sameSecret(secret, auth.hub.password)) return accept({ kind: 'hub' });
        }
        auth.verifyGateway(username, secret).then(
          (gateway) => {
            if (!gateway) {
              auth.log.warn({ client: client.id, username }, 'mqtt client refused: bad credentials');
              return done(authError('bad user name or password'), false);
            }
            accept({ kind: 'gateway', ...gateway });
          },
          (error: unknown) => {
            auth.log.error({ err: error }, 'mqtt authentication failed');
            done(authError('authentication unavailable'), false);
          },
        );
      },
      authorizePublish: (client, packet, done) => {
        // A null client is the broker itself (a Last Will, $SYS): already authorised at connect.
        if (!client) return done(null);
        const identity = identities.get(client);
        if (identity && mayPublish(identity, packet.topic)) return done(null);
        auth.log.warn({ client: client.id, who: identity && identityKey(identity), topic: packet.topic }, 'mqtt publish refused');
        done(new Error(`not authorised to publish to ${packet.topic}`));
      },
      authorizeSubscribe: (client, subscription, done) => {
        const identity = identities.get(client);
        if (identity && maySubscribe(identity, subscription.topic)) return done(null, subscription);
        auth.log.warn({ client: client.id, who: identity && identityKey(identity), filter: subscription.topic }, 'mqtt subscribe refused');
        // A null subscription answers SUBACK 0x80 (failure) for this filter [MQTT-3.9.3].
        done(null, null);
      },
    },
  );
  aedes.on('clientReady', (client) => {
    const identity = identities.get(client);
    if (identity?.kind !== 'gateway') return;
    const key = identityKey(identity);
    const clients = byGateway.get(key) ?? new Set<Client>();
    clients.add(client);
    byGateway.set(key, clients);
  });
  aedes.on('clientDisconnect', (client) => {
    const identity = identities.get(client);
    if (identity?.kind === 'gateway') byGateway.get(identityKey(identity))?.delete(client);
  });

  const server: Server = tls ? createTlsServer({ cert: tls.cert, key: tls.key }, aedes.handle) : createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  let internal: Server | undefined;
  if (tls) {
    internal = createServer(aedes.handle);
    await new Promise<void>((resolve, reject) => {
      internal!.once('error', reject);
      internal!.listen(0, '127.0.0.1', () => resolve());
    });
  }
  const url = `${tls ? 'mqtts' : 'mqtt'}://${host}:${address.port}`;
  return {
    url,
    internalUrl: internal ? `mqtt://127.0.0.1:${(internal.address() as AddressInfo).port}` : url,
    connectedClients: () => aedes.connectedClients,
    disconnectGateway: (site, gateway) => {
      const clients = byGateway.get(`${site}/${gateway}`);
      if (!clients) return 0;
      const count = clients.size;
      for (const client of clients) client.close();
      byGateway.delete(`${site}/${gateway}`);
      return count;
    },
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (internal) await new Promise<void>((resolve) => internal.close(() => resolve()));
    },
  };
}

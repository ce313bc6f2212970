import { TOPIC_ROOT } from '@gatehouse/protocols';

/**
 * Who a broker client is, once authenticated: the hub itself, a gateway speaking for one
 * `{site}/{gateway}`, or (only where a development setting allows it) an anonymous client.
 */
export type BrokerIdentity = { kind: 'hub' } | { kind: 'gateway'; site: string; gateway: string } | { kind: 'anonymous' };

/** What a gateway publishes: its own edge→cloud channels, and the results of commands it was sent. */
export const GATEWAY_PUBLISH_CHANNELS = ['status', 'telemetry', 'events', 'alarms', 'devices', 'cmd/result'] as const;
/** What a gateway subscribes to: its own desired config and commands, never another's. */
export const GATEWAY_SUBSCRIBE_CHANNELS = ['config', 'cmd'] as const;

const SHARE_PREFIX = /^\$share\/[^/+#]+\//;

function ownTopic(site: string, gateway: string, channel: string): string {
  return `${TOPIC_ROOT}/${site}/${gateway}/${channel}`;
}

/** Splits `gatehouse/v1/{site}/{gateway}/{channel}`; wildcards in site or gateway do not match. */
function gatewayPart(topic: string): { site: string; gateway: string; channel: string } | undefined {
  if (!topic.startsWith(`${TOPIC_ROOT}/`)) return undefined;
  const [site, gateway, ...rest] = topic.slice(TOPIC_ROOT.length + 1).split('/');
  if (!site || !gateway || rest.length === 0) return undefined;
  if (/[+#]/.test(site) || /[+#]/.test(gateway)) return undefined;
  return { site, gateway, channel: rest.join('/') };
}

/**
 * May this client publish to this topic? The hub may publish anywhere under the contract's root
 * (config and commands to gateways). A gateway only to its own edge→cloud channels: a stolen
 * gateway cannot speak for another, nor send itself config or commands.
 */
export function mayPublish(identity: BrokerIdentity, topic: string): boolean {
  if (identity.kind === 'hub') return topic === TOPIC_ROOT || topic.startsWith(`${TOPIC_ROOT}/`);
  const part = gatewayPart(topic);
  if (!part || !(GATEWAY_PUBLISH_CHANNELS as readonly string[]).includes(part.channel)) return false;
  if (identity.kind === 'anonymous') return true;
  return part.site === identity.site && part.gateway === identity.gateway;
}

/**
 * May this client subscribe to this filter? The hub to anything under the root, shared or not.
 * A gateway only to exactly its own config and cmd topics: no wildcards, so that it can never
 * read another gateway's traffic.
 */
export function maySubscribe(identity: BrokerIdentity, filter: string): boolean {
  if (identity.kind === 'hub') {
    const unshared = filter.replace(SHARE_PREFIX, '');
    return unshared === `${TOPIC_ROOT}/#` || unshared.startsWith(`${TOPIC_ROOT}/`);
  }
  if (/[+#]/.test(filter)) return false;
  const part = gatewayPart(filter);
  if (!part || !(GATEWAY_SUBSCRIBE_CHANNELS as readonly string[]).includes(part.channel)) return false;
  if (identity.kind === 'anonymous') return true;
  return filter === ownTopic(identity.site, identity.gateway, part.channel);
}

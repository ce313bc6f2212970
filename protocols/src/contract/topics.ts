/**
 * The topic tree of the edge↔cloud contract: `gatehouse/v1/{site}/{gateway}/{channel}`.
 * Retain and QoS per channel are part of the contract, so they live here beside the names.
 */
export const TOPIC_ROOT = 'gatehouse/v1';

export const CHANNELS = {
  status: { direction: 'edge→cloud', retain: true, qos: 1 },
  telemetry: { direction: 'edge→cloud', retain: false, qos: 1 },
  events: { direction: 'edge→cloud', retain: false, qos: 1 },
  alarms: { direction: 'edge→cloud', retain: false, qos: 1 },
  devices: { direction: 'edge→cloud', retain: true, qos: 1 },
  config: { direction: 'cloud→edge', retain: true, qos: 1 },
  cmd: { direction: 'cloud→edge', retain: false, qos: 1 },
  'cmd/result': { direction: 'edge→cloud', retain: false, qos: 1 },
} as const;

export type Channel = keyof typeof CHANNELS;

export function topicFor(site: string, gateway: string, channel: Channel): string {
  return `${TOPIC_ROOT}/${site}/${gateway}/${channel}`;
}

/** A subscription filter matching one channel of every gateway of every site. */
export function allGatewaysFilter(channel: Channel): string {
  return `${TOPIC_ROOT}/+/+/${channel}`;
}

export interface ParsedTopic {
  site: string;
  gateway: string;
  channel: Channel;
}

export function parseTopic(topic: string): ParsedTopic | undefined {
  const prefix = `${TOPIC_ROOT}/`;
  if (!topic.startsWith(prefix)) return undefined;
  const rest = topic.slice(prefix.length).split('/');
  const [site, gateway, ...channelParts] = rest;
  const channel = channelParts.join('/');
  if (!site || !gateway || !(channel in CHANNELS)) return undefined;
  return { site, gateway, channel: channel as Channel };
}

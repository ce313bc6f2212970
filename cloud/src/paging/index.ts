export type { DeliveryOutcome, Page, PageChannel, Recipient } from './channel.js';
export { parseChannelConfig, PagingConfigError, type ChannelConfig } from './config.js';
export { createChannel, type ChannelOptions } from './create-channel.js';
export { SMS_MAX_CHARS } from './render.js';

import { failed, type Deliver, type DeliveryOutcome, type PageChannel } from './channel.js';
import { parseChannelConfig, secretsOf, type ChannelConfig } from './config.js';
import { dingtalkDelivery } from './dingtalk.js';
import { emailDelivery } from './email.js';
import { redact } from './redact.js';
import { smsDelivery } from './sms.js';
import { webhookDelivery } from './webhook.js';
import { wecomDelivery } from './wecom.js';

export interface ChannelOptions {
  /** A delivery not finished by then (10 s unless given) is abandoned and reported as a retryable failure. */
  timeoutMs?: number;
}

const DEFAULT_DELIVERY_TIMEOUT_MS = 10_000;

function deliveryFor(config: ChannelConfig, timeoutMs: number): Deliver {
  switch (config.type) {
    case 'webhook':
      return webhookDelivery(config, timeoutMs);
    case 'wecom':
      return wecomDelivery(config, timeoutMs);
    case 'dingtalk':
      return dingtalkDelivery(config, timeoutMs);
    case 'email':
      return emailDelivery(config, timeoutMs);
    case 'sms':
      return smsDelivery(config, timeoutMs);
  }
}

function redactOutcome(outcome: DeliveryOutcome, secrets: readonly string[]): DeliveryOutcome {
  if (outcome.ok) return outcome.detail === undefined ? outcome : { ok: true, detail: redact(outcome.detail, secrets) };
  return { ...outcome, error: redact(outcome.error, secrets) };
}

/**
 * Validates a channel config (throwing a PagingConfigError that names each wrong field) and
 * returns the channel. Whatever an adapter reports passes through here, where the config's
 * secrets are hidden and an unexpected exception becomes a failure, so `deliver` never throws.
 */
export function createChannel(config: unknown, options: ChannelOptions = {}): PageChannel {
  const valid = parseChannelConfig(config);
  const deliver = deliveryFor(valid, options.timeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS);
  const secrets = secretsOf(valid);
  return {
    type: valid.type,
    async deliver(page, recipient) {
      try {
        return redactOutcome(await deliver(page, recipient), secrets);
      } catch (error) {
        // Not a failure any adapter foresaw, so nothing says a retry would fail too.
        return redactOutcome(failed(true, `${valid.type} delivery failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`), secrets);
      }
    },
  };
}

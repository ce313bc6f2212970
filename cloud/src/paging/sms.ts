import { failed, type Deliver } from './channel.js';
import type { SmsConfig } from './config.js';
import { deliverHttp } from './http-delivery.js';
import { renderSms } from './render.js';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * The template with `{phone}` and `{text}` replaced in its string values. Filling the parsed JSON
 * rather than the template's text keeps a quote or backslash in a title from breaking the body.
 */
function fill(template: Json, values: { phone: string; text: string }): Json {
  if (typeof template === 'string') return template.replaceAll('{phone}', values.phone).replaceAll('{text}', values.text);
  if (Array.isArray(template)) return template.map((item) => fill(item, values));
  if (template !== null && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([key, value]) => [key, fill(value, values)]));
  }
  return template;
}

/** A text message through an HTTP SMS provider, whose request body the config describes. */
export function smsDelivery(config: SmsConfig, timeoutMs: number): Deliver {
  const template = JSON.parse(config.body) as Json;
  return async (page, recipient) => {
    if (!recipient.phone) return failed(false, `${recipient.name} has no phone number`);
    return deliverHttp({
      url: config.url,
      method: config.method ?? 'POST',
      headers: config.headers ?? {},
      body: JSON.stringify(fill(template, { phone: recipient.phone, text: renderSms(page) })),
      timeoutMs,
    });
  };
}

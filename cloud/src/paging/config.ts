import { z } from 'zod';
import { describeIssues, fieldIssues, type FieldIssue } from '@gatehouse/protocols';

/** fetch refuses a URL with user info; credentials go in a header (SMS) or the query (the robots' keys). */
function hasUserInfo(url: string): boolean {
  // zod runs refinements after a failed format check too; that check reports an unparseable URL.
  if (!URL.canParse(url)) return false;
  const parsed = new URL(url);
  return parsed.username !== '' || parsed.password !== '';
}

const HttpUrl = z
  .url({ protocol: /^https?$/, error: 'an http:// or https:// URL' })
  .refine((url) => !hasUserInfo(url), 'no user:password@ in the URL');
const Port = z.number({ error: 'a port number' }).int().min(1).max(65_535);

/**
 * Our own signed webhook. A short secret would make the signature guessable offline from one
 * captured page.
 */
const WebhookConfig = z.object({
  type: z.literal('webhook'),
  url: HttpUrl,
  secret: z.string().min(16, 'at least 16 characters'),
});

/** A WeCom (企业微信) group robot; its URL carries the robot's key. */
const WecomConfig = z.object({
  type: z.literal('wecom'),
  url: HttpUrl,
});

/** A DingTalk (钉钉) group robot; `secret` is the robot's signing secret (加签, `SEC…`) when it has one. */
const DingtalkConfig = z.object({
  type: z.literal('dingtalk'),
  url: HttpUrl,
  secret: z.string().min(1).optional(),
});

const EmailConfig = z
  .object({
    type: z.literal('email'),
    host: z.string().min(1),
    port: Port,
    /** TLS from the first byte; by default on port 465 only. Otherwise STARTTLS is used when the server offers it. */
    secure: z.boolean().optional(),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /** The sender, `pager@example.com` or `"Gatehouse 值班" <pager@example.com>`. */
    from: z.string().includes('@', { error: 'an email address' }),
  })
  .refine((config) => config.username === undefined || config.password !== undefined, {
    path: ['password'],
    message: 'required with username',
  })
  .refine((config) => config.password === undefined || config.username !== undefined, {
    path: ['username'],
    message: 'required with password',
  });

const PLACEHOLDERS = ['{phone}', '{text}'] as const;

/**
 * An HTTP SMS provider. `body` is the JSON the provider expects, with `{phone}` and `{text}`
 * placeholders in its string values, e.g. `{"to":"{phone}","message":"{text}"}`.
 */
const SmsConfig = z.object({
  type: z.literal('sms'),
  url: HttpUrl,
  method: z.enum(['POST', 'PUT']).optional(),
  /** Sent as they are; provider credentials usually travel here. */
  headers: z
    .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'a header name'), z.string().regex(/^[\t\x20-\x7e]*$/, 'printable ASCII'))
    .optional(),
  body: z.string().superRefine((template, context) => {
    try {
      JSON.parse(template);
    } catch (error) {
      context.addIssue({ code: 'custom', message: `not JSON: ${(error as Error).message}` });
      return;
    }
    for (const placeholder of PLACEHOLDERS) {
      if (!template.includes(placeholder)) context.addIssue({ code: 'custom', message: `has no ${placeholder} placeholder` });
    }
  }),
});

const ChannelConfigSchema = z.discriminatedUnion('type', [WebhookConfig, WecomConfig, DingtalkConfig, EmailConfig, SmsConfig], {
  error: (issue) => (issue.code === 'invalid_union' ? 'one of webhook, wecom, dingtalk, email, sms' : undefined),
});

export type ChannelConfig = z.infer<typeof ChannelConfigSchema>;
export type WebhookConfig = z.infer<typeof WebhookConfig>;
export type WecomConfig = z.infer<typeof WecomConfig>;
export type DingtalkConfig = z.infer<typeof DingtalkConfig>;
export type EmailConfig = z.infer<typeof EmailConfig>;
export type SmsConfig = z.infer<typeof SmsConfig>;

export class PagingConfigError extends Error {
  override name = 'PagingConfigError';
  constructor(readonly issues: FieldIssue[]) {
    super(`invalid paging channel config: ${describeIssues(issues)}`);
  }
}

/** Validates a channel config; throws a PagingConfigError naming each wrong field. */
export function parseChannelConfig(input: unknown): ChannelConfig {
  const result = ChannelConfigSchema.safeParse(input);
  if (!result.success) throw new PagingConfigError(fieldIssues(result.error));
  return result.data;
}

/** Credentials inside a URL: its query values (robot keys, access tokens). */
const urlSecrets = (url: string) => [...new URL(url).searchParams.values()];

/** Every value of this config that must never be shown in an error or a log line. */
export function secretsOf(config: ChannelConfig): string[] {
  switch (config.type) {
    case 'webhook':
      return [config.secret, ...urlSecrets(config.url)];
    case 'wecom':
      return urlSecrets(config.url);
    case 'dingtalk':
      return [...(config.secret === undefined ? [] : [config.secret]), ...urlSecrets(config.url)];
    case 'email':
      return config.password === undefined ? [] : [config.password];
    case 'sms': {
      const headerValues = Object.entries(config.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'content-type');
      return [...headerValues.map(([, value]) => value), ...urlSecrets(config.url)];
    }
  }
}

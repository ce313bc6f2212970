import type { Severity } from '@gatehouse/protocols';
import type { Page } from './channel.js';

/**
 * The words of a page in each format a channel sends: markdown for the chat robots, plain text
 * for email and SMS. Pure functions; the transports only wrap what these return.
 */

const SEVERITY_LABEL: Record<Severity, string> = {
  critical: 'CRITICAL',
  major: 'MAJOR',
  minor: 'MINOR',
  warning: 'WARNING',
};

/** Titles, sites and device ids go into headings and subject lines, where a line break would break the format. */
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

const headline = (page: Page) => `[${SEVERITY_LABEL[page.severity]}] ${oneLine(page.title)}`;

const location = (page: Page) => (page.device === null ? oneLine(page.site) : `${oneLine(page.site)} / ${oneLine(page.device)}`);

const raisedAt = (page: Page) => new Date(page.raisedAt).toISOString();

const ELLIPSIS = '…';

/** The first `max` characters of `text` (code points, so a surrogate pair is never split), marked when cut. */
function truncateChars(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return chars.slice(0, Math.max(0, max - 1)).join('') + ELLIPSIS;
}

const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');

/** The longest start of `text` that fits in `maxBytes` of UTF-8, marked when cut. */
function truncateBytes(text: string, maxBytes: number): string {
  if (utf8Bytes(text) <= maxBytes) return text;
  const budget = maxBytes - utf8Bytes(ELLIPSIS);
  let out = '';
  for (const char of text) {
    if (utf8Bytes(out + char) > budget) break;
    out += char;
  }
  return out + ELLIPSIS;
}

export interface MarkdownMessage {
  /** DingTalk shows it in the conversation list and the notification. */
  title: string;
  text: string;
}

/**
 * Markdown in the subset both robots render: a heading, bold, quotes and links, with paragraphs
 * separated by blank lines because DingTalk joins single line breaks. The body is cut, never the
 * acknowledgement, when the message must fit in `maxBytes` (WeCom refuses longer markdown).
 */
export function renderMarkdown(page: Page, maxBytes = Infinity): MarkdownMessage {
  const head = [
    `### ${headline(page)}`,
    `**Site:** ${location(page)}`,
    `**Work order:** ${page.workOrderId}`,
    `**Raised:** ${raisedAt(page)}`,
  ];
  const ack = `[Acknowledge](${page.ackUrl}) · code **${page.ackCode}**`;
  const paragraphs = (body: string) => [...head, ...(body === '' ? [] : [body]), ack].join('\n\n');
  const quotedBody = page.body
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => `> ${line}`)
    .join('\n\n');
  const bodyBudget = maxBytes - utf8Bytes(paragraphs('')) - utf8Bytes('\n\n');
  return { title: headline(page), text: paragraphs(truncateBytes(quotedBody, Math.max(0, bodyBudget))) };
}

export interface EmailMessage {
  subject: string;
  text: string;
}

export function renderEmail(page: Page): EmailMessage {
  const text = [
    headline(page),
    '',
    `Site: ${oneLine(page.site)}`,
    ...(page.device === null ? [] : [`Device: ${oneLine(page.device)}`]),
    `Work order: ${page.workOrderId}`,
    `Raised: ${raisedAt(page)}`,
    '',
    page.body,
    '',
    `Acknowledge: ${page.ackUrl}`,
    `Or reply with the code: ${page.ackCode}`,
    '',
  ].join('\n');
  return { subject: `${headline(page)} · ${oneLine(page.site)}`, text };
}

/**
 * One GSM-7 segment. A text in Chinese is sent as UCS-2, which the provider splits into
 * concatenated parts; the bound still keeps it to a few.
 */
export const SMS_MAX_CHARS = 160;

/**
 * `[CRITICAL] title @ site / device. Ack code 123456 https://…`, at most SMS_MAX_CHARS characters.
 * The ack code always fits; the link only when the whole text does, then the title is cut.
 */
export function renderSms(page: Page): string {
  const what = `${headline(page)} @ ${location(page)}.`;
  const code = ` Ack code ${page.ackCode}`;
  const withLink = `${what}${code} ${page.ackUrl}`;
  if (Array.from(withLink).length <= SMS_MAX_CHARS) return withLink;
  return truncateChars(what, SMS_MAX_CHARS - Array.from(code).length) + code;
}

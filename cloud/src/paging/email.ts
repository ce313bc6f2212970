import nodemailer, { type NodemailerError } from 'nodemailer';
import { delivered, failed, type Deliver } from './channel.js';
import type { EmailConfig } from './config.js';
import { renderEmail } from './render.js';

/**
 * Failures without an SMTP reply that sending again will not cure: settings a person must fix,
 * or an address no server can be asked to take. (A failure with a reply is judged by the reply:
 * 5xx refuses for good, 4xx says later.)
 */
const FAILURES_RETRY_WILL_NOT_CURE = new Set(['EAUTH', 'ENOAUTH', 'ECONFIG', 'ETLS', 'EREQUIRETLS', 'EENVELOPE']);

function outcomeOf(error: NodemailerError, server: string, timeoutMs: number) {
  if (error.code === 'EABORT') return failed(true, `SMTP server ${server} did not take the message within ${timeoutMs} ms`);
  const reply = error.response ?? error.message;
  if (error.responseCode !== undefined) {
    const permanent = error.permanent ?? error.responseCode >= 500;
    return failed(!permanent, `SMTP server ${server} refused the message: ${reply}`);
  }
  return failed(!FAILURES_RETRY_WILL_NOT_CURE.has(error.code ?? ''), `SMTP server ${server}: ${error.message}${error.code ? ` (${error.code})` : ''}`);
}

/**
 * Email through an SMTP server (a submission server with a login, or a relay that trusts the hub).
 * One connection per page: pages are few, and a connection held open between them would only
 * go stale.
 */
export function emailDelivery(config: EmailConfig, timeoutMs: number): Deliver {
  const server = `${config.host}:${config.port}`;
  const transport = nodemailer.createTransport({
    host: config.host,
    port: config.port,
    secure: config.secure ?? config.port === 465,
    ...(config.username === undefined ? {} : { auth: { user: config.username, pass: config.password } }),
    // Each wait is bounded by itself; the signal below bounds the whole conversation.
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  return async (page, recipient) => {
    if (!recipient.email) return failed(false, `${recipient.name} has no email address`);
    const { subject, text } = renderEmail(page);
    try {
      const info = await transport.sendMail({
        from: config.from,
        to: { name: recipient.name, address: recipient.email },
        subject,
        text,
        // A retry after a timeout may deliver twice; the page id lets a mail rule or a person see it.
        headers: { 'X-Gatehouse-Page-Id': page.id },
        signal: AbortSignal.timeout(timeoutMs),
      });
      return delivered(`SMTP server ${server} accepted it: ${info.response}`);
    } catch (error) {
      return outcomeOf(error as NodemailerError, server, timeoutMs);
    }
  };
}

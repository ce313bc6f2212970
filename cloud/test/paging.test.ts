import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpListener, type Answer, type HttpListener } from '../../tests/support/http-listener.js';
import { freePort } from '../../tests/support/processes.js';
import { startSmtpServer, type SmtpServer } from '../../tests/support/smtp.js';
import { createChannel, PagingConfigError, parseChannelConfig, SMS_MAX_CHARS, type DeliveryOutcome, type Page, type Recipient } from '../src/paging/index.js';

const page: Page = {
  id: 'wo-12-step-1-primary',
  severity: 'critical',
  site: '滨江花园 Riverside Gardens',
  device: 'lift-3',
  title: '电梯困人 Passenger trapped in lift 3',
  body: '3号电梯停在12楼与13楼之间，轿厢内有人。\nCar stopped between floors 12 and 13 with a passenger inside.',
  workOrderId: '12',
  ackUrl: 'https://hub.example.com/work-orders/12/ack?token=k3J9x',
  ackCode: '482913',
  raisedAt: Date.UTC(2025, 0, 6, 2, 30),
};

const technician: Recipient = { name: '王工 Wang', email: 'wang@example.com', phone: '+8613800001111' };

const json = (body: string) => JSON.parse(body) as Record<string, unknown>;

/** Asserts a failure and narrows the outcome to it. */
function expectFailure(outcome: DeliveryOutcome, retryable: boolean): string {
  expect(outcome).toMatchObject({ ok: false, retryable });
  return outcome.ok ? '' : outcome.error;
}

describe('webhook channel', () => {
  const secret = 'whsec-0123456789abcdef';
  let listener: HttpListener;

  beforeAll(async () => {
    listener = await startHttpListener();
  });
  afterAll(() => listener.close());

  it('POSTs the page as UTF-8 JSON with an HMAC a receiver can verify on its own', async () => {
    listener.answerWith({ status: 204 });
    const channel = createChannel({ type: 'webhook', url: `${listener.url}/hooks/gatehouse`, secret });
    const before = Date.now();

    const outcome = await channel.deliver(page, technician);

    expect(outcome.ok).toBe(true);
    const request = listener.requests.at(-1)!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/hooks/gatehouse');
    expect(request.headers['content-type']).toMatch(/^application\/json/);
    expect(json(request.body)).toEqual({ v: 1, page, recipient: technician });

    const timestamp = String(request.headers['x-gatehouse-timestamp']);
    expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
    expect(Number(timestamp)).toBeLessThanOrEqual(Date.now());
    const expected = createHmac('sha256', secret).update(`${timestamp}.${request.body}`).digest();
    const signature = String(request.headers['x-gatehouse-signature']);
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(timingSafeEqual(Buffer.from(signature.slice('sha256='.length), 'hex'), expected)).toBe(true);
  });

  it.each<[string, Answer, boolean]>([
    ['a 500', { status: 500, body: 'database is down' }, true],
    ['a 503', { status: 503 }, true],
    ['a 429', { status: 429, body: 'slow down' }, true],
    ['a 400', { status: 400, body: 'bad payload' }, false],
    ['a 404', { status: 404 }, false],
  ])('reports %s as a failure, retryable: %s', async (_what, answer, retryable) => {
    listener.answerWith(answer);
    const channel = createChannel({ type: 'webhook', url: listener.url, secret });

    const error = expectFailure(await channel.deliver(page, technician), retryable);

    expect(error).toContain(String((answer as { status: number }).status));
    expect(error).not.toContain(secret);
  });

  it('gives up on a receiver that does not answer in time, as retryable', async () => {
    listener.answerWith('no answer');
    const channel = createChannel({ type: 'webhook', url: listener.url, secret }, { timeoutMs: 300 });
    const sent = listener.requests.length;

    const error = expectFailure(await channel.deliver(page, technician), true);

    expect(error).toContain('did not answer within 300 ms');
    await listener.waitForRequests(sent + 1);
  });

  it('reports a receiver that is not there as retryable', async () => {
    const channel = createChannel({ type: 'webhook', url: `http://127.0.0.1:${await freePort()}/hook`, secret });

    expect(expectFailure(await channel.deliver(page, technician), true)).toContain('unreachable');
  });
});

/** Answers as the chat robots do: HTTP 200 either way, the verdict in errcode. */
const robotAnswer = (errcode: number, errmsg: string): Answer => ({ status: 200, body: { errcode, errmsg } });

describe('WeCom group robot', () => {
  const robotKey = '693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa';
  let listener: HttpListener;
  let url: string;

  beforeAll(async () => {
    listener = await startHttpListener(robotAnswer(0, 'ok'));
    url = `${listener.url}/cgi-bin/webhook/send?key=${robotKey}`;
  });
  afterAll(() => listener.close());

  it('sends a markdown message with the page, its link and its code', async () => {
    const outcome = await createChannel({ type: 'wecom', url }).deliver(page, technician);

    expect(outcome.ok).toBe(true);
    const request = listener.requests.at(-1)!;
    expect(request.url).toBe(`/cgi-bin/webhook/send?key=${robotKey}`);
    const payload = json(request.body) as { msgtype: string; markdown: { content: string } };
    expect(Object.keys(payload).sort()).toEqual(['markdown', 'msgtype']);
    expect(payload.msgtype).toBe('markdown');
    expect(Object.keys(payload.markdown)).toEqual(['content']);
    const { content } = payload.markdown;
    for (const text of ['CRITICAL', page.title, '滨江花园 Riverside Gardens / lift-3', '3号电梯停在12楼与13楼之间', page.ackUrl, page.ackCode]) {
      expect(content).toContain(text);
    }
  });

  it('keeps the markdown within the 4096 bytes WeCom takes, cutting the body but not the acknowledgement', async () => {
    await createChannel({ type: 'wecom', url }).deliver({ ...page, body: '轿厢内有人。'.repeat(1000) }, technician);

    const { content } = (json(listener.requests.at(-1)!.body) as { markdown: { content: string } }).markdown;
    expect(Buffer.byteLength(content, 'utf8')).toBeLessThanOrEqual(4096);
    expect(content).toContain('…');
    expect(content).toContain(page.ackUrl);
  });

  it.each([
    [93000, 'invalid webhook url', false],
    [40058, 'markdown.content exceed max length 4096', false],
    [45009, 'api freq out of limit', true],
    [-1, 'system busy', true],
  ])('reads errcode %s as a failure with its errmsg, retryable: %s', async (errcode, errmsg, retryable) => {
    listener.answerWith(robotAnswer(errcode, errmsg));

    const error = expectFailure(await createChannel({ type: 'wecom', url }).deliver(page, technician), retryable);

    expect(error).toContain(`errcode ${errcode}: ${errmsg}`);
    listener.answerWith(robotAnswer(0, 'ok'));
  });

  it('never shows the robot key in an error', async () => {
    listener.answerWith({ status: 502, body: `upstream failed for ${url}` });

    const error = expectFailure(await createChannel({ type: 'wecom', url }).deliver(page, technician), true);

    expect(error).toContain('502');
    expect(error).not.toContain(robotKey);
    listener.answerWith(robotAnswer(0, 'ok'));
  });
});

describe('DingTalk group robot', () => {
  const accessToken = 'e9a8118c8a3dc0123456789abcdef';
  const secret = 'SEC10d6e79b42bd94be0d0d603843651aa2ccd7186db6edbc';
  let listener: HttpListener;
  let url: string;

  beforeAll(async () => {
    listener = await startHttpListener(robotAnswer(0, 'ok'));
    url = `${listener.url}/robot/send?access_token=${accessToken}`;
  });
  afterAll(() => listener.close());

  it('sends a markdown message with a title and the page, unsigned without a secret', async () => {
    const outcome = await createChannel({ type: 'dingtalk', url }).deliver(page, technician);

    expect(outcome.ok).toBe(true);
    const request = listener.requests.at(-1)!;
    expect(request.url).toBe(`/robot/send?access_token=${accessToken}`);
    const payload = json(request.body) as { msgtype: string; markdown: { title: string; text: string } };
    expect(payload.msgtype).toBe('markdown');
    expect(Object.keys(payload.markdown).sort()).toEqual(['text', 'title']);
    expect(payload.markdown.title).toBe(`[CRITICAL] ${page.title}`);
    for (const text of [page.title, '3号电梯停在12楼与13楼之间', page.ackUrl, page.ackCode]) expect(payload.markdown.text).toContain(text);
  });

  it('signs the request as DingTalk documents: timestamp and a URL-encoded base64 HmacSHA256', async () => {
    const before = Date.now();

    const outcome = await createChannel({ type: 'dingtalk', url, secret }).deliver(page, technician);

    expect(outcome.ok).toBe(true);
    const rawQuery = listener.requests.at(-1)!.url.split('?')[1]!;
    const query = new URLSearchParams(rawQuery);
    expect(query.get('access_token')).toBe(accessToken);
    const timestamp = query.get('timestamp')!;
    expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
    expect(Number(timestamp)).toBeLessThanOrEqual(Date.now());
    const expected = createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
    expect(query.get('sign')).toBe(expected);
    expect(rawQuery).toContain(`sign=${encodeURIComponent(expected)}`);
  });

  it.each([
    [310000, 'sign not match', false],
    [300001, 'token is not exist', false],
    [130101, 'send too fast, exceed 20 times per minute', true],
  ])('reads errcode %s as a failure with its errmsg, retryable: %s', async (errcode, errmsg, retryable) => {
    listener.answerWith(robotAnswer(errcode, errmsg));

    const error = expectFailure(await createChannel({ type: 'dingtalk', url, secret }).deliver(page, technician), retryable);

    expect(error).toContain(`errcode ${errcode}: ${errmsg}`);
    expect(error).not.toContain(accessToken);
    expect(error).not.toContain(secret);
    listener.answerWith(robotAnswer(0, 'ok'));
  });

  it('refuses an answer without an errcode, which no robot gives', async () => {
    listener.answerWith({ status: 200, body: '<html>captive portal</html>' });

    expect(expectFailure(await createChannel({ type: 'dingtalk', url }).deliver(page, technician), false)).toContain('without an errcode');
    listener.answerWith(robotAnswer(0, 'ok'));
  });
});

describe('email channel', () => {
  let smtp: SmtpServer;

  beforeAll(async () => {
    smtp = await startSmtpServer();
  });
  afterAll(() => smtp.stop());

  const emailConfig = () => ({ type: 'email', host: smtp.host, port: smtp.port, from: '"Gatehouse 值班" <pager@gatehouse.example>' });

  it('is received by a real SMTP server with the recipient, the severity and title, and the ack link and code', async () => {
    const outcome = await createChannel(emailConfig()).deliver(page, technician);

    expect(outcome).toMatchObject({ ok: true });
    const [message, ...others] = await smtp.messages();
    expect(others).toEqual([]);
    expect(message!.envelopeRecipients).toEqual(['wang@example.com']);
    expect(message!.to).toEqual(['wang@example.com']);
    expect(message!.from).toContain('pager@gatehouse.example');
    expect(message!.subject).toContain('CRITICAL');
    expect(message!.subject).toContain(page.title);
    expect(message!.text).toContain(page.ackUrl);
    expect(message!.text).toContain(page.ackCode);
    expect(message!.text).toContain('3号电梯停在12楼与13楼之间');
    expect(message!.headers['x-gatehouse-page-id']).toBe(page.id);
  });

  it('does not send to a recipient without an email address, and says so (not retryable)', async () => {
    const before = (await smtp.messages()).length;

    const error = expectFailure(await createChannel(emailConfig()).deliver(page, { name: 'Li', phone: '+8613900002222' }), false);

    expect(error).toContain('Li has no email address');
    expect(await smtp.messages()).toHaveLength(before);
  });

  it('reports a refusal by the server (5xx) as not retryable', async () => {
    const error = expectFailure(await createChannel(emailConfig()).deliver(page, { ...technician, email: 'wang@' }), false);

    expect(error).toMatch(/refused the message: 5\d\d/);
  });

  it('reports an SMTP server that is not there as retryable', async () => {
    const port = await freePort();

    expectFailure(await createChannel({ ...emailConfig(), port }).deliver(page, technician), true);
  });

  it('gives up on an SMTP server that never greets, as retryable', async () => {
    const connections: Socket[] = [];
    const silent = createServer((socket) => connections.push(socket)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as { port: number };
    try {
      const outcome = await createChannel({ ...emailConfig(), port }, { timeoutMs: 300 }).deliver(page, technician);

      expectFailure(outcome, true);
      expect(connections).toHaveLength(1);
    } finally {
      connections.forEach((socket) => socket.destroy());
      silent.close();
    }
  });
});

describe('SMS channel', () => {
  const apiKey = 'sms-api-key-7f3c9e21';
  let listener: HttpListener;
  const smsConfig = () => ({
    type: 'sms',
    url: `${listener.url}/v1/messages`,
    headers: { Authorization: `Bearer ${apiKey}` },
    body: '{"to":"{phone}","message":"{text}","sender":"Gatehouse","tags":["page","{phone}"]}',
  });

  beforeAll(async () => {
    listener = await startHttpListener({ status: 200, body: { id: 'msg-1' } });
  });
  afterAll(() => listener.close());

  it('fills the body template with the phone and a short text carrying the ack code', async () => {
    const outcome = await createChannel(smsConfig()).deliver(page, technician);

    expect(outcome.ok).toBe(true);
    const request = listener.requests.at(-1)!;
    expect(request.url).toBe('/v1/messages');
    expect(request.headers.authorization).toBe(`Bearer ${apiKey}`);
    const body = json(request.body) as { to: string; message: string; sender: string; tags: string[] };
    expect(body.to).toBe(technician.phone);
    expect(body.sender).toBe('Gatehouse');
    expect(body.tags).toEqual(['page', technician.phone]);
    expect(Array.from(body.message).length).toBeLessThanOrEqual(SMS_MAX_CHARS);
    expect(body.message).toContain(page.ackCode);
    expect(body.message).toContain('电梯困人');
  });

  it('cuts a long title, never the ack code, and keeps quotes in the text from breaking the JSON', async () => {
    const title = `"紧急" ${'门禁被强行打开 Door forced open '.repeat(20)}`;

    await createChannel(smsConfig()).deliver({ ...page, title }, technician);

    const { message } = json(listener.requests.at(-1)!.body) as { message: string };
    expect(Array.from(message).length).toBeLessThanOrEqual(SMS_MAX_CHARS);
    expect(message).toContain('"紧急"');
    expect(message).toMatch(new RegExp(`Ack code ${page.ackCode}$`));
  });

  it('does not send to a recipient without a phone number (not retryable)', async () => {
    const before = listener.requests.length;

    expect(expectFailure(await createChannel(smsConfig()).deliver(page, { name: 'Li', email: 'li@example.com' }), false)).toContain(
      'Li has no phone number',
    );
    expect(listener.requests).toHaveLength(before);
  });

  it('hides the provider credentials when the provider echoes them', async () => {
    listener.answerWith({ status: 401, body: `invalid key Bearer ${apiKey}` });

    const error = expectFailure(await createChannel(smsConfig()).deliver(page, technician), false);

    expect(error).toContain('401');
    expect(error).not.toContain(apiKey);
  });
});

describe('channel configs', () => {
  const validSms = { type: 'sms', url: 'https://sms.example.com/send', body: '{"to":"{phone}","text":"{text}"}' };

  it.each<[string, unknown, string]>([
    ['an unknown type', { type: 'pager', url: 'https://example.com' }, 'type: one of webhook, wecom, dingtalk, email, sms'],
    ['a webhook without a secret', { type: 'webhook', url: 'https://example.com/hook' }, 'secret:'],
    ['a webhook with a short secret', { type: 'webhook', url: 'https://example.com/hook', secret: 'hunter2' }, 'secret: at least 16 characters'],
    ['a WeCom robot without a URL', { type: 'wecom' }, 'url:'],
    ['an SMS provider URL with credentials', { ...validSms, url: 'https://user:pw@sms.example.com/send' }, 'url: no user:password@ in the URL'],
    ['a DingTalk robot with an ftp URL', { type: 'dingtalk', url: 'ftp://oapi.dingtalk.com/robot/send' }, 'url: an http:// or https:// URL'],
    ['email with a port as text', { type: 'email', host: 'smtp.example.com', port: '587', from: 'pager@example.com' }, 'port: a port number'],
    ['email with a sender that is no address', { type: 'email', host: 'smtp.example.com', port: 587, from: 'pager' }, 'from: an email address'],
    ['email with a username and no password', { type: 'email', host: 'smtp.example.com', port: 587, from: 'p@example.com', username: 'p' }, 'password: required with username'],
    ['SMS with a body that is not JSON', { ...validSms, body: '{"to":"{phone}",' }, 'body: not JSON'],
    ['SMS with a body without {text}', { ...validSms, body: '{"to":"{phone}"}' }, 'body: has no {text} placeholder'],
    ['SMS with a method of GET', { ...validSms, method: 'GET' }, 'method:'],
    ['SMS with a header value HTTP cannot carry', { ...validSms, headers: { 'X-Sender': '值班' } }, 'headers.X-Sender: printable ASCII'],
  ])('refuses %s, naming the field', (_what, config, message) => {
    expect(() => createChannel(config)).toThrow(PagingConfigError);
    expect(() => parseChannelConfig(config)).toThrow(message);
  });

  it('never repeats a secret in its message', () => {
    const message = (() => {
      try {
        parseChannelConfig({ type: 'webhook', url: 'not a url', secret: 'hunter2' });
        return 'accepted';
      } catch (error) {
        return (error as Error).message;
      }
    })();

    expect(message).toContain('secret: at least 16 characters');
    expect(message).not.toContain('hunter2');
  });
});

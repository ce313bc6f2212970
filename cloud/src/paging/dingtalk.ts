import { createHmac } from 'node:crypto';
import type { Deliver } from './channel.js';
import { deliverToRobot, type RobotVendor } from './chat-robot.js';
import type { DingtalkConfig } from './config.js';
import { renderMarkdown } from './render.js';

const DINGTALK: RobotVendor = {
  name: 'DingTalk',
  // -1: system busy; 130101: send too fast (a robot may send 20 messages a minute).
  retryableErrcodes: new Set([-1, 130101]),
};

/**
 * DingTalk's signing (加签): HmacSHA256 keyed with the secret over `${timestamp}\n${secret}`,
 * base64, sent URL-encoded as `&timestamp=…&sign=…`. DingTalk refuses a timestamp more than an
 * hour from its clock, so the URL is signed afresh for every request.
 */
function signedUrl(url: string, secret: string, now: number): string {
  const sign = createHmac('sha256', secret).update(`${now}\n${secret}`, 'utf8').digest('base64');
  const signed = new URL(url);
  signed.searchParams.set('timestamp', String(now));
  signed.searchParams.set('sign', sign);
  return signed.toString();
}

/**
 * A DingTalk (钉钉) group robot: `{"msgtype":"markdown","markdown":{"title":…,"text":…}}` to the
 * robot's webhook URL, which carries its access token. The group sees the page.
 */
export function dingtalkDelivery(config: DingtalkConfig, timeoutMs: number): Deliver {
  return async (page) => {
    const markdown = renderMarkdown(page);
    return deliverToRobot(DINGTALK, {
      url: config.secret === undefined ? config.url : signedUrl(config.url, config.secret, Date.now()),
      body: JSON.stringify({ msgtype: 'markdown', markdown }),
      timeoutMs,
    });
  };
}

import type { Deliver } from './channel.js';
import { deliverToRobot, type RobotVendor } from './chat-robot.js';
import type { WecomConfig } from './config.js';
import { renderMarkdown } from './render.js';

/** WeCom refuses markdown content longer than this many bytes of UTF-8. */
const MAX_CONTENT_BYTES = 4096;

const WECOM: RobotVendor = {
  name: 'WeCom',
  // -1: system busy; 45009: api freq out of limit (a robot may send 20 messages a minute).
  retryableErrcodes: new Set([-1, 45009]),
};

/**
 * A WeCom (企业微信) group robot: `{"msgtype":"markdown","markdown":{"content":…}}` to the
 * robot's webhook URL, which carries its key. The group sees the page; the recipient is not
 * addressed (markdown messages cannot mention a member).
 */
export function wecomDelivery(config: WecomConfig, timeoutMs: number): Deliver {
  return async (page) => {
    const { text } = renderMarkdown(page, MAX_CONTENT_BYTES);
    return deliverToRobot(WECOM, {
      url: config.url,
      body: JSON.stringify({ msgtype: 'markdown', markdown: { content: text } }),
      timeoutMs,
    });
  };
}

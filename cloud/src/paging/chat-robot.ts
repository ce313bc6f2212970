import { delivered, failed, type DeliveryOutcome } from './channel.js';
import { quoteAnswer, sendHttp, type HttpDelivery } from './http-delivery.js';
import { endpointOf } from './redact.js';

/**
 * WeCom and DingTalk group robots answer HTTP 200 whether or not they took the message, with
 * `{"errcode":0,"errmsg":"ok"}` on success and a nonzero errcode and its reason otherwise.
 */
export interface RobotVendor {
  name: string;
  /** Errcodes that say "later": a busy server or a rate limit. Any other nonzero errcode is a refusal. */
  retryableErrcodes: ReadonlySet<number>;
}

interface RobotAnswer {
  errcode?: unknown;
  errmsg?: unknown;
}

function parseAnswer(body: string): RobotAnswer | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** POSTs a robot message and reads the robot's verdict from the answer's body. */
export async function deliverToRobot(vendor: RobotVendor, request: HttpDelivery): Promise<DeliveryOutcome> {
  const result = await sendHttp(request);
  if (!result.ok) return result.outcome;
  const endpoint = endpointOf(request.url);
  const answer = parseAnswer(result.answer.body);
  if (typeof answer?.errcode !== 'number') {
    return failed(false, `${vendor.name} robot at ${endpoint} answered without an errcode: ${quoteAnswer(result.answer.body)}`);
  }
  if (answer.errcode === 0) return delivered(`${vendor.name} robot accepted the message`);
  const reason = typeof answer.errmsg === 'string' ? answer.errmsg : '(no errmsg)';
  return failed(vendor.retryableErrcodes.has(answer.errcode), `${vendor.name} robot refused the message: errcode ${answer.errcode}: ${reason}`);
}

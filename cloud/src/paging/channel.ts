import type { Severity } from '@gatehouse/protocols';
import type { ChannelConfig } from './config.js';

/**
 * The paging port: what a page is, who receives it, and what a delivery channel promises.
 * Adapters (webhook, WeCom, DingTalk, email, SMS) live beside this file; `createChannel` picks one.
 */

/** What the on-call technician is told about an alarm's work order. */
export interface Page {
  /**
   * Unique per escalation step and recipient, e.g. `wo-12-step-1-primary`. A delivery that timed
   * out may still have arrived, so a retry can deliver the same page twice: receivers deduplicate
   * on this id.
   */
  id: string;
  /** The alarm's severity, as the edge↔cloud contract names it. */
  severity: Severity;
  site: string;
  /** The device the alarm came from; null for an alarm about a whole site or gateway. */
  device: string | null;
  title: string;
  /** Plain text, any language; every channel sends it as UTF-8. */
  body: string;
  workOrderId: string;
  /** Opens the work order's acknowledgement. */
  ackUrl: string;
  /** A short code the technician can reply with or type in where a link is no use. */
  ackCode: string;
  /** When the alarm was raised, in milliseconds since the Unix epoch. */
  raisedAt: number;
}

/** A person to page; each channel needs the address it delivers to. */
export interface Recipient {
  name: string;
  email?: string;
  phone?: string;
}

/**
 * What became of one delivery. `retryable` tells the escalation whether sending the same page
 * again may succeed (network trouble, a timeout, a busy or rate-limited server) or would be
 * refused again (a bad address, a refused request, a recipient without the address the channel needs).
 */
export type DeliveryOutcome = { ok: true; detail?: string } | { ok: false; retryable: boolean; error: string };

/** One configured delivery channel. `deliver` never throws: every failure is an outcome. */
export interface PageChannel {
  readonly type: ChannelConfig['type'];
  deliver(page: Page, recipient: Recipient): Promise<DeliveryOutcome>;
}

export type Deliver = PageChannel['deliver'];

export const delivered = (detail?: string): DeliveryOutcome => (detail === undefined ? { ok: true } : { ok: true, detail });

export const failed = (retryable: boolean, error: string): DeliveryOutcome => ({ ok: false, retryable, error });

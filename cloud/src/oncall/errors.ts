import type { FieldIssue } from './model.js';

export type OnCallRefusalCode =
  /** The id is taken. */
  | 'exists'
  /** The write names responders that are not in the team it is for. */
  | 'not_in_team'
  /** A schedule or an escalation policy still names the responder. */
  | 'in_use'
  /** `user_id` names no hub user. */
  | 'unknown_user'
  /** The team has an escalation policy already; a team has one. */
  | 'team_has_policy';

/**
 * A write the on-call store refused, and why: `subject` is the id it is about, `issues` the
 * fields of the written object at fault, if any. The API turns it into a 400, 404 or 409.
 */
export class OnCallRefusal extends Error {
  override name = 'OnCallRefusal';
  constructor(
    readonly code: OnCallRefusalCode,
    readonly subject: string,
    message: string,
    readonly issues: readonly FieldIssue[] = [],
  ) {
    super(message);
  }
}

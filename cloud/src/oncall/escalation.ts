import type { EscalationPolicy, PageChannel, Target } from './model.js';

/** One page an escalation step sends, unless the alarm is acknowledged before `at`. */
export interface PlannedPage {
  /** 1 for the first pass through the steps, 2 for the first repeat… */
  round: number;
  /** The step's position in the policy, from 1. */
  step: number;
  /** When, in ms since the epoch. */
  at: number;
  targets: Target[];
  channels: PageChannel[];
}

const MINUTE = 60_000;

/**
 * Every page a policy sends for an alarm raised at `raisedAt` that nobody acknowledges, in
 * order. Each step waits its `after_minutes` after the previous step's page, the first after the
 * alarm; a repeat round starts `repeat_after_minutes` after the last page of the round before,
 * and its first step waits its `after_minutes` again from there. (round, step) names a page
 * uniquely, so that a pager can make "one page per escalation step" a database constraint.
 */
export function escalationPlan(policy: Pick<EscalationPolicy, 'steps' | 'repeat' | 'repeat_after_minutes'>, raisedAt: number): PlannedPage[] {
  const pages: PlannedPage[] = [];
  let roundStart = raisedAt;
  for (let round = 1; round <= policy.repeat + 1; round += 1) {
    let at = roundStart;
    policy.steps.forEach((step, index) => {
      at += step.after_minutes * MINUTE;
      pages.push({ round, step: index + 1, at, targets: [...step.targets], channels: [...step.channels] });
    });
    roundStart = at + policy.repeat_after_minutes * MINUTE;
  }
  return pages;
}

import { seesEverySite, seesSite, type Principal } from '../auth/roles.js';
import { EVERY_SITE, type Team } from './model.js';

/**
 * Who may see and change a team, and so its responders, schedules and policy. Reading needs one
 * of the team's sites (a team serving every site serves the caller's too); changing needs all of
 * them, because a team's pages reach every site it serves.
 */
export const seesTeam = (principal: Principal, team: Pick<Team, 'sites'>): boolean =>
  team.sites.includes(EVERY_SITE) || team.sites.some((site) => seesSite(principal, site));

/** The first of `sites` the caller may not act on, if any; `*` unless it has every site. */
export const siteBeyond = (principal: Principal, sites: readonly string[]): string | undefined =>
  sites.find((site) => (site === EVERY_SITE ? !seesEverySite(principal) : !seesSite(principal, site)));

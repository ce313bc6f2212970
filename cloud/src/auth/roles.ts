/**
 * Who may do what. A person has one role and a set of sites; an API token has a role, a set of
 * sites and a set of scopes. Every route declares beside itself which roles may call it, which
 * scope it needs, and how its site is found (see api/access.ts).
 */
export const ROLES = ['admin', 'engineer', 'installer', 'billing', 'technician', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** What an API token may be limited to; a person's session has every scope. */
export const SCOPES = [
  'devices:read',
  'devices:command',
  'sites:read',
  'gateways:read',
  'gateways:write',
  'users:read',
  'users:write',
  'tokens:write',
  'audit:read',
  'alarms:read',
  'alarms:write',
  'work-orders:read',
  'work-orders:write',
  'oncall:read',
  'oncall:write',
] as const;
export type Scope = (typeof SCOPES)[number];

/** Every site, in a `sites` list. */
export const ALL_SITES = '*';

/** The caller of a request, once authenticated. */
export interface Principal {
  kind: 'user' | 'token';
  /** The user name, or `token:{name}`. */
  name: string;
  id: number;
  role: Role;
  /** The sites it may see; ['*'] for every site. */
  sites: readonly string[];
  /** A session has every scope; a token only its own. */
  scopes: readonly Scope[] | 'all';
}

export const seesEverySite = (principal: Principal) => principal.sites.includes(ALL_SITES);
export const seesSite = (principal: Principal, site: string) => seesEverySite(principal) || principal.sites.includes(site);
export const hasScope = (principal: Principal, scope: Scope) => principal.scopes === 'all' || principal.scopes.includes(scope);

/** Readers of devices, sites and readings: everybody with a role. */
export const EVERY_ROLE: readonly Role[] = ROLES;

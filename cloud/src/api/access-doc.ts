import { ROLES } from '../auth/roles.js';
import type { AccessRow } from './access.js';

/** `/devices/:id` as OpenAPI writes it: `/devices/{id}`. */
export const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function siteColumn(row: AccessRow): string {
  const site = row.access.site;
  if (site === undefined) return row.access.roles === 'public' || row.access.roles === 'authenticated' ? '—' : 'hub-wide';
  if (site === 'listed') return 'answer cut to the caller’s sites';
  return `${site.describe}; another site’s answers 404`;
}

/**
 * The route × role table as Markdown: generated from the routes' own declarations, so that it
 * cannot drift from the code (cloud/test/access.test.ts checks docs/api-access.md against it).
 */
export function accessTableMarkdown(rows: readonly AccessRow[]): string {
  const sorted = [...rows].sort((a, b) => a.url.localeCompare(b.url) || a.method.localeCompare(b.method));
  const lines = [
    '# Who may call what: the hub API by route and role',
    '',
    'Generated from the `config.access` each route declares beside itself (cloud/src/api/routes);',
    'do not edit by hand. Regenerate with `GATEHOUSE_WRITE_DOCS=1 npx vitest run cloud/test/access.test.ts`,',
    'which otherwise fails when this file and the code differ.',
    '',
    '- ✓ the role may call it; — it gets 403 `forbidden`. Without a session or token every route but',
    '  the public ones answers 401 `unauthenticated`.',
    '- **site**: how the route’s site is found. A caller whose sites do not include it gets 404, as if',
    '  the site, device or gateway did not exist; lists are cut down to the caller’s sites.',
    '- **token scope**: what an API token must have been given; a person’s session has every scope.',
    '',
    `| method | route | ${ROLES.join(' | ')} | site | token scope |`,
    `|---|---|${ROLES.map(() => ':-:').join('|')}|---|---|`,
  ];
  for (const row of sorted) {
    const { roles } = row.access;
    const cells =
      roles === 'public' ? ROLES.map(() => 'public') : roles === 'authenticated' ? ROLES.map(() => 'any') : ROLES.map((role) => (roles.includes(role) ? '✓' : '—'));
    lines.push(`| ${row.method} | \`${openApiPath(row.url)}\` | ${cells.join(' | ')} | ${siteColumn(row)} | ${row.access.scope ?? '—'} |`);
  }
  lines.push('', '`public`: anybody, without credentials; `any`: anybody logged in or holding a token.', '');
  return lines.join('\n');
}

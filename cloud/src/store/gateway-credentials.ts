import { digestOf, hashPassword, mosquittoHash, newSecret, verifyPassword } from '../auth/secrets.js';
import { epochMsAs, SqlFilter } from './sql-fragments.js';
import type { SqlClient } from './sql.js';

/** How long an enrolment token may wait to be used. */
export const ENROLMENT_TOKEN_MS = 24 * 60 * 60_000;

export interface GatewayRecord {
  site: string;
  gateway: string;
  state: string;
  /** `none` before enrolment, `active` with current credentials, `revoked` after revocation. */
  credentials: 'none' | 'active' | 'revoked';
  username: string | null;
  issued_at: number | null;
  revoked_at: number | null;
}

export interface IssuedCredentials {
  site: string;
  gateway: string;
  username: string;
  password: string;
}

/** Why an enrolment token was refused; the answer to the gateway does not say which. */
export type EnrolmentRefusal = 'unknown' | 'used' | 'expired';

/** The user name of a gateway at the broker: `{site}.{gateway}` (identifiers hold no `.`). */
export const gatewayUsername = (site: string, gateway: string) => `${site}.${gateway}`;

const iso = (at: number) => new Date(at).toISOString();

/**
 * Gateway enrolment and MQTT credentials: an administrator creates a gateway and gets a
 * one-time token; the gateway exchanges it for its own user name and password. Tokens and
 * passwords are kept only as hashes.
 */
export class GatewayCredentials {
  constructor(
    private readonly db: SqlClient,
    private readonly now: () => number = Date.now,
  ) {}

  /** Registers the gateway (and its site) if new; returns whether it was new. */
  async createGateway(site: string, gateway: string): Promise<boolean> {
    await this.db.query('insert into sites (id) values ($1) on conflict do nothing', [site]);
    const rows = await this.db.query('insert into gateways (site, gateway) values ($1, $2) on conflict do nothing returning gateway', [site, gateway]);
    return rows.length > 0;
  }

  async getGateway(site: string, gateway: string): Promise<GatewayRecord | undefined> {
    const where = new SqlFilter().when(site, (p) => `g.site = ${p}`).when(gateway, (p) => `g.gateway = ${p}`);
    return (await this.select(where))[0];
  }

  async listGateways(): Promise<GatewayRecord[]> {
    return this.select(new SqlFilter());
  }

  private select(where: SqlFilter): Promise<GatewayRecord[]> {
    return this.db.query<GatewayRecord>(
      `select g.site, g.gateway, g.state,
              case when c.username is null then 'none' when c.revoked_at is null then 'active' else 'revoked' end as credentials,
              c.username, ${epochMsAs('c.issued_at')}, ${epochMsAs('c.revoked_at')}
       from gateways g left join gateway_credentials c on c.site = g.site and c.gateway = g.gateway
       ${where.where} order by g.site, g.gateway`,
      where.params,
    );
  }

  /** A new one-time enrolment token for the gateway; only its digest is kept. */
  async issueEnrolmentToken(site: string, gateway: string, createdBy: string, ttlMs = ENROLMENT_TOKEN_MS): Promise<{ token: string; expiresAt: number }> {
    const token = newSecret('gwe_');
    const expiresAt = this.now() + ttlMs;
    await this.db.query('insert into enrolment_tokens (digest, site, gateway, created_by, created_at, expires_at) values ($1, $2, $3, $4, $5, $6)', [
      digestOf(token),
      site,
      gateway,
      createdBy,
      iso(this.now()),
      iso(expiresAt),
    ]);
    return { token, expiresAt };
  }

  /**
   * Exchanges an enrolment token for fresh credentials, once: the token is marked used in the
   * same transaction that issues them, so that two racing exchanges cannot both succeed. New
   * credentials replace the gateway's old ones (that is how credentials are rotated).
   */
  async redeem(token: string): Promise<{ ok: true; credentials: IssuedCredentials; replaced: boolean } | { ok: false; reason: EnrolmentRefusal; site?: string; gateway?: string }> {
    const password = newSecret('');
    const [hash, mqHash] = await Promise.all([hashPassword(password), mosquittoHash(password)]);
    const now = this.now();
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<{ site: string; gateway: string; used: boolean; expired: boolean }>(
        `select site, gateway, used_at is not null as used, expires_at <= $2 as expired from enrolment_tokens where digest = $1 for update`,
        [digestOf(token), iso(now)],
      );
      if (!row) return { ok: false as const, reason: 'unknown' as const };
      if (row.used) return { ok: false as const, reason: 'used' as const, site: row.site, gateway: row.gateway };
      if (row.expired) return { ok: false as const, reason: 'expired' as const, site: row.site, gateway: row.gateway };
      await tx.query('update enrolment_tokens set used_at = $2 where digest = $1', [digestOf(token), iso(now)]);
      const username = gatewayUsername(row.site, row.gateway);
      const existing = await tx.query('select 1 from gateway_credentials where site = $1 and gateway = $2', [row.site, row.gateway]);
      await tx.query(
        `insert into gateway_credentials (site, gateway, username, password_hash, mosquitto_hash, issued_at, revoked_at)
         values ($1, $2, $3, $4, $5, $6, null)
         on conflict (site, gateway) do update set password_hash = excluded.password_hash, mosquitto_hash = excluded.mosquitto_hash,
           issued_at = excluded.issued_at, revoked_at = null`,
        [row.site, row.gateway, username, hash, mqHash, iso(now)],
      );
      return { ok: true as const, credentials: { site: row.site, gateway: row.gateway, username, password }, replaced: existing.length > 0 };
    });
  }

  /** Revokes a gateway's credentials and any enrolment token not yet used. */
  async revoke(site: string, gateway: string): Promise<boolean> {
    await this.db.query('update enrolment_tokens set used_at = coalesce(used_at, $3) where site = $1 and gateway = $2', [site, gateway, iso(this.now())]);
    const rows = await this.db.query(
      'update gateway_credentials set revoked_at = coalesce(revoked_at, $3) where site = $1 and gateway = $2 returning 1',
      [site, gateway, iso(this.now())],
    );
    return rows.length > 0;
  }

  /** The gateway these credentials belong to, if they are current. */
  async verify(username: string, password: string): Promise<{ site: string; gateway: string } | undefined> {
    const [row] = await this.db.query<{ site: string; gateway: string; password_hash: string }>(
      'select site, gateway, password_hash from gateway_credentials where username = $1 and revoked_at is null',
      [username],
    );
    if (!row || !(await verifyPassword(password, row.password_hash))) return undefined;
    return { site: row.site, gateway: row.gateway };
  }

  /** Current credentials, for Mosquitto's password and ACL files. */
  async activeCredentials(): Promise<Array<{ site: string; gateway: string; username: string; mosquitto_hash: string }>> {
    return this.db.query('select site, gateway, username, mosquitto_hash from gateway_credentials where revoked_at is null order by username');
  }
}

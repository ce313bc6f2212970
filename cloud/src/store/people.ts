import { type Principal, type Role, type Scope } from '../auth/roles.js';
import { digestOf, hashPassword, newSecret, verifyPassword } from '../auth/secrets.js';
import { epochMsAs } from './sql-fragments.js';
import type { SqlClient } from './sql.js';

/** After this many failed logins in a row an account is locked… */
export const LOCKOUT_AFTER_FAILURES = 3;
/** …for this long. */
export const LOCKOUT_MS = 15 * 60_000;
/** How long a login session lasts. */
export const SESSION_MS = 12 * 60 * 60_000;

export interface UserRecord {
  id: number;
  username: string;
  role: Role;
  sites: string[];
  disabled: boolean;
  locked_until: number | null;
  created_at: number;
}

export interface ApiTokenRecord {
  id: number;
  name: string;
  role: Role;
  sites: string[];
  scopes: Scope[];
  created_by: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

/** What a login attempt came to; the caller audits it. */
export type LoginOutcome =
  | { kind: 'ok'; user: UserRecord; token: string; expiresAt: number }
  | { kind: 'bad_credentials'; user: UserRecord | undefined; lockedNow: boolean }
  | { kind: 'locked'; user: UserRecord; until: number }
  | { kind: 'disabled'; user: UserRecord };

const userColumns = (t = '') =>
  `${t}id::float8 as id, ${t}username, ${t}role, ${t}sites, ${t}disabled, ${epochMsAs(`${t}locked_until`)}, ${epochMsAs(`${t}created_at`)}`;
const USER_COLUMNS = userColumns();
const TOKEN_COLUMNS = `id::float8 as id, name, role, sites, scopes, created_by, ${epochMsAs('created_at')},
  ${epochMsAs('expires_at')}, ${epochMsAs('revoked_at')}`;

const iso = (at: number) => new Date(at).toISOString();


interface NewUser {
  username: string;
  role: Role;
  sites: string[];
  password: string;
}

/** People (users with a role and sites), their login sessions, and API tokens for integrations. */
export class People {
  constructor(
    private readonly db: SqlClient,
    private readonly now: () => number = Date.now,
  ) {}

  async countUsers(): Promise<number> {
    const [row] = await this.db.query<{ n: number }>('select count(*)::int as n from users');
    return row?.n ?? 0;
  }

  async createUser(input: NewUser): Promise<UserRecord> {
    return (await this.insertUser(input, ''))!;
  }

  /**
   * Creates the user unless one of that name exists; undefined when it did. Replicas starting
   * together on an empty database each try to create the first administrator: one does.
   */
  async createUserIfAbsent(input: NewUser): Promise<UserRecord | undefined> {
    return this.insertUser(input, 'on conflict (username) do nothing');
  }

  private async insertUser(input: NewUser, onConflict: string): Promise<UserRecord | undefined> {
    const hash = await hashPassword(input.password);
    const [row] = await this.db.query<UserRecord>(
      `insert into users (username, role, sites, password_hash) values ($1, $2, $3, $4) ${onConflict} returning ${USER_COLUMNS}`,
      [input.username, input.role, input.sites, hash],
    );
    return row;
  }

  async getUser(id: number): Promise<UserRecord | undefined> {
    return (await this.db.query<UserRecord>(`select ${USER_COLUMNS} from users where id = $1`, [id]))[0];
  }

  async findUser(username: string): Promise<UserRecord | undefined> {
    return (await this.db.query<UserRecord>(`select ${USER_COLUMNS} from users where username = $1`, [username]))[0];
  }

  async listUsers(): Promise<UserRecord[]> {
    return this.db.query<UserRecord>(`select ${USER_COLUMNS} from users order by id`);
  }

  /** Changes a user; a new password or being disabled ends their sessions. */
  async updateUser(id: number, change: { role?: Role; sites?: string[]; password?: string; disabled?: boolean; unlock?: boolean }): Promise<UserRecord | undefined> {
    const hash = change.password === undefined ? null : await hashPassword(change.password);
    const [row] = await this.db.query<UserRecord>(
      `update users set role = coalesce($2, role), sites = coalesce($3, sites), password_hash = coalesce($4, password_hash),
              disabled = coalesce($5, disabled),
              failed_logins = case when $6 then 0 else failed_logins end,
              locked_until = case when $6 then null else locked_until end
       where id = $1 returning ${USER_COLUMNS}`,
      [id, change.role ?? null, change.sites ?? null, hash, change.disabled ?? null, change.unlock ?? false],
    );
    if (row && (change.password !== undefined || change.disabled === true)) {
      await this.db.query('delete from sessions where user_id = $1', [id]);
    }
    return row;
  }

  /**
   * Checks a user name and password. Three failures in a row lock the account for 15 minutes,
   * during which even the right password is refused; an unknown name costs as much time as a
   * known one, so that timing does not tell which names exist.
   */
  async login(username: string, password: string): Promise<LoginOutcome> {
    const now = this.now();
    const rows = await this.db.query<UserRecord & { password_hash: string; failed_logins: number }>(
      `select ${USER_COLUMNS}, password_hash, failed_logins from users where username = $1`,
      [username],
    );
    const row = rows[0];
    if (!row) {
      await verifyPassword(password, DUMMY_HASH);
      return { kind: 'bad_credentials', user: undefined, lockedNow: false };
    }
    const { password_hash: hash, failed_logins: _failures, ...user } = row;
    if (user.locked_until !== null && user.locked_until > now) return { kind: 'locked', user, until: user.locked_until };
    if (!(await verifyPassword(password, hash))) {
      // One statement, so that concurrent failures all count.
      const [counted] = await this.db.query<{ failed_logins: number }>(
        `update users set failed_logins = case when locked_until is not null and locked_until <= $2 then 1 else failed_logins + 1 end,
                locked_until = case when (case when locked_until is not null and locked_until <= $2 then 1 else failed_logins + 1 end) >= $3
                                    then $4::timestamptz else null end
         where id = $1 returning failed_logins`,
        [user.id, iso(now), LOCKOUT_AFTER_FAILURES, iso(now + LOCKOUT_MS)],
      );
      return { kind: 'bad_credentials', user, lockedNow: (counted?.failed_logins ?? 0) === LOCKOUT_AFTER_FAILURES };
    }
    if (user.disabled) return { kind: 'disabled', user };
    await this.db.query('update users set failed_logins = 0, locked_until = null where id = $1', [user.id]);
    const token = newSecret('ghs_');
    const expiresAt = now + SESSION_MS;
    await this.db.query('insert into sessions (digest, user_id, created_at, expires_at) values ($1, $2, $3, $4)', [
      digestOf(token),
      user.id,
      iso(now),
      iso(expiresAt),
    ]);
    return { kind: 'ok', user: { ...user, locked_until: null }, token, expiresAt };
  }

  async logout(sessionToken: string): Promise<void> {
    await this.db.query('delete from sessions where digest = $1', [digestOf(sessionToken)]);
  }

  /** The principal a session token or an API token stands for, if it is valid now. */
  async principalOf(secret: string): Promise<Principal | undefined> {
    const digest = digestOf(secret);
    const now = iso(this.now());
    if (secret.startsWith('ghs_')) {
      const [user] = await this.db.query<UserRecord>(
        `select ${userColumns('u.')}
         from sessions s join users u on u.id = s.user_id where s.digest = $1 and s.expires_at > $2 and not u.disabled`,
        [digest, now],
      );
      return user && { kind: 'user', name: user.username, id: user.id, role: user.role, sites: user.sites, scopes: 'all' };
    }
    if (secret.startsWith('ght_')) {
      const [token] = await this.db.query<ApiTokenRecord>(
        `select ${TOKEN_COLUMNS} from api_tokens where digest = $1 and revoked_at is null and (expires_at is null or expires_at > $2)`,
        [digest, now],
      );
      return token && { kind: 'token', name: `token:${token.name}`, id: token.id, role: token.role, sites: token.sites, scopes: token.scopes };
    }
    return undefined;
  }

  async createApiToken(input: { name: string; role: Role; sites: string[]; scopes: Scope[]; createdBy: string; expiresAt: number | null }): Promise<{ token: string; record: ApiTokenRecord }> {
    const token = newSecret('ght_');
    const [record] = await this.db.query<ApiTokenRecord>(
      `insert into api_tokens (name, digest, role, sites, scopes, created_by, created_at, expires_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8) returning ${TOKEN_COLUMNS}`,
      [input.name, digestOf(token), input.role, input.sites, input.scopes, input.createdBy, iso(this.now()), input.expiresAt === null ? null : iso(input.expiresAt)],
    );
    return { token, record: record! };
  }

  async listApiTokens(): Promise<ApiTokenRecord[]> {
    return this.db.query<ApiTokenRecord>(`select ${TOKEN_COLUMNS} from api_tokens order by id`);
  }

  async revokeApiToken(id: number): Promise<{ before: ApiTokenRecord; after: ApiTokenRecord } | undefined> {
    const [before] = await this.db.query<ApiTokenRecord>(`select ${TOKEN_COLUMNS} from api_tokens where id = $1`, [id]);
    if (!before) return undefined;
    const [after] = await this.db.query<ApiTokenRecord>(
      `update api_tokens set revoked_at = coalesce(revoked_at, $2) where id = $1 returning ${TOKEN_COLUMNS}`,
      [id, iso(this.now())],
    );
    return { before, after: after! };
  }
}

/** Hashed once at start, for the time an unknown user name costs. */
const DUMMY_HASH = await hashPassword('not a password anybody has');

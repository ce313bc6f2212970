import { createHash, pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;
const pbkdf2Async = promisify(pbkdf2);

/**
 * scrypt's cost (N = 2^15, r = 8, p = 1): OWASP's recommended minimum, about 50 ms and 32 MiB
 * per hash on the reference machine — slow for a guesser, not for a login.
 */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keylen: 32 };

/** A password's scrypt hash as `scrypt$N$r$p$salt$hash` (base64), so that the cost can change later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** Whether a password matches a stored hash; compared in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * A password in Mosquitto's password-file format (`$7$iterations$salt$hash`: PBKDF2-SHA512,
 * 12-byte salt, 64-byte hash, base64; mosquitto_passwd(1)), so that the hub can keep a
 * Mosquitto password file in step with its registry without the plain password.
 */
export async function mosquittoHash(password: string, iterations = 101): Promise<string> {
  const salt = randomBytes(12);
  const hash = await pbkdf2Async(password, salt, iterations, 64, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** A random secret: 256 bits, base64url, with a prefix that says what it is (`ghs_` session, `ght_` API token…). */
export function newSecret(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/**
 * A random secret's digest, as stored. SHA-256 suffices for 256-bit random secrets (there is
 * nothing to guess), and lets a secret be looked up by its digest.
 */
export function digestOf(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A password generated for a person to change: 18 random bytes, base64url (24 characters). */
export function generatedPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** Compares two secrets in constant time. */
export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

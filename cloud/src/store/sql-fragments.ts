/**
 * Pieces of SQL the stores share: a timestamp column as epoch milliseconds, and the filter of
 * a list query built from whichever of its fields the caller gave.
 */

/** `column` (a timestamptz) as float milliseconds since the epoch; null stays null. */
export const epochMs = (column: string) => `(extract(epoch from ${column}) * 1000)::float8`;

/**
 * `epochMs(column)` named `name`: by default the column's own name without its table
 * (`d.last_seen` is named `last_seen`), as `select d.last_seen` would name it.
 */
export const epochMsAs = (column: string, name = column.slice(column.lastIndexOf('.') + 1)) => `${epochMs(column)} as ${name}`;

/** Conditions joined with AND, each value passed as a numbered parameter, never spliced in. */
export class SqlFilter {
  readonly params: unknown[] = [];
  private readonly conditions: string[];

  constructor(fixed: readonly string[] = []) {
    this.conditions = [...fixed];
  }

  /** Adds `clause(placeholder)` unless the value was not given. */
  when(value: unknown, clause: (placeholder: string) => string): this {
    if (value !== undefined) this.conditions.push(clause(this.param(value)));
    return this;
  }

  /** A placeholder for one more parameter (a limit, say). */
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  /** `where …`, or nothing when no condition was added. */
  get where(): string {
    return this.conditions.length > 0 ? `where ${this.conditions.join(' and ')}` : '';
  }
}

/**
 * InfluxQL quoting (docs.influxdata.com/influxdb/v1/query_language/spec/, "Identifiers" and
 * "Strings"). Every name the hub puts in a query is double-quoted and every value single-quoted,
 * so that keywords, dots and spaces in names need no special case. Newlines never get here: the
 * text codec has escaped them before anything is written or asked for.
 */
export const identifier = (name: string) => `"${name.replace(/["\\]/g, '\\$&')}"`;
export const stringLiteral = (text: string) => `'${text.replace(/['\\]/g, '\\$&')}'`;

/**
 * Milliseconds as InfluxQL reads them: an epoch time in a WHERE clause (`time >= 1700000000000ms`)
 * and a duration in GROUP BY time() (`time(900000ms)`).
 */
export const milliseconds = (ms: number) => `${Math.trunc(ms)}ms`;

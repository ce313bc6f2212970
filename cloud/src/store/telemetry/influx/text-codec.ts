/**
 * Text that line protocol cannot carry, made so that it can, reversibly.
 *
 * The line-protocol reference says it "does not support the newline character \n in tag values
 * or field values", and influxd 1.x cannot parse a tag value that ends in a backslash (the
 * backslash escapes the separator after it; see influxdata/telegraf#3004). Hub text is nearly
 * always free of these (the contract's identifiers exclude them), but a store must give back what
 * it was given. So before line-protocol escaping, tag values, field keys and string values are
 * percent-escaped in exactly four characters: `%` (so that decoding is unambiguous), `\`, LF and
 * CR. Anything else, including spaces, commas, quotes and 粤B12345, is stored as it is, so that
 * people reading InfluxDB directly see the text they expect.
 */
const ENCODE: Record<string, string> = { '%': '%25', '\\': '%5C', '\n': '%0A', '\r': '%0D' };
const DECODE: Record<string, string> = { '%25': '%', '%5C': '\\', '%0A': '\n', '%0D': '\r' };
const NEEDS_ENCODING = /[%\\\n\r]/;

export function encodeText(text: string): string {
  return NEEDS_ENCODING.test(text) ? text.replace(/[%\\\n\r]/g, (char) => ENCODE[char] ?? char) : text;
}

export function decodeText(text: string): string {
  return text.includes('%') ? text.replace(/%(25|5C|0A|0D)/g, (code) => DECODE[code] ?? code) : text;
}

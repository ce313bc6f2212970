/** Exception codes of the Modbus application protocol V1.1b3 §7, by the names installers know. */
export const MODBUS_EXCEPTIONS: Readonly<Record<number, string>> = {
  0x01: 'illegal function',
  0x02: 'illegal data address',
  0x03: 'illegal data value',
  0x04: 'server device failure',
  0x05: 'acknowledge',
  0x06: 'server device busy',
  0x08: 'memory parity error',
  0x0a: 'gateway path unavailable',
  0x0b: 'gateway target device failed to respond',
};

export function exceptionName(code: number): string {
  return MODBUS_EXCEPTIONS[code] ?? `exception 0x${code.toString(16).padStart(2, '0')}`;
}

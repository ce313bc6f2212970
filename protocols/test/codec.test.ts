import { describe, expect, it } from 'vitest';
import {
  BYTE_ORDERS,
  decodeRegisters,
  encodeRegisters,
  REGISTER_TYPES,
  RegisterDecodeError,
  type ByteOrder,
  type RegisterLayout,
  type RegisterType,
} from '../src/index.js';

// Expected wire registers worked out by hand from the value's big-endian bytes, so that these
// cases do not depend on the encoder they check.
const KNOWN: Array<[RegisterType, ByteOrder, number[], number | string | boolean]> = [
  ['float32', 'ABCD', [0x4366, 0x8000], 230.5],
  ['float32', 'CDAB', [0x8000, 0x4366], 230.5],
  ['float32', 'BADC', [0x6643, 0x0080], 230.5],
  ['float32', 'DCBA', [0x0080, 0x6643], 230.5],
  ['uint32', 'ABCD', [0x1234, 0x5678], 0x12345678],
  ['uint32', 'CDAB', [0x5678, 0x1234], 0x12345678],
  ['uint32', 'BADC', [0x3412, 0x7856], 0x12345678],
  ['uint32', 'DCBA', [0x7856, 0x3412], 0x12345678],
  ['int32', 'CDAB', [0xfffe, 0xffff], -2],
  ['int16', 'ABCD', [0xfffe], -2],
  ['int16', 'BADC', [0xfeff], -2],
  ['uint16', 'ABCD', [0xfffe], 65534],
  ['uint64', 'CDAB', [0x0506, 0x0304, 0x0102, 0x0000], 0x010203040506],
  ['int64', 'ABCD', [0xffff, 0xffff, 0xffff, 0xfff6], -10],
  ['float64', 'ABCD', [0x4059, 0x0000, 0x0000, 0x0000], 100],
  ['float64', 'DCBA', [0x0000, 0x0000, 0x0000, 0x5940], 100],
  ['bcd16', 'ABCD', [0x1234], 1234],
  ['bcd32', 'CDAB', [0x5678, 0x1234], 12345678],
];

describe('decodeRegisters', () => {
  it.each(KNOWN)('%s %s %j → %s', (type, order, registers, expected) => {
    expect(decodeRegisters(registers, { type, order })).toBe(expected);
  });

  it('reports a float32 as the shortest decimal that is the same float32', () => {
    // 230.1 is 0x4366199A as a float32, which as a double is 230.10000610351562.
    expect(decodeRegisters([0x199a, 0x4366], { type: 'float32', order: 'CDAB' })).toBe(230.1);
  });

  it('reads a bit of a register as a bool', () => {
    expect(decodeRegisters([0b0100], { type: 'bool', order: 'ABCD', bit: 2 })).toBe(true);
    expect(decodeRegisters([0b0100], { type: 'bool', order: 'ABCD', bit: 1 })).toBe(false);
  });

  it('reads a string and drops its padding', () => {
    expect(decodeRegisters([0x4454, 0x5355, 0x3636, 0x3600], { type: 'string', order: 'ABCD', length: 4 })).toBe(
      'DTSU666',
    );
    expect(decodeRegisters([0x5444, 0x2020], { type: 'string', order: 'BADC', length: 2 })).toBe('DT');
  });

  // A string's characters are in address order whatever the device's word order: CDAB reads it as
  // ABCD does and DCBA as BADC does. Reversing the registers would read "DTSU666" as "6\0SU6DT".
  it.each([
    ['ABCD', [0x4454, 0x5355, 0x3636, 0x3600]],
    ['CDAB', [0x4454, 0x5355, 0x3636, 0x3600]],
    ['BADC', [0x5444, 0x5553, 0x3636, 0x0036]],
    ['DCBA', [0x5444, 0x5553, 0x3636, 0x0036]],
  ] as const)('never reverses the registers of a string (%s)', (order, registers) => {
    const layout: RegisterLayout = { type: 'string', order, length: 4 };
    expect(decodeRegisters(registers, layout)).toBe('DTSU666');
    expect(encodeRegisters('DTSU666', layout)).toEqual(registers);
  });

  it('refuses registers that are not BCD', () => {
    expect(() => decodeRegisters([0x12a4], { type: 'bcd16', order: 'ABCD' })).toThrow(RegisterDecodeError);
  });

  it('refuses the wrong number of registers', () => {
    expect(() => decodeRegisters([1], { type: 'float32', order: 'ABCD' })).toThrow(/needs 2 registers/);
  });
});

const SAMPLES: Record<RegisterType, number | string | boolean> = {
  int16: -12345,
  uint16: 54321,
  int32: -123456789,
  uint32: 3_000_000_000,
  int64: -9_007_199_254_740_991,
  uint64: 9_007_199_254_740_991,
  float32: 49.99,
  float64: 12345.678901234,
  bcd16: 9876,
  bcd32: 87654321,
  string: 'GH-01',
  bool: true,
};

describe('every type in every byte order round-trips', () => {
  const cases = REGISTER_TYPES.flatMap((type) => BYTE_ORDERS.map((order) => [type, order] as const));
  it.each(cases)('%s %s', (type, order) => {
    const layout: RegisterLayout = { type, order, length: 4, bit: 5 };
    const registers = encodeRegisters(SAMPLES[type], layout);
    expect(registers.every((r) => Number.isInteger(r) && r >= 0 && r <= 0xffff)).toBe(true);
    expect(decodeRegisters(registers, layout)).toBe(SAMPLES[type]);
  });
});

import { z } from 'zod';
import {
  BYTE_ORDERS,
  DEVICE_KINDS,
  pointDefinition,
  REGISTER_TYPES,
  registerCount,
  type DeviceKind,
} from '@gatehouse/protocols';

/**
 * A device profile: how one model's vendor registers become catalogue points. Profiles are data
 * (YAML or JSON) so that an installer can describe a new model without code.
 */
export const MODBUS_TABLES = ['holding', 'input', 'coil', 'discrete'] as const;
export type ModbusTable = (typeof MODBUS_TABLES)[number];

/** Coils and discrete inputs hold single bits; holding and input registers hold 16-bit words. */
export function isBitTable(table: ModbusTable): boolean {
  return table === 'coil' || table === 'discrete';
}

export const ModbusPointMapping = z.object({
  point: z.string().min(1),
  table: z.enum(MODBUS_TABLES).optional(),
  /** Zero-based protocol address (register 40001 of a vendor's table is address 0). */
  address: z.number().int().min(0).max(0xffff),
  type: z.enum(REGISTER_TYPES).default('uint16'),
  order: z.enum(BYTE_ORDERS).optional(),
  length: z.number().int().min(1).max(123).optional(),
  bit: z.number().int().min(0).max(15).optional(),
  /** engineering value = raw × scale + offset, in the catalogue's unit. */
  scale: z.number().finite().refine((scale) => scale !== 0, 'must not be 0').default(1),
  offset: z.number().finite().default(0),
});

const ProfileShape = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and "-"'),
  kind: z.enum(DEVICE_KINDS as [DeviceKind, ...DeviceKind[]]),
  vendor: z.string().min(1),
  model: z.string().min(1),
  description: z.string().default(''),
  protocol: z.literal('modbus'),
  defaults: z
    .object({
      table: z.enum(MODBUS_TABLES).default('holding'),
      order: z.enum(BYTE_ORDERS).default('ABCD'),
    })
    .prefault({}),
  limits: z
    .object({
      /** Modbus allows 125 registers (2000 bits) per read; many meters accept fewer. */
      max_registers_per_request: z.number().int().min(1).max(125).default(125),
      max_bits_per_request: z.number().int().min(1).max(2000).default(2000),
    })
    .prefault({}),
  points: z.array(ModbusPointMapping).min(1),
});

/** Cross-field rules, each reported at the path of the field that breaks it. */
export const DeviceProfile = ProfileShape.superRefine((profile, ctx) => {
  const seen = new Set<string>();
  profile.points.forEach((mapping, index) => {
    const at = (field: string) => ['points', index, field];
    const definition = pointDefinition(profile.kind, mapping.point);
    if (!definition) {
      ctx.addIssue({ code: 'custom', path: at('point'), message: `${profile.kind} has no point "${mapping.point}"` });
      return;
    }
    if (seen.has(mapping.point)) {
      ctx.addIssue({ code: 'custom', path: at('point'), message: `"${mapping.point}" is mapped twice` });
    }
    seen.add(mapping.point);
    const table = mapping.table ?? profile.defaults.table;
    if (isBitTable(table) && mapping.type !== 'bool') {
      ctx.addIssue({ code: 'custom', path: at('type'), message: `a ${table} holds one bit: use type bool` });
    }
    if ((definition.type === 'boolean') !== (mapping.type === 'bool')) {
      ctx.addIssue({
        code: 'custom',
        path: at('type'),
        message: `"${mapping.point}" is a ${definition.type} point; ${mapping.type} does not fit it`,
      });
    }
    if (mapping.type === 'string' && !mapping.length) {
      ctx.addIssue({ code: 'custom', path: at('length'), message: 'a string needs its length in registers' });
    }
    const width = isBitTable(table) ? 1 : registerCount({ type: mapping.type, order: 'ABCD', length: mapping.length ?? 1 });
    if (mapping.address + width > 0x10000) {
      ctx.addIssue({ code: 'custom', path: at('address'), message: 'runs past the last Modbus address (65535)' });
    }
  });
});

export type DeviceProfile = z.infer<typeof DeviceProfile>;
export type ModbusPointMapping = z.infer<typeof ModbusPointMapping>;

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtInProfile, loadProfileFile, parseProfile, ProfileError } from '../src/index.js';

const base = {
  id: 'test-meter',
  kind: 'electric_meter',
  vendor: 'Acme',
  model: 'M1',
  protocol: 'modbus',
  points: [{ point: 'voltage_l1_v', address: 0, type: 'float32' }],
};

function issuePaths(document: unknown): string[] {
  try {
    parseProfile(document, 'test');
  } catch (error) {
    if (error instanceof ProfileError) return error.issues.map((issue) => issue.path);
    throw error;
  }
  return [];
}

describe('device profiles', () => {
  it('ships the reference meter with its defaults applied', () => {
    const profile = builtInProfile('reference-3ph-meter');
    expect(profile?.kind).toBe('electric_meter');
    expect(profile?.defaults).toEqual({ table: 'holding', order: 'CDAB' });
    expect(profile?.points.map((p) => p.point)).toContain('energy_import_kwh');
  });

  it('accepts a minimal profile and fills the defaults', () => {
    const profile = parseProfile(base, 'test');
    expect(profile.limits).toEqual({ max_registers_per_request: 125, max_bits_per_request: 2000 });
    expect(profile.points[0]).toMatchObject({ scale: 1, offset: 0 });
  });

  it.each([
    ['a point the kind does not have', { point: 'floor', address: 0 }, 'points[0].point'],
    ['a number read as a bool', { point: 'voltage_l1_v', address: 0, type: 'bool' }, 'points[0].type'],
    ['a coil read as a float', { point: 'voltage_l1_v', address: 0, table: 'coil', type: 'float32' }, 'points[0].type'],
    ['an address past the end of the table', { point: 'voltage_l1_v', address: 65535, type: 'float32' }, 'points[0].address'],
    ['a scale of zero', { point: 'voltage_l1_v', address: 0, scale: 0 }, 'points[0].scale'],
  ])('rejects %s, naming the field', (_what, point, path) => {
    expect(issuePaths({ ...base, points: [point] })).toContain(path);
  });

  it('rejects a point mapped twice', () => {
    const twice = [base.points[0], { point: 'voltage_l1_v', address: 2, type: 'float32' }];
    expect(issuePaths({ ...base, points: twice })).toEqual(['points[1].point']);
  });

  it('names the file of a profile that does not parse', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-profile-'));
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'id: [unclosed');
    expect(() => loadProfileFile(file)).toThrow(ProfileError);
    expect(() => loadProfileFile(file)).toThrow(file);
  });
});

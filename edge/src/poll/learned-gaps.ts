import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RegisterSpan } from '@gatehouse/protocols';

interface Learned {
  profile: string;
  unreadable: RegisterSpan[];
}

/**
 * Addresses devices refused to read ("illegal data address" for a merged request), kept on disk
 * per device and profile, so that a restarted agent does not have to learn them again. A change
 * of profile forgets what was learned under the old one.
 */
export class LearnedGaps {
  private readonly learned: Record<string, Learned>;

  constructor(private readonly file: string) {
    this.learned = LearnedGaps.read(file);
  }

  private static read(file: string): Record<string, Learned> {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Record<string, Learned>;
    } catch {
      return {};
    }
  }

  get(device: string, profile: string): RegisterSpan[] {
    const entry = this.learned[device];
    return entry?.profile === profile ? entry.unreadable : [];
  }

  add(device: string, profile: string, gaps: readonly RegisterSpan[]): void {
    this.learned[device] = { profile, unreadable: [...this.get(device, profile), ...gaps] };
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileSync(`${this.file}.tmp`, JSON.stringify(this.learned, null, 2));
    renameSync(`${this.file}.tmp`, this.file);
  }
}

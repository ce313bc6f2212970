import { z } from 'zod';
import { Identifier } from '@gatehouse/protocols';

/** The agent's listener for plate reads pushed by LPR cameras (`lpr:` in its configuration). */
export const LprConfig = z.strictObject({
  /** 0.0.0.0 (or the camera network's address) so that cameras on the site's network reach it. */
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 picks a free port. */
  port: z.number().int().min(0).max(65_535).default(9465),
  /** When given, reads from any other camera id are refused (400), so that a typo shows at once. */
  cameras: z.array(Identifier).min(1).optional(),
  /** Hikvision cameras post their pictures with the plate; larger bodies are refused (413). */
  max_body_kb: z.number().int().min(1).max(65_536).default(8_192),
});

export type LprConfig = z.infer<typeof LprConfig>;

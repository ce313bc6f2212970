import { migrate, openEmbeddedDatabase } from '../src/index.js';
import { jobQueueConformance } from './jobs-conformance.js';

// In one process every queue shares the one embedded database, as hub and drill do.
jobQueueConformance('PGlite', async () => {
  const db = await openEmbeddedDatabase(undefined);
  await migrate(db);
  return { connect: async () => db, close: () => db.close() };
});

import { emptyEmbeddedDatabase, sqlStoreConformance } from './sql-conformance.js';

sqlStoreConformance('PGlite', emptyEmbeddedDatabase);

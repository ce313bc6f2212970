import { emptyPostgresDatabase, sqlStoreConformance } from './sql-conformance.js';

sqlStoreConformance('a PostgreSQL server', emptyPostgresDatabase);

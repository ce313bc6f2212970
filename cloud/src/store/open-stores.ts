import { AlarmBook } from '../alarms/alarm-book.js';
import { OnCall } from '../oncall/index.js';
import type { HubSettings } from '../settings.js';
import { WorkOrderBook } from '../work-orders/work-order-book.js';
import { AuditLog } from './audit-log.js';
import { BatchLedger } from './batch-ledger.js';
import { CommandLog } from './command-log.js';
import { EventLog } from './event-log.js';
import { GatewayCredentials } from './gateway-credentials.js';
import { migrate } from './migrations.js';
import { openEmbeddedDatabase } from './pglite.js';
import { openPostgresDatabase } from './postgres.js';
import { People } from './people.js';
import { Registry } from './registry.js';
import type { SqlClient } from './sql.js';
import { InfluxTelemetryStore } from './telemetry/influx/influx-telemetry-store.js';
import type { TelemetryStore } from './telemetry/port.js';
import { SqlTelemetryStore } from './telemetry/sql-telemetry-store.js';

export interface HubStores {
  db: SqlClient;
  registry: Registry;
  ledger: BatchLedger;
  events: EventLog;
  commands: CommandLog;
  telemetry: TelemetryStore;
  people: People;
  audit: AuditLog;
  gateways: GatewayCredentials;
  alarms: AlarmBook;
  orders: WorkOrderBook;
  oncall: OnCall;
  /** Schema versions this start applied. */
  migrated: number[];
  close(): Promise<void>;
}

function openRelational(settings: HubSettings['relational']): Promise<SqlClient> | SqlClient {
  return settings.kind === 'embedded' ? openEmbeddedDatabase(settings.dataDir) : openPostgresDatabase(settings.url);
}

async function openTelemetry(settings: HubSettings['telemetry'], db: SqlClient): Promise<TelemetryStore> {
  if (settings.kind === 'relational') return new SqlTelemetryStore(db);
  const { url, database, username, password, token, retention } = settings;
  return InfluxTelemetryStore.open({ connection: { url, database, username, password, token }, retention });
}

/**
 * Opens the stores the settings name: PGlite under the data directory or a PostgreSQL server
 * for the registry and bookkeeping (migrated to the current schema), and for readings the same
 * database or InfluxDB (with its retention policies and rollup set up).
 */
export async function openStores(settings: Pick<HubSettings, 'relational' | 'telemetry'>, now: () => number = Date.now): Promise<HubStores> {
  const db = await openRelational(settings.relational);
  try {
    const migrated = await migrate(db);
    const telemetry = await openTelemetry(settings.telemetry, db);
    return {
      db,
      registry: new Registry(db),
      ledger: new BatchLedger(db),
      events: new EventLog(db),
      commands: new CommandLog(db),
      telemetry,
      people: new People(db),
      audit: new AuditLog(db),
      gateways: new GatewayCredentials(db),
      alarms: new AlarmBook(db, now),
      orders: new WorkOrderBook(db, now),
      oncall: new OnCall(db, now),
      migrated,
      close: async () => {
        await telemetry.close();
        await db.close();
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}

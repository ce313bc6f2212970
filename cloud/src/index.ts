export { startHub, type RunningHub } from './hub.js';
export { hubSettingsFromEnv, type HubSettings } from './settings.js';
export { buildApp, type AppDeps } from './api/app.js';
export { openEmbeddedDatabase, type SqlClient } from './store/sql.js';
export { migrate, MIGRATIONS } from './store/migrations.js';
export { SqlTelemetryStore, type TelemetryStore, type StoredReading } from './store/telemetry-store.js';
export { Registry, type DeviceRecord } from './store/registry.js';
export { LiveFeed, type LiveMessage } from './live/live-feed.js';

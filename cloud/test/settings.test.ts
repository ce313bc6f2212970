import { describe, expect, it } from 'vitest';
import { hubSettingsFromEnv } from '../src/index.js';

describe('hub settings from the environment', () => {
  it('defaults to the embedded deployment: PGlite under the data directory, readings in it too', () => {
    const settings = hubSettingsFromEnv({}, '/srv/hub');
    expect(settings.relational).toEqual({ kind: 'embedded', dataDir: '/srv/hub/.gatehouse/hub/pglite' });
    expect(settings.telemetry).toEqual({ kind: 'relational' });
    expect(settings.broker).toEqual({ kind: 'embedded', host: '127.0.0.1', port: 1883 });
  });

  it('connects to an external broker with its own credentials and a replica name when GATEHOUSE_MQTT_URL is set', () => {
    const settings = hubSettingsFromEnv({
      GATEHOUSE_MQTT_URL: 'mqtts://broker.internal:8883',
      GATEHOUSE_MQTT_USERNAME: 'hub',
      GATEHOUSE_MQTT_PASSWORD: 'secret',
      GATEHOUSE_HUB_ID: 'hub-a',
    });
    expect(settings.broker).toEqual({ kind: 'external', url: 'mqtts://broker.internal:8883', username: 'hub', password: 'secret', hubId: 'hub-a' });
  });

  it('uses a PostgreSQL server and InfluxDB when their URLs are set, with retention defaults', () => {
    const settings = hubSettingsFromEnv({
      GATEHOUSE_DATABASE_URL: 'postgres://hub:secret@db.internal:5432/gatehouse',
      GATEHOUSE_INFLUX_URL: 'http://influx.internal:8086',
      GATEHOUSE_INFLUX_USERNAME: 'hub',
      GATEHOUSE_INFLUX_PASSWORD: 'secret',
    });
    expect(settings.relational).toEqual({ kind: 'postgresql', url: 'postgres://hub:secret@db.internal:5432/gatehouse' });
    expect(settings.telemetry).toEqual({
      kind: 'influxdb',
      url: 'http://influx.internal:8086',
      database: 'gatehouse',
      username: 'hub',
      password: 'secret',
      token: undefined,
      retention: { raw: { literal: '90d', ms: 90 * 86_400_000 }, rollup: { literal: 'INF', ms: Infinity } },
    });
  });

  it('is secure by default: no anonymous MQTT, no preset password, rate limits on', () => {
    expect(hubSettingsFromEnv({}).security).toEqual({
      adminPassword: undefined,
      tls: undefined,
      mqttAllowAnonymous: false,
      mqttPublicUrl: undefined,
      mosquitto: undefined,
      rateLimits: { loginPerMinute: 10, apiPerMinute: 1200 },
    });
  });

  it.each([
    [{ GATEHOUSE_TLS_CERT: '/etc/hub.pem' }, 'GATEHOUSE_TLS_KEY'],
    [{ GATEHOUSE_ADMIN_PASSWORD: 'short' }, 'GATEHOUSE_ADMIN_PASSWORD'],
    [{ GATEHOUSE_MOSQUITTO_PASSWORD_FILE: '/etc/mosquitto/passwd', GATEHOUSE_MOSQUITTO_ACL_FILE: '/etc/mosquitto/acl' }, 'GATEHOUSE_MOSQUITTO_PASSWORD_FILE'],
    [{ GATEHOUSE_MQTT_ALLOW_ANONYMOUS: 'yes' }, 'GATEHOUSE_MQTT_ALLOW_ANONYMOUS'],
    [{ GATEHOUSE_DATABASE_URL: 'mysql://x/y' }, 'GATEHOUSE_DATABASE_URL'],
    [{ GATEHOUSE_INFLUX_URL: 'influx.internal:8086' }, 'GATEHOUSE_INFLUX_URL'],
    [{ GATEHOUSE_INFLUX_RAW_RETENTION: '90 days' }, 'GATEHOUSE_INFLUX_RAW_RETENTION'],
    [{ GATEHOUSE_INFLUX_RAW_RETENTION: '30m' }, 'GATEHOUSE_INFLUX_RAW_RETENTION'],
    [{ GATEHOUSE_INFLUX_RAW_RETENTION: '52w', GATEHOUSE_INFLUX_ROLLUP_RETENTION: '30d' }, 'GATEHOUSE_INFLUX_ROLLUP_RETENTION'],
    [{ GATEHOUSE_INFLUX_TOKEN: 't', GATEHOUSE_INFLUX_USERNAME: 'u' }, 'GATEHOUSE_INFLUX_TOKEN'],
    [{ GATEHOUSE_INFLUX_PASSWORD: 'p' }, 'GATEHOUSE_INFLUX_USERNAME'],
    [{ GATEHOUSE_MQTT_URL: 'tcp://broker:1883' }, 'GATEHOUSE_MQTT_URL'],
    [{ GATEHOUSE_MQTT_URL: 'mqtt://broker:1883', GATEHOUSE_HUB_ID: 'hub a' }, 'GATEHOUSE_HUB_ID'],
  ])('refuses %o with a message naming %s', (env, variable) => {
    expect(() => hubSettingsFromEnv(env)).toThrow(new RegExp(`invalid environment: .*${variable}`));
  });
});

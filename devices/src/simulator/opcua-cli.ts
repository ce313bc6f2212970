import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadAnyProfileFile } from '../profile/load.js';
import { builtInAnyProfile } from '../profile/registry.js';
import type { OpcuaProfile } from '../profile/schema.js';
import { startControlServer } from './device-simulator.js';
import type { MeterSimulatorOptions } from './meter-simulator.js';
import { startOpcuaSimulator } from './opcua-simulator.js';
import { exitOnSignal } from './exit-on-signal.js';

/** The model's profile when it is an OPC UA one (`protocol: opcua`), else undefined. */
export function opcuaProfileOf(idOrFile: string): OpcuaProfile | undefined {
  const profile = builtInAnyProfile(idOrFile) ?? (/[/.]/.test(idOrFile) ? loadAnyProfileFile(idOrFile) : undefined);
  return profile?.protocol === 'opcua' ? profile : undefined;
}

/** The endpoint and behaviour flags of the other simulators, and the OPC UA server's own. */
export interface OpcuaDeviceFlags extends Pick<MeterSimulatorOptions, 'host' | 'port' | 'units' | 'hold' | 'fixed' | 'tickMs'> {
  profile: OpcuaProfile;
  controlPort: number | undefined;
  /** Default: a folder in the system's temporary directory, kept between runs (the certificate takes a while to make). */
  pkiDir: string | undefined;
}

/** `gatehouse-sim device --model ID` for an OPC UA model: runs until SIGINT or SIGTERM. */
export async function runOpcuaDevice(flags: OpcuaDeviceFlags, log: Logger): Promise<void> {
  const simulator = await startOpcuaSimulator({
    profile: flags.profile,
    units: flags.units,
    host: flags.host,
    port: flags.port,
    pkiDir: flags.pkiDir ?? join(tmpdir(), 'gatehouse-opcua-simulator', 'pki'),
    hold: flags.hold,
    fixed: flags.fixed,
    tickMs: flags.tickMs,
    log,
  });
  const control = flags.controlPort === undefined ? undefined : await startControlServer(simulator, flags.host, flags.controlPort);
  log.info(
    {
      protocol: 'opcua',
      endpoint_url: simulator.endpointUrl,
      namespace: flags.profile.namespace,
      units: flags.units,
      nodes: flags.units.map((unit) => simulator.nodeOf(unit)),
      model: flags.profile.id,
      kind: flags.profile.kind,
      ...(control ? { control_port: control.address().port } : {}),
    },
    'simulator ready',
  );
  exitOnSignal(() => simulator.stop(), control && (() => control.close()));
}

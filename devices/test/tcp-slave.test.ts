import { createRequire } from 'node:module';
import type { ModbusRTU as ModbusRTUClass } from 'modbus-serial/ModbusRTU.js';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInProfile, decodePlannedRead, planProfileReads } from '../src/index.js';
import { ProfileSlave } from '../src/simulator/profile-slave.js';
import { startTcpSlave, type TcpSlave } from '../src/simulator/tcp-slave.js';

// An independent Modbus TCP client (modbus-serial is CommonJS).
const ModbusRTU = createRequire(import.meta.url)('modbus-serial') as typeof ModbusRTUClass;

describe('the Modbus TCP slave of the simulators', () => {
  const profile = builtInProfile('reference-3ph-meter')!;
  const slave = new ProfileSlave(profile);
  let tcp: TcpSlave;
  const client = new ModbusRTU();

  beforeAll(async () => {
    slave.update({ voltage_l1_v: 229.4, energy_import_kwh: 98_765.43, active_power_kw: -1.5, frequency_hz: 50.01 });
    tcp = await startTcpSlave({ port: 0, units: new Map([[7, slave.memory]]) });
    await client.connectTCP('127.0.0.1', { port: tcp.address().port });
    client.setTimeout(1000);
    client.setID(7);
  });

  afterAll(async () => {
    await new Promise((resolve) => client.close(resolve));
    await tcp.close();
  });

  it('answers every planned read so that the profile decodes the values it was given', async () => {
    const decoded: Record<string, unknown> = {};
    for (const read of planProfileReads(profile)) {
      const { address, count } = read.request;
      const { data } = await client.readHoldingRegisters(address, count);
      for (const result of decodePlannedRead(read, data)) if ('value' in result) decoded[result.point] = result.value;
    }
    expect(decoded).toMatchObject({ voltage_l1_v: 229.4, energy_import_kwh: 98_765.43, active_power_kw: -1.5, frequency_hz: 50.01 });
  });

  it('answers "illegal data address" outside the implemented blocks, like a real meter', async () => {
    await expect(client.readHoldingRegisters(0x0050, 2)).rejects.toMatchObject({ modbusCode: 2 });
  });

  it('answers "gateway target device failed to respond" for a unit it does not hold', async () => {
    client.setID(8);
    try {
      await expect(client.readHoldingRegisters(0, 2)).rejects.toMatchObject({ modbusCode: 0x0b });
    } finally {
      client.setID(7);
    }
  });

  it('takes register writes (FC 16) and reads them back', async () => {
    await client.writeRegisters(0x0020, [4990]);
    expect((await client.readHoldingRegisters(0x0020, 1)).data).toEqual([4990]);
  });

  it('drops a connection that does not speak Modbus, and keeps serving others', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const socket = connect(tcp.address().port, '127.0.0.1', () => socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n')));
      socket.on('close', () => resolve(true));
      socket.on('error', () => undefined);
    });
    expect(closed).toBe(true);
    expect((await client.readHoldingRegisters(0x0020, 1)).data).toEqual([4990]);
  });
});

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Proc } from './processes.js';

/** Debian's own python3, which has python3-pymodbus; the python3 first on PATH may not. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

const PYMODBUS_SERVER = fileURLToPath(new URL('./pymodbus_server.py', import.meta.url));

/** Starts the pymodbus server (see pymodbus_server.py for what it holds) and waits until it serves. */
export async function startPymodbusServer(args: ['tcp', number] | ['serial', string, number]): Promise<Proc> {
  const proc = new Proc('pymodbus', spawn(DEBIAN_PYTHON, [PYMODBUS_SERVER, ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  await proc.waitForLine((line) => (line.trim() === 'ready' ? true : undefined));
  return proc;
}

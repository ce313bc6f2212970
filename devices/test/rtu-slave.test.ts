import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERIAL_LINE, frameMs, interFrameSilenceMs, readResponseBytes, type SerialLine } from '@gatehouse/protocols';
import { answerFrame, FaultError, FaultInjector, faultPlanOf, parseFault, type FaultSpec } from '../src/simulator/faults.js';
import { SlaveMemory } from '../src/simulator/memory.js';
import { decodeRtuFrame, encodeRtuFrame, hasValidCrc } from '../src/simulator/rtu-framing.js';
import { responseDelay, startRtuSlave, type RtuSlave, type RtuTcpSlave } from '../src/simulator/rtu-slave.js';
import { startPtyPair, type PtyPair } from '../src/simulator/pty-pair.js';

/** Debian's mbpoll (libmodbus inside): a Modbus master nobody here wrote. */
const MBPOLL = '/usr/bin/mbpoll';
/** Debian's own python3: the python3 first on PATH is a pyenv one without pymodbus. */
const PYTHON = '/usr/bin/python3';

const LINE: SerialLine = DEFAULT_SERIAL_LINE; // 9600 baud, 8E1
const TURNAROUND_MS = 5;

/** Unit u holds holding register i = 100·u + i, input register i = 1000·u + i, coil i = i odd. */
function unitMemory(unit: number): SlaveMemory {
  const memory = new SlaveMemory();
  memory.implement('holding', 0, 99);
  memory.implement('input', 0, 9);
  memory.implement('coil', 0, 15);
  memory.setMany('holding', 0, Array.from({ length: 100 }, (_, i) => 100 * unit + i));
  memory.setMany('input', 0, Array.from({ length: 10 }, (_, i) => 1000 * unit + i));
  memory.setMany('coil', 0, Array.from({ length: 16 }, (_, i) => i % 2));
  return memory;
}

function holding(unit: number, first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => 100 * unit + first + i);
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a peer to completion; a hung peer is killed, so no test leaves a process behind. */
function run(file: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 20_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** mbpoll as an RTU master on `path`: PDU (0-based) addresses, one poll, 1 s timeout (a loaded machine is slow). */
function mbpoll(path: string, units: string, args: readonly string[], writeValues: readonly number[] = []): Promise<Run> {
  const { baud, parity, dataBits, stopBits } = LINE;
  const line = ['-m', 'rtu', '-b', String(baud), '-P', parity, '-d', String(dataBits), '-s', String(stopBits)];
  return run(MBPOLL, [...line, '-0', '-1', '-o', '1', ...args, '-a', units, path, ...writeValues.map(String)]);
}

/** The values mbpoll printed under each "-- Polling slave N..." heading; a failed poll has none. */
function polled(stdout: string): Map<number, number[]> {
  const result = new Map<number, number[]>();
  let unit: number | undefined;
  for (const line of stdout.split('\n')) {
    const heading = /^-- Polling slave (\d+)/.exec(line);
    if (heading) result.set((unit = Number(heading[1])), []);
    const value = /^\[\d+\]:\s+(-?\d+)/.exec(line);
    if (value && unit !== undefined) result.get(unit)!.push(Number(value[1]));
  }
  return result;
}

/**
 * A pymodbus 3.0 client (Debian's python3-pymodbus) with the RTU framer, over a serial port or
 * over TCP (RTU over TCP). pymodbus 3.0 truncates `timeout` to whole seconds, so 1 s is the least.
 *
 * Parity on a pty: Linux ptys silently drop PARENB from the termios they are given, and pyserial's
 * tcsetattr then fails with EINVAL on every configuration after the first with parity set (seen
 * on this machine; libmodbus and node-serialport are unaffected). So each pymodbus process gets a
 * fresh pty, `strict=False` keeps pyserial from re-configuring the port for an inter-byte timeout,
 * and faults are shown to pymodbus over TCP: after an I/O error it re-opens a serial port.
 */
const PYMODBUS_PEER = String.raw`
import json, sys, time
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.transaction import ModbusRtuFramer
from pymodbus.utilities import ModbusTransactionState

cfg = json.loads(sys.argv[1])
common = dict(framer=ModbusRtuFramer, timeout=1, retries=0, strict=False, broadcast_enable=True)
if 'path' in cfg:
    client = ModbusSerialClient(port=cfg['path'], baudrate=cfg['baud'], bytesize=8, parity=cfg['parity'], stopbits=1, **common)
else:
    client = ModbusTcpClient(cfg['host'], port=cfg['port'], **common)
if not client.connect():
    sys.exit('pymodbus could not connect')
results = []
for op in cfg['ops']:
    start = time.perf_counter()
    try:
        kind = op['op']
        if kind == 'read':
            r = client.read_holding_registers(op['address'], op['count'], slave=op['unit'])
        elif kind == 'read-input':
            r = client.read_input_registers(op['address'], op['count'], slave=op['unit'])
        elif kind == 'write':
            r = client.write_registers(op['address'], op['values'], slave=op['unit'])
        elif kind == 'write-one':
            r = client.write_register(op['address'], op['value'], slave=op['unit'])
        elif kind == 'raw':
            client.send(bytes.fromhex(op['hex']))
            # A bare send leaves the RTU framer waiting for an answer to it; end that "transaction".
            client.state = ModbusTransactionState.TRANSACTION_COMPLETE
            r = None
        else:
            sys.exit('unknown op ' + kind)
        ms = (time.perf_counter() - start) * 1000
        if r is None or isinstance(r, bytes):
            results.append({'ok': True, 'ms': ms})
        elif r.isError():
            results.append({'ok': False, 'exception': getattr(r, 'exception_code', None), 'error': str(r), 'ms': ms})
        else:
            results.append({'ok': True, 'registers': getattr(r, 'registers', None), 'ms': ms})
    except Exception as e:
        ms = (time.perf_counter() - start) * 1000
        results.append({'ok': False, 'exception': None, 'error': type(e).__name__ + ': ' + str(e), 'ms': ms})
client.close()
print(json.dumps(results))
`;

type PeerOp =
  | { op: 'read' | 'read-input'; unit: number; address: number; count: number }
  | { op: 'write'; unit: number; address: number; values: number[] }
  | { op: 'write-one'; unit: number; address: number; value: number }
  | { op: 'raw'; hex: string };

interface PeerResult {
  ok: boolean;
  registers?: number[] | null;
  exception?: number | null;
  error?: string;
  ms: number;
}

type PeerTarget = { path: string } | { host: string; port: number };

async function pymodbus(target: PeerTarget, ops: readonly PeerOp[]): Promise<PeerResult[]> {
  const config = 'path' in target ? { ...target, baud: LINE.baud, parity: LINE.parity[0]!.toUpperCase() } : target;
  const result = await run(PYTHON, ['-c', PYMODBUS_PEER, JSON.stringify({ ...config, ops })]);
  if (result.code !== 0) throw new Error(`pymodbus peer failed (${result.code}):\n${result.stderr}`);
  return JSON.parse(result.stdout) as PeerResult[];
}

function startSerialSlave(path: string, units: ReadonlyMap<number, SlaveMemory>): Promise<RtuSlave> {
  return startRtuSlave({ units, line: LINE, turnaroundMs: TURNAROUND_MS, transport: { kind: 'serial', path } });
}

const read = (unit: number, address: number, count: number): PeerOp => ({ op: 'read', unit, address, count });

describe('faults, pure', () => {
  const memory = unitMemory(1);
  const readFour = Buffer.from([0x03, 0x00, 0x00, 0x00, 0x04]);

  it('damages the answer as each fault says', () => {
    const intact = answerFrame(1, readFour, memory)!;
    expect(decodeRtuFrame(intact)?.unit).toBe(1);
    const crc = answerFrame(1, readFour, memory, { kind: 'crc' })!;
    expect(crc.subarray(0, -2)).toEqual(intact.subarray(0, -2));
    expect(hasValidCrc(crc)).toBe(false);
    expect(answerFrame(1, readFour, memory, { kind: 'truncate' })).toEqual(intact.subarray(0, Math.floor(intact.length / 2)));
    expect(answerFrame(1, readFour, memory, { kind: 'truncate', bytes: 3 })).toEqual(intact.subarray(0, 3));
    expect(decodeRtuFrame(answerFrame(1, readFour, memory, { kind: 'wrong-unit' })!)?.unit).toBe(2);
    expect(decodeRtuFrame(answerFrame(247, readFour, memory, { kind: 'wrong-unit' })!)?.unit).toBe(1);
    const busy = encodeRtuFrame(1, Buffer.from([0x83, 6]));
    expect(answerFrame(1, readFour, memory, { kind: 'exception', exceptionCode: 6 })).toEqual(busy);
    expect(answerFrame(1, readFour, memory, { kind: 'silence' })).toBeUndefined();
  });

  it('does not execute a write it answers with an exception or ignores', () => {
    const target = unitMemory(1);
    const write = Buffer.from([0x06, 0x00, 0x05, 0x12, 0x34]);
    answerFrame(1, write, target, { kind: 'silence' });
    answerFrame(1, write, target, { kind: 'exception' });
    expect(target.read('holding', 5, 1)).toEqual([105]);
    answerFrame(1, write, target, { kind: 'crc' });
    expect(target.read('holding', 5, 1)).toEqual([0x1234]);
  });

  it('commits a counted fault that many times, then behaves', () => {
    const faults = new FaultInjector({ 1: [{ kind: 'silence', count: 2 }, { kind: 'crc', count: 1 }] });
    expect([1, 1, 1, 1, 2].map((unit) => faults.draw(unit)?.kind)).toEqual(['silence', 'silence', 'crc', undefined, undefined]);
  });

  it('repeats a probabilistic fault exactly for the same seed', () => {
    const draws = (seed: number) => {
      const faults = new FaultInjector(new Map([[3, { kind: 'crc', probability: 0.3, seed } satisfies FaultSpec]]));
      return Array.from({ length: 200 }, () => faults.draw(3) !== undefined);
    };
    expect(draws(7)).toEqual(draws(7));
    expect(draws(7)).not.toEqual(draws(8));
    const hits = draws(7).filter(Boolean).length;
    expect(hits).toBeGreaterThan(30);
    expect(hits).toBeLessThan(90);
  });

  it('reads faults from their command-line form and rejects bad ones with the field named', () => {
    expect(parseFault('2:silence')).toEqual({ unit: 2, fault: { kind: 'silence' } });
    expect(parseFault('1:exception=6:p=0.25:seed=9')).toEqual({
      unit: 1,
      fault: { kind: 'exception', exceptionCode: 6, probability: 0.25, seed: 9 },
    });
    expect(faultPlanOf([parseFault('3:crc:count=2'), parseFault('3:truncate=4')]).get(3)).toEqual([
      { kind: 'crc', count: 2 },
      { kind: 'truncate', bytes: 4 },
    ]);
    expect(() => parseFault('1:garble')).toThrow(/kind "garble"/);
    expect(() => parseFault('1:crc:p=1.5')).toThrow(/probability 1.5/);
    expect(() => parseFault('0:crc')).toThrow(/unit 0/);
    expect(() => new FaultInjector({ 4: { kind: 'wrong-unit', unit: 4 } })).toThrow(FaultError);
  });

  it('models the delay of an answer on the wire', () => {
    const answerBytes = readResponseBytes('registers', 40);
    expect(responseDelay('answer', LINE, 5)({ requestBytes: 8, answerBytes })).toBeCloseTo(5 + (85 * 11 * 1000) / 9600);
    expect(responseDelay('round-trip', LINE, 5)({ requestBytes: 8, answerBytes })).toBeCloseTo(
      frameMs(LINE, 8) + interFrameSilenceMs(LINE) + 5 + frameMs(LINE, 85),
    );
    expect(responseDelay('none', LINE, 5)({ requestBytes: 8, answerBytes })).toBe(5);
  });
});

describe('RTU slave on a socat pty pair, polled by mbpoll', () => {
  let pair: PtyPair;
  let slave: RtuSlave;
  const units = new Map([1, 2].map((unit) => [unit, unitMemory(unit)]));

  beforeAll(async () => {
    pair = await startPtyPair();
    slave = await startSerialSlave(pair.a, units);
  });
  afterAll(async () => {
    await slave?.close();
    await pair?.close();
  });

  it('answers holding registers of each unit it holds', async () => {
    const result = await mbpoll(pair.b, '1,2', ['-t', '4', '-r', '0', '-c', '4']);
    expect(result.stderr).toBe('');
    expect(polled(result.stdout)).toEqual(
      new Map([
        [1, holding(1, 0, 4)],
        [2, holding(2, 0, 4)],
      ]),
    );
  });

  it('answers input registers (FC 4) and coils (FC 1)', async () => {
    const inputs = await mbpoll(pair.b, '2', ['-t', '3', '-r', '3', '-c', '3']);
    expect(polled(inputs.stdout).get(2)).toEqual([2003, 2004, 2005]);
    const coils = await mbpoll(pair.b, '1', ['-t', '0', '-r', '0', '-c', '10']);
    expect(polled(coils.stdout).get(1)).toEqual([0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
  });

  it('executes writes of one register (FC 6) and of several (FC 16)', async () => {
    expect((await mbpoll(pair.b, '2', ['-t', '4', '-r', '60'], [4242])).code).toBe(0);
    expect((await mbpoll(pair.b, '2', ['-t', '4', '-r', '61'], [11, 22, 33])).code).toBe(0);
    expect(units.get(2)!.read('holding', 60, 4)).toEqual([4242, 11, 22, 33]);
  });

  it('answers an unimplemented address with exception 02', async () => {
    const result = await mbpoll(pair.b, '1', ['-t', '4', '-r', '98', '-c', '4']);
    expect(result.stderr).toMatch(/Illegal data address/);
  });

  it('stays silent for a unit it does not hold, as a slave on RS-485 does', async () => {
    const before = slave.stats().ignored;
    const result = await mbpoll(pair.b, '9', ['-t', '4', '-r', '0', '-c', '1']);
    expect(result.stderr).toMatch(/Connection timed out/);
    expect(slave.stats().ignored).toBe(before + 1);
  });

  const FAULTS: Array<[string, FaultSpec, RegExp]> = [
    ['a CRC error', { kind: 'crc', count: 1 }, /Invalid CRC/],
    ['a truncated answer as a timeout', { kind: 'truncate', count: 1 }, /Connection timed out/],
    ['an answer from the wrong unit', { kind: 'wrong-unit', count: 1 }, /Response not from requested slave/],
    ['the exception code', { kind: 'exception', exceptionCode: 6, count: 1 }, /Slave device or server is busy/],
    ['silence as a timeout', { kind: 'silence', count: 1 }, /Connection timed out/],
  ];

  it.each(FAULTS)('mbpoll sees %s, and the next request to another unit is answered', async (_name, fault, message) => {
    slave.setFaults({ 1: fault });
    const faulted = await mbpoll(pair.b, '1,2', ['-t', '4', '-r', '0', '-c', '4']);
    expect(faulted.stderr).toMatch(message);
    expect(polled(faulted.stdout)).toEqual(
      new Map([
        [1, []],
        [2, holding(2, 0, 4)],
      ]),
    );
    // The count is used up: unit 1 answers again, on the same line.
    expect(polled((await mbpoll(pair.b, '1', ['-t', '4', '-r', '0', '-c', '4'])).stdout).get(1)).toEqual(holding(1, 0, 4));
  });
});

describe('RTU slave on a socat pty pair, driven by pymodbus', () => {
  let pair: PtyPair;
  let slave: RtuSlave;
  const units = new Map([1, 2].map((unit) => [unit, unitMemory(unit)]));

  beforeAll(async () => {
    pair = await startPtyPair();
    slave = await startSerialSlave(pair.a, units);
  });
  afterAll(async () => {
    await slave?.close();
    await pair?.close();
  });

  // One pymodbus process per pty: pyserial cannot configure a pty with parity twice (see PYMODBUS_PEER).
  it('reads and writes registers, executes broadcasts unanswered, and resynchronises after noise', async () => {
    const results = await pymodbus({ path: pair.b }, [
      read(1, 10, 5),
      { op: 'read-input', unit: 2, address: 0, count: 2 },
      { op: 'write', unit: 1, address: 20, values: [501, 502, 503] },
      { op: 'write-one', unit: 2, address: 21, value: 777 },
      read(1, 20, 3),
      read(2, 21, 1),
      { op: 'write', unit: 0, address: 30, values: [0x5a5a] },
      read(1, 30, 1),
      read(2, 30, 1),
      { op: 'raw', hex: '010300' }, // the start of a request, cut off by noise
      read(2, 0, 2),
    ]);
    expect(results.map((result) => result.registers ?? result.ok)).toEqual([
      holding(1, 10, 5),
      [2000, 2001],
      true,
      true,
      [501, 502, 503],
      [777],
      true,
      [0x5a5a],
      [0x5a5a],
      true,
      holding(2, 0, 2),
    ]);
    expect(units.get(1)!.read('holding', 20, 3)).toEqual([501, 502, 503]);
    expect(slave.stats()).toMatchObject({ broadcasts: 1, answers: 9 });
    expect(slave.stats().droppedBytes).toBeGreaterThanOrEqual(3);
  });
});

describe('wire timing at 9600 baud 8E1', () => {
  let pair: PtyPair;
  let slave: RtuSlave;

  beforeAll(async () => {
    pair = await startPtyPair();
    slave = await startSerialSlave(pair.a, new Map([[1, unitMemory(1)]]));
  });
  afterAll(async () => {
    await slave?.close();
    await pair?.close();
  });

  it('answers a read of 40 registers no sooner than turnaround + the answer frame time', async () => {
    // 85 bytes × 11 bits at 9600 baud = 97.4 ms on the wire, + 5 ms turnaround.
    const modelledMs = TURNAROUND_MS + frameMs(LINE, readResponseBytes('registers', 40));
    const results = await pymodbus({ path: pair.b }, [read(1, 0, 40), read(1, 40, 40), read(1, 0, 40)]);
    for (const result of results) {
      expect(result.registers).toHaveLength(40);
      // A lower bound only: the slave holds the answer back from the moment the request arrived,
      // so the master, which started its clock before sending, cannot see it earlier.
      expect(result.ms).toBeGreaterThanOrEqual(modelledMs);
    }
  });
});

describe('RTU over TCP, driven by pymodbus', () => {
  let slave: RtuTcpSlave;
  const units = new Map([1, 2].map((unit) => [unit, unitMemory(unit)]));
  const target = () => ({ host: '127.0.0.1', port: slave.address().port });

  beforeAll(async () => {
    const transport = { kind: 'tcp', host: '127.0.0.1', port: 0 } as const;
    slave = await startRtuSlave({ units, line: LINE, turnaroundMs: TURNAROUND_MS, transport });
  });
  afterAll(async () => {
    await slave?.close();
  });

  it('refuses unit ids a line cannot address', async () => {
    const transport = { kind: 'tcp', port: 0 } as const;
    for (const unit of [0, 248]) {
      const units = new Map([[unit, unitMemory(1)]]);
      await expect(startRtuSlave({ units, line: LINE, turnaroundMs: 0, transport })).rejects.toThrow(`unit id ${unit}`);
    }
  });

  it('reads and writes raw RTU frames over a socket, at the wire time of the serial line', async () => {
    const write: PeerOp = { op: 'write', unit: 1, address: 70, values: [9, 8, 7] };
    const results = await pymodbus(target(), [read(2, 0, 40), write, read(1, 70, 3)]);
    expect(results.map((result) => result.registers ?? result.ok)).toEqual([holding(2, 0, 40), true, [9, 8, 7]]);
    expect(results[0]!.ms).toBeGreaterThanOrEqual(TURNAROUND_MS + frameMs(LINE, readResponseBytes('registers', 40)));
  });

  const FAULTS: Array<[string, FaultSpec, (result: PeerResult) => void]> = [
    ['crc', { kind: 'crc', count: 1 }, (r) => expect(r.error).toMatch(/Unable to decode response/)],
    ['truncate', { kind: 'truncate', count: 1 }, (r) => expect(r.error).toMatch(/No Response received|Unable to decode/)],
    ['wrong-unit', { kind: 'wrong-unit', count: 1 }, (r) => expect(r.error).toMatch(/Unable to decode response/)],
    ['exception', { kind: 'exception', exceptionCode: 2, count: 1 }, (r) => expect(r.exception).toBe(2)],
    ['silence', { kind: 'silence', count: 1 }, (r) => expect(r.error).toMatch(/No response received/)],
  ];

  it.each(FAULTS)('pymodbus sees the %s fault, and the next request to another unit is answered', async (_name, fault, seen) => {
    slave.setFaults({ 1: fault });
    const [faulted, next, again] = await pymodbus(target(), [read(1, 0, 4), read(2, 0, 4), read(1, 0, 4)]);
    expect(faulted!.ok).toBe(false);
    seen(faulted!);
    expect(next!.registers).toEqual(holding(2, 0, 4));
    expect(again!.registers).toEqual(holding(1, 0, 4));
  });
});

import type { ModbusTable } from '../profile/schema.js';
import { ILLEGAL_DATA_VALUE, ILLEGAL_FUNCTION, ModbusException, type SlaveMemory } from './memory.js';

/**
 * A slave's answer to one request PDU (function code and data, without address or checksum), as
 * the Modbus application protocol V1.1b3 §6 defines it for function codes 1-6, 15 and 16.
 */
export function answerPdu(request: Buffer, memory: SlaveMemory): Buffer {
  const fc = request[0] ?? 0;
  try {
    return Buffer.concat([Buffer.from([fc]), answerFunction(fc, request, memory)]);
  } catch (error) {
    if (error instanceof ModbusException) return Buffer.from([fc | 0x80, error.code]);
    if (error instanceof RangeError) return Buffer.from([fc | 0x80, ILLEGAL_DATA_VALUE]);
    throw error;
  }
}

const READ_TABLES: Record<number, ModbusTable> = { 1: 'coil', 2: 'discrete', 3: 'holding', 4: 'input' };

function answerFunction(fc: number, request: Buffer, memory: SlaveMemory): Buffer {
  const address = request.readUInt16BE(1);
  switch (fc) {
    case 1:
    case 2: {
      const count = request.readUInt16BE(3);
      if (count < 1 || count > 2000) throw new ModbusException(ILLEGAL_DATA_VALUE, `bit count ${count}`);
      const bits = memory.read(READ_TABLES[fc]!, address, count);
      const bytes = Buffer.alloc(Math.ceil(count / 8));
      bits.forEach((bit, i) => {
        if (bit) bytes[i >> 3]! |= 1 << (i & 7);
      });
      return Buffer.concat([Buffer.from([bytes.length]), bytes]);
    }
    case 3:
    case 4: {
      const count = request.readUInt16BE(3);
      if (count < 1 || count > 125) throw new ModbusException(ILLEGAL_DATA_VALUE, `register count ${count}`);
      const words = memory.read(READ_TABLES[fc]!, address, count);
      const bytes = Buffer.alloc(count * 2);
      words.forEach((word, i) => bytes.writeUInt16BE(word, i * 2));
      return Buffer.concat([Buffer.from([bytes.length]), bytes]);
    }
    case 5: {
      const value = request.readUInt16BE(3);
      if (value !== 0xff00 && value !== 0x0000) throw new ModbusException(ILLEGAL_DATA_VALUE, 'coil value');
      memory.write('coil', address, [value ? 1 : 0]);
      return request.subarray(1, 5);
    }
    case 6:
      memory.write('holding', address, [request.readUInt16BE(3)]);
      return request.subarray(1, 5);
    case 15: {
      const count = request.readUInt16BE(3);
      const bits = Array.from({ length: count }, (_, i) => ((request[6 + (i >> 3)] ?? 0) >> (i & 7)) & 1);
      memory.write('coil', address, bits);
      return request.subarray(1, 5);
    }
    case 16: {
      const count = request.readUInt16BE(3);
      const words = Array.from({ length: count }, (_, i) => request.readUInt16BE(6 + i * 2));
      memory.write('holding', address, words);
      return request.subarray(1, 5);
    }
    default:
      throw new ModbusException(ILLEGAL_FUNCTION, `function ${fc}`);
  }
}

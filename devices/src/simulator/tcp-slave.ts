import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { GATEWAY_TARGET_FAILED, type SlaveMemory } from './memory.js';
import { answerPdu } from './pdu.js';

const MBAP_LENGTH = 7;
/** Modbus TCP: the length field counts the unit id and a PDU of at most 253 bytes. */
const MAX_LENGTH_FIELD = 254;

export interface TcpSlaveOptions {
  host?: string;
  /** 0 picks a free port; `address()` tells which. */
  port?: number;
  /** Unit id → the slave answering it, as behind a Modbus TCP gateway. */
  units: ReadonlyMap<number, SlaveMemory>;
}

export interface TcpSlave {
  address(): AddressInfo;
  close(): Promise<void>;
}

/** Frames requests with the MBAP header of the Modbus Messaging on TCP/IP Implementation Guide §3.1.3. */
function serve(socket: Socket, units: ReadonlyMap<number, SlaveMemory>): void {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= MBAP_LENGTH) {
      const protocol = pending.readUInt16BE(2);
      const length = pending.readUInt16BE(4);
      if (protocol !== 0 || length < 2 || length > MAX_LENGTH_FIELD) {
        socket.destroy(); // not Modbus: a real device drops the connection
        return;
      }
      if (pending.length < 6 + length) break;
      const header = pending.subarray(0, MBAP_LENGTH);
      const unit = header[6]!;
      const pdu = pending.subarray(MBAP_LENGTH, 6 + length);
      pending = pending.subarray(6 + length);
      const memory = units.get(unit);
      const answer = memory ? answerPdu(pdu, memory) : Buffer.from([(pdu[0] ?? 0) | 0x80, GATEWAY_TARGET_FAILED]);
      const reply = Buffer.alloc(MBAP_LENGTH + answer.length);
      header.copy(reply, 0, 0, 4);
      reply.writeUInt16BE(answer.length + 1, 4);
      reply[6] = unit;
      answer.copy(reply, MBAP_LENGTH);
      socket.write(reply);
    }
  });
  socket.on('error', () => socket.destroy());
}

export async function startTcpSlave(options: TcpSlaveOptions): Promise<TcpSlave> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serve(socket, options.units);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 502, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    address: () => server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

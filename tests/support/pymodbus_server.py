"""A Modbus server built with pymodbus (Debian's python3-pymodbus): a peer nobody here wrote.

usage: pymodbus_server.py tcp PORT | serial PATH BAUD

Unit 1 holds: holding register i = 1000 + i, input register i = 2000 + i, coil i = (i % 3 == 0),
discrete input i = (i % 2 == 0), for i in 0..199. Prints "ready" once it serves.
"""
import asyncio
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer
from pymodbus.transaction import ModbusRtuFramer

SIZE = 200


def context():
    slave = ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(0, [1000 + i for i in range(SIZE)]),
        ir=ModbusSequentialDataBlock(0, [2000 + i for i in range(SIZE)]),
        co=ModbusSequentialDataBlock(0, [i % 3 == 0 for i in range(SIZE)]),
        di=ModbusSequentialDataBlock(0, [i % 2 == 0 for i in range(SIZE)]),
        zero_mode=True,
    )
    return ModbusServerContext(slaves={1: slave}, single=False)


async def main():
    kind = sys.argv[1]
    if kind == "tcp":
        server = await StartAsyncTcpServer(context(), address=("127.0.0.1", int(sys.argv[2])), defer_start=True)
    else:
        server = await StartAsyncSerialServer(
            context(),
            framer=ModbusRtuFramer,
            port=sys.argv[2],
            baudrate=int(sys.argv[3]),
            parity="N",
            bytesize=8,
            stopbits=1,
            defer_start=True,
        )
        await server.start()
    print("ready", flush=True)
    await server.serve_forever()


asyncio.run(main())

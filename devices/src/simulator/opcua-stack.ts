import { format, stripVTControlCharacters } from 'node:util';
import type * as NodeOpcua from 'node-opcua';
import type { Logger } from 'pino';

/** node-opcua's module: the server, the client and the types they share. */
export type OpcuaStack = typeof NodeOpcua;

let stack: Promise<OpcuaStack> | undefined;
let routedTo: Logger | undefined;

/**
 * node-opcua, loaded on first use: it takes seconds to load (a whole information model and a
 * crypto self-test), which a gateway or a test with no OPC UA device should not pay. Its own
 * diagnostics, which it prints to the console (coloured, several lines each), go to `log`
 * instead: warnings at debug (most are routine, e.g. a server without operation limits), errors at
 * warn. The routing is process-wide; the first logger given keeps it.
 */
export async function loadOpcuaStack(log?: Logger): Promise<OpcuaStack> {
  stack ??= import('node-opcua');
  const opcua = await stack;
  if (log && !routedTo) {
    routedTo = log;
    const child = log.child({ part: 'node-opcua' });
    const line = (args: unknown[]) => {
      const [context, ...rest] = args as [{ filename?: string } | undefined, ...unknown[]];
      return { source: context?.filename, text: stripVTControlCharacters(format(...rest)) };
    };
    opcua.setWarningLogger((...args: unknown[]) => {
      const { source, text } = line(args);
      child.debug({ source }, text);
    });
    opcua.setErrorLogger((...args: unknown[]) => {
      const { source, text } = line(args);
      child.warn({ source }, text);
    });
    opcua.setDebugLogger(() => undefined);
  }
  return opcua;
}

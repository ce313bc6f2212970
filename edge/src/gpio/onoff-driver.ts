import type { Gpio as GpioClass } from 'onoff';
import type { LineDriver, RawInput, RawOutput } from './lines.js';

export class GpioUnavailableError extends Error {
  override name = 'GpioUnavailableError';
}

/**
 * The kernel's GPIO lines through onoff (sysfs). onoff builds and loads only on Linux (its epoll
 * addon), so it is imported here, when a configuration asks for it, and not by the agent's
 * start-up: a gateway without GPIO, or a development machine, runs the agent without it.
 */
export async function openOnoffDriver(): Promise<LineDriver> {
  let Gpio: typeof GpioClass;
  try {
    ({ Gpio } = await import('onoff'));
  } catch (error) {
    throw new GpioUnavailableError(`gpio.driver onoff: onoff cannot be loaded here (${(error as Error).message}); it needs Linux`);
  }
  if (!Gpio.accessible) {
    throw new GpioUnavailableError('gpio.driver onoff: this machine has no GPIO lines the agent may use (/sys/class/gpio); use driver: simulated for tests');
  }
  return new OnoffDriver(Gpio);
}

class OnoffDriver implements LineDriver {
  readonly name = 'onoff';
  private readonly open = new Set<GpioClass>();

  constructor(private readonly Gpio: typeof GpioClass) {}

  input(line: number, onEdge: () => void): RawInput {
    // Edges from the kernel; the debounce is DebouncedLines', so onoff gets none of its own.
    const gpio = new this.Gpio(line, 'in', 'both');
    this.open.add(gpio);
    gpio.watch((error) => {
      if (!error) onEdge();
    });
    return {
      read: () => gpio.readSync(),
      close: () => this.release(gpio),
    };
  }

  output(line: number, initial: 0 | 1): RawOutput {
    // 'high' / 'low' set the level as the line becomes an output, without a glitch to the other.
    const gpio = new this.Gpio(line, initial === 1 ? 'high' : 'low');
    this.open.add(gpio);
    return {
      write: (level) => gpio.writeSync(level),
      close: () => this.release(gpio),
    };
  }

  private release(gpio: GpioClass): void {
    if (!this.open.delete(gpio)) return;
    gpio.unwatchAll();
    gpio.unexport();
  }

  async close(): Promise<void> {
    for (const gpio of [...this.open]) this.release(gpio);
  }
}

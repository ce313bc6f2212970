/**
 * The gateway's digital lines, behind one interface: `DigitalLines` (debounced, logical levels)
 * over a `LineDriver` (raw levels and edges). The onoff driver speaks to the kernel's GPIO lines;
 * the simulated driver, which tests and the demo use, is driven by calls. Debouncing lives here,
 * above both drivers, so that the logic the tests check is the logic a gateway runs.
 */

export type Level = 0 | 1;

/** One input line as a driver gives it: every edge, bounce and all. */
export interface RawInput {
  read(): Level;
  close(): void;
}

export interface RawOutput {
  write(level: Level): void;
  close(): void;
}

/** A source of raw lines: the kernel's (onoff) or a simulation. */
export interface LineDriver {
  readonly name: string;
  input(line: number, onEdge: () => void): RawInput;
  output(line: number, initial: Level): RawOutput;
  close(): Promise<void>;
}

export interface WatchOptions {
  /** A level must hold this long before it counts. */
  debounceMs: number;
  /** Low means active (a contact to ground with a pull-up). */
  activeLow?: boolean;
}

export interface OutputOptions {
  activeLow?: boolean;
}

/** Debounced inputs and outputs in logical terms: true is active (door open, button pressed, relay energised). */
export interface DigitalLines {
  /**
   * Watches an input: `onChange` gets the level once at once, and then each change that held
   * for `debounceMs`. Returns a function that stops the watch.
   */
  watch(line: number, options: WatchOptions, onChange: (active: boolean) => void): () => void;
  /** Sets an output line (opening it as an output on first use). */
  set(line: number, active: boolean, options?: OutputOptions): void;
  close(): Promise<void>;
}

const levelOf = (active: boolean, activeLow = false): Level => (active !== activeLow ? 1 : 0);

/**
 * DigitalLines over any driver. A debounced input reports a level only after it has held for
 * the debounce time since the last edge (the trailing-edge debounce onoff itself offers), and
 * only when it differs from the level last reported.
 */
export class DebouncedLines implements DigitalLines {
  private readonly outputs = new Map<number, { raw: RawOutput; activeLow: boolean }>();
  private readonly inputs = new Set<() => void>();

  constructor(readonly driver: LineDriver) {}

  watch(line: number, options: WatchOptions, onChange: (active: boolean) => void): () => void {
    const activeLow = options.activeLow ?? false;
    let timer: NodeJS.Timeout | undefined;
    const raw = this.driver.input(line, () => {
      clearTimeout(timer);
      timer = setTimeout(settle, options.debounceMs);
    });
    const logical = () => (raw.read() === 1) !== activeLow;
    let reported = logical();
    function settle() {
      timer = undefined;
      const now = logical();
      if (now === reported) return;
      reported = now;
      onChange(now);
    }
    const stop = () => {
      clearTimeout(timer);
      raw.close();
      this.inputs.delete(stop);
    };
    this.inputs.add(stop);
    onChange(reported);
    return stop;
  }

  set(line: number, active: boolean, options: OutputOptions = {}): void {
    let output = this.outputs.get(line);
    if (!output) {
      const activeLow = options.activeLow ?? false;
      output = { raw: this.driver.output(line, levelOf(active, activeLow)), activeLow };
      this.outputs.set(line, output);
      return;
    }
    output.raw.write(levelOf(active, output.activeLow));
  }

  async close(): Promise<void> {
    for (const stop of [...this.inputs]) stop();
    for (const output of this.outputs.values()) output.raw.close();
    this.outputs.clear();
    await this.driver.close();
  }
}

/**
 * Lines that exist only in memory: a test (or the demo) drives an input's raw level with
 * `drive`, bounce included, and reads back what the agent set an output to with `level`.
 */
export class SimulatedLineDriver implements LineDriver {
  readonly name = 'simulated';
  private readonly levels = new Map<number, Level>();
  private readonly listeners = new Map<number, Set<() => void>>();
  /** Every write to an output, in order, for tests that check a pulse. */
  readonly writes: Array<{ line: number; level: Level; at: number }> = [];

  input(line: number, onEdge: () => void): RawInput {
    const listeners = this.listeners.get(line) ?? new Set();
    this.listeners.set(line, listeners);
    listeners.add(onEdge);
    return { read: () => this.levels.get(line) ?? 0, close: () => listeners.delete(onEdge) };
  }

  output(line: number, initial: Level): RawOutput {
    const write = (level: Level) => {
      this.levels.set(line, level);
      this.writes.push({ line, level, at: Date.now() });
    };
    write(initial);
    return { write, close: () => undefined };
  }

  /** Sets an input's raw level, as a contact or button would; an edge only when it changes. */
  drive(line: number, level: Level): void {
    if ((this.levels.get(line) ?? 0) === level) return;
    this.levels.set(line, level);
    this.listeners.get(line)?.forEach((onEdge) => onEdge());
  }

  /** The raw level of a line (an output as last set, an input as last driven). */
  level(line: number): Level {
    return this.levels.get(line) ?? 0;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

import { SerialPort } from 'serialport';
import { dlt645, type SerialLine } from '@gatehouse/protocols';

/**
 * The gateway's end of a DL/T 645-2007 line: one serial port, one transaction at a time. A
 * transaction sends the wake-up bytes and a request, then takes the first frame that answers it
 * (from the meter asked, about the data asked for) and ignores everything else on the line:
 * noise, damaged frames, a late answer to an earlier request. A transaction that gets no such
 * answer before the timeout fails with what it saw instead, so that a damaged answer is told
 * apart from silence.
 */
export type Dlt645FailureKind = 'timeout' | 'frame' | 'connection';

export interface Dlt645Failure {
  kind: Dlt645FailureKind;
  message: string;
}

/** A meter's answer (normal or abnormal), or why there is none; never an exception. */
export type Dlt645Result = { ok: true; answer: dlt645.MeterAnswer } | { ok: false; failure: Dlt645Failure };

/** What the poller needs from a line; the serial one below, or a stand-in in tests. */
export interface Dlt645Transport {
  read(address: string, di: number): Promise<Dlt645Result>;
  close(): Promise<void>;
}

export interface Dlt645MasterOptions {
  path: string;
  line: SerialLine;
  /** How long to wait for an answer, from the moment the request has been handed to the port. */
  timeoutMs: number;
  /** 0xFE bytes before each request. */
  wakeUp: number;
}

interface Pending {
  accepts: (answer: dlt645.MeterAnswer) => boolean;
  settle: (result: Dlt645Result) => void;
  /** The last damaged frame seen while waiting, for the failure message. */
  damaged: dlt645.FrameError | undefined;
}

export class Dlt645Master implements Dlt645Transport {
  private port: SerialPort | undefined;
  private opening: Promise<SerialPort> | undefined;
  private readonly scanner = new dlt645.FrameScanner();
  private pending: Pending | undefined;
  private busy = false;

  constructor(private readonly options: Dlt645MasterOptions) {}

  /** Reads `di` from the meter at `address`. */
  read(address: string, di: number): Promise<Dlt645Result> {
    return this.transact(dlt645.readDataRequest(address, di, this.options.wakeUp), (answer) =>
      dlt645.answersRead(answer, address, di),
    );
  }

  /** Asks the one meter of a point-to-point line for its address (AAAAAAAAAAAA, function 0x13). */
  readAddress(): Promise<Dlt645Result> {
    return this.transact(dlt645.readAddressRequest(this.options.wakeUp), (answer) => answer.kind === 'address');
  }

  async close(): Promise<void> {
    const port = this.port ?? (await this.opening?.catch(() => undefined));
    this.port = undefined;
    this.opening = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  private async transact(request: Buffer, accepts: (answer: dlt645.MeterAnswer) => boolean): Promise<Dlt645Result> {
    // A line carries one transaction at a time; a second caller is a bug in the scheduler.
    if (this.busy) throw new Error('DL/T 645 master: a transaction is already in progress');
    this.busy = true;
    try {
      let port: SerialPort;
      try {
        port = await this.open();
      } catch (error) {
        return { ok: false, failure: { kind: 'connection', message: (error as Error).message } };
      }
      this.scanner.reset(); // what came before this request answers an earlier one
      const answered = new Promise<Dlt645Result>((settle) => (this.pending = { accepts, settle, damaged: undefined }));
      const written = await new Promise<Error | null | undefined>((resolve) => port.write(request, (error) => resolve(error)));
      if (written) this.finish({ ok: false, failure: { kind: 'connection', message: written.message } });
      const timer = setTimeout(() => this.expire(), this.options.timeoutMs);
      const result = await answered;
      clearTimeout(timer);
      return result;
    } finally {
      this.busy = false;
    }
  }

  private open(): Promise<SerialPort> {
    if (this.port?.isOpen) return Promise.resolve(this.port);
    this.opening ??= new Promise<SerialPort>((resolve, reject) => {
      const { path, line } = this.options;
      const port = new SerialPort({
        path,
        baudRate: line.baud,
        dataBits: line.dataBits,
        parity: line.parity,
        stopBits: line.stopBits,
        autoOpen: false,
      });
      port.open((error) => {
        this.opening = undefined;
        if (error) return reject(error);
        port.on('data', (chunk: Buffer) => this.received(this.scanner.push(chunk)));
        port.on('error', () => undefined); // the next write reports it as a connection failure
        port.once('close', () => {
          if (this.port === port) this.port = undefined;
          this.finish({ ok: false, failure: { kind: 'connection', message: `${path} closed` } });
        });
        this.port = port;
        resolve(port);
      });
    });
    return this.opening;
  }

  private received(events: dlt645.ScanEvent[]): void {
    const pending = this.pending;
    if (!pending) return; // nobody is asking: stray bytes, or an answer after its timeout
    for (const event of events) {
      if (event.kind === 'rejected') {
        pending.damaged = event.error;
        continue;
      }
      const answer = dlt645.interpretAnswer(event.frame);
      if (pending.accepts(answer)) return this.finish({ ok: true, answer });
    }
  }

  /** The timeout: a frame still arriving never will; then fail with what was seen. */
  private expire(): void {
    this.received(this.scanner.idle());
    const damaged = this.pending?.damaged;
    this.finish({
      ok: false,
      failure: damaged
        ? { kind: 'frame', message: `damaged answer: ${damaged.message}` }
        : { kind: 'timeout', message: 'no answer before the timeout' },
    });
  }

  private finish(result: Dlt645Result): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.settle(result);
  }
}

import { dlt645 } from '@gatehouse/protocols';
import { encodeDlt645Point, type Dlt645Point } from './dlt645-profile.js';

const { DLT645_ERROR_BITS, DLT645_FUNCTIONS } = dlt645;

/**
 * One simulated DL/T 645-2007 meter: what it answers to a frame addressed to it. It reads data by
 * DI and tells its address; everything else it refuses with an abnormal answer, as a meter
 * without the password does.
 */
export class Dlt645Meter {
  private readonly byDi: ReadonlyMap<number, Dlt645Point>;

  constructor(
    readonly address: string,
    points: readonly Dlt645Point[],
    /** The catalogue values the meter holds at the moment it is asked. */
    private readonly values: () => Readonly<Record<string, number>>,
  ) {
    if (!/^\d{12}$/.test(address)) throw new RangeError(`meter address "${address}": a meter has twelve digits`);
    this.byDi = new Map(points.map((point) => [point.di, point]));
  }

  /** The answer to `request`, or undefined for none (a broadcast, or a frame from another meter). */
  answer(request: dlt645.Dlt645Frame): dlt645.Dlt645Frame | undefined {
    const control = dlt645.parseControl(request.control);
    if (control.fromMeter || request.address === dlt645.BROADCAST_ADDRESS) return undefined;
    switch (control.fn) {
      case DLT645_FUNCTIONS.readAddress:
        return dlt645.addressAnswer(this.address);
      case DLT645_FUNCTIONS.readData:
        return this.read(request);
      default:
        return dlt645.abnormalAnswer(this.address, control.fn, DLT645_ERROR_BITS.passwordError);
    }
  }

  private read(request: dlt645.Dlt645Frame): dlt645.Dlt645Frame {
    const refuse = (errorByte: number) => dlt645.abnormalAnswer(this.address, DLT645_FUNCTIONS.readData, errorByte);
    if (request.data.length < 4) return refuse(DLT645_ERROR_BITS.otherError);
    const di = dlt645.decodeDataIdentifier(request.data);
    const point = this.byDi.get(di);
    const value = point ? this.values()[point.point] : undefined;
    if (!point || value === undefined) return refuse(DLT645_ERROR_BITS.noDataRequested);
    try {
      return dlt645.dataAnswer(this.address, di, encodeDlt645Point(point, value));
    } catch {
      return refuse(DLT645_ERROR_BITS.otherError); // a value its display could not show either
    }
  }
}

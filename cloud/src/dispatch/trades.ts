import type { Trade } from '../oncall/index.js';

/**
 * The trade that repairs each kind of device: elevator alarms go to the elevator team (often the
 * maintenance contractor), meters to the electricians or the plumbers, doors to access control,
 * gates and plate cameras to parking. Which team of that trade serves a site, and who in it is
 * on call, is data (teams and schedules); this is only what each kind of device is.
 */
const TRADE_OF_KIND: Readonly<Record<string, Trade>> = {
  elevator: 'elevator',
  electric_meter: 'electrical',
  water_meter: 'plumbing',
  access_controller: 'access',
  barrier_gate: 'parking',
  lpr_camera: 'parking',
};

/** A device of no known kind, a gateway or a bus: the site's general team. */
export const tradeOfKind = (kind: string | null): Trade => (kind === null ? 'general' : (TRADE_OF_KIND[kind] ?? 'general'));

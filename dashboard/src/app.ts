import { startAlarmBoard, type AlarmBoard } from './alarm-board.js';
import { canWrite, fetchCatalogue, fetchDevices, fetchLatest, fetchMe, logIn, type Catalogue, type Device, type LiveMessage, type Me, type Reading } from './api.js';
import { formatAge, formatValue, pointLabel } from './format.js';
import { startWorkOrderDetail, type WorkOrderDetail } from './work-order-detail.js';

/**
 * The live board: the active alarms and open work orders (one of which may be open in a dialog),
 * then every device grouped by site and gateway with its communication status and latest values,
 * all kept current over the hub's WebSocket.
 */
const alarmBoardRoot = document.querySelector<HTMLElement>('#alarm-board')!;
const sitesRoot = document.querySelector<HTMLElement>('#sites')!;
const summary = document.querySelector<HTMLElement>('#summary')!;
const connection = document.querySelector<HTMLElement>('#connection')!;
const cardTemplate = document.querySelector<HTMLTemplateElement>('#device-card')!;

let catalogue: Catalogue = {};
const devices = new Map<string, Device>();
const cards = new Map<string, HTMLElement>();

function pointInfo(device: Device | undefined, point: string) {
  return device?.kind ? catalogue[device.kind]?.[point] : undefined;
}

function gatewaySection(device: Device): HTMLElement {
  const key = `${device.site}.${device.gateway}`;
  let section = sitesRoot.querySelector<HTMLElement>(`section[data-gateway="${CSS.escape(key)}"]`);
  if (!section) {
    section = document.createElement('section');
    section.className = 'gateway';
    section.dataset.gateway = key;
    const heading = document.createElement('h2');
    heading.append(`${device.site} · ${device.gateway} `);
    const state = document.createElement('span');
    state.className = 'state';
    heading.append(state);
    const grid = document.createElement('div');
    grid.className = 'devices';
    section.append(heading, grid);
    sitesRoot.append(section);
  }
  section.querySelector('.state')!.textContent = `(gateway ${device.gateway_state})`;
  return section.querySelector<HTMLElement>('.devices')!;
}

function renderDevice(device: Device): void {
  devices.set(device.id, device);
  let card = cards.get(device.id);
  if (!card) {
    card = (cardTemplate.content.firstElementChild as HTMLElement).cloneNode(true) as HTMLElement;
    card.dataset.device = device.id;
    card.querySelector('.name')!.textContent = device.device;
    cards.set(device.id, card);
    gatewaySection(device).append(card);
  } else {
    gatewaySection(device);
  }
  card.querySelector('.kind')!.textContent = device.kind?.replaceAll('_', ' ') ?? 'unidentified';
  const comm = card.querySelector<HTMLElement>('.comm')!;
  comm.dataset.status = device.comm.status;
  comm.textContent = device.comm.status;
  card.querySelector('.reason')!.textContent = device.comm.status === 'offline' ? (device.comm.reason ?? '') : '';
  card.dataset.lastSeen = String(device.last_seen ?? '');
  renderSummary();
}

function renderReading(reading: Reading, flash: boolean): void {
  const card = cards.get(reading.device);
  if (!card) return;
  const device = devices.get(reading.device);
  const info = pointInfo(device, reading.point);
  const body = card.querySelector('tbody')!;
  let row = body.querySelector<HTMLTableRowElement>(`tr[data-point="${CSS.escape(reading.point)}"]`);
  if (!row) {
    row = document.createElement('tr');
    row.dataset.point = reading.point;
    const label = document.createElement('th');
    label.textContent = pointLabel(reading.point, info);
    if (info) label.title = info.description;
    row.append(label, document.createElement('td'));
    body.append(row);
  }
  const cell = row.querySelector('td')!;
  if (Number(cell.dataset.ts ?? 0) > reading.ts) return; // an older reading arriving late
  cell.textContent = formatValue(reading, info);
  cell.dataset.quality = reading.quality;
  cell.dataset.ts = String(reading.ts);
  cell.dataset.value = JSON.stringify(reading.value);
  if (flash) {
    cell.classList.remove('updated');
    void cell.offsetWidth; // restart the animation
    cell.classList.add('updated');
  }
  if (device) {
    device.last_seen = Math.max(device.last_seen ?? 0, reading.ts);
    card.dataset.lastSeen = String(device.last_seen);
  }
}

function renderSummary(): void {
  const all = [...devices.values()];
  const offline = all.filter((device) => device.comm.status === 'offline').length;
  summary.textContent = `${all.length} devices · ${all.length - offline} reporting · ${offline} offline`;
}

function renderAges(): void {
  const now = Date.now();
  for (const [id, card] of cards) card.querySelector('.seen')!.textContent = `last reading ${formatAge(devices.get(id)?.last_seen ?? null, now)}`;
}

async function loadAll(): Promise<void> {
  catalogue = await fetchCatalogue();
  const list = await fetchDevices();
  list.forEach(renderDevice);
  const latest = await Promise.all(list.map((device) => fetchLatest(device.id)));
  latest.flat().forEach((reading) => renderReading(reading, false));
  renderAges();
}

let failedAttempts = 0;
let everConnected = false;

/** What the live feed keeps current besides the devices. */
interface Boards {
  alarms: AlarmBoard;
  workOrder: WorkOrderDetail;
}

function connectLive(boards: Boards): void {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const socket = new WebSocket(`${scheme}://${location.host}/api/v1/live`);
  connection.dataset.state = 'connecting';
  connection.textContent = 'connecting';
  socket.addEventListener('open', () => {
    connection.dataset.state = 'open';
    connection.textContent = 'live';
    failedAttempts = 0;
    // Whatever happened while disconnected is fetched again rather than assumed.
    if (everConnected) {
      void loadAll();
      void boards.alarms.load();
      boards.workOrder.reload();
    }
    everConnected = true;
  });
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as LiveMessage;
    if (message.type === 'device') renderDevice(message.device);
    if (message.type === 'alarm') boards.alarms.alarm(message.alarm);
    if (message.type === 'work_order') {
      boards.alarms.workOrder(message.work_order);
      boards.workOrder.workOrder(message.work_order);
    }
    if (message.type === 'readings') {
      for (const reading of message.readings) {
        if (!cards.has(reading.device)) {
          void loadAll();
          return;
        }
        renderReading(reading, true);
      }
    }
  });
  socket.addEventListener('close', () => {
    connection.dataset.state = 'closed';
    connection.textContent = 'reconnecting';
    setTimeout(() => connectLive(boards), Math.min(10_000, 500 * 2 ** failedAttempts++));
  });
}

function startBoard(me: Me): void {
  document.querySelector<HTMLElement>('#who')!.textContent = me.name;
  const writes = canWrite(me);
  const workOrder = startWorkOrderDetail(document.querySelector<HTMLDialogElement>('#work-order')!, {
    canWrite: writes,
    // The hub announces an acknowledgement on the live feed, but not the other moves.
    moved: (order) => alarms.workOrder(order),
  });
  const alarms = startAlarmBoard(document.querySelector<HTMLElement>('#alarms')!, document.querySelector<HTMLElement>('#work-orders')!, {
    canWrite: writes,
    openOrder: (order) => workOrder.open(order.id),
  });
  alarmBoardRoot.hidden = false;
  void alarms.load();
  loadAll().catch((error: unknown) => {
    summary.textContent = `Cannot load devices: ${(error as Error).message}`;
  });
  connectLive({ alarms, workOrder });
  setInterval(renderAges, 1000);
}

/** The login form, shown while nobody is logged in; the hub keeps the session in a cookie. */
function showLogin(): void {
  const form = document.querySelector<HTMLFormElement>('#login')!;
  const problem = form.querySelector<HTMLElement>('.problem')!;
  form.hidden = false;
  summary.textContent = 'Log in to see the devices of your sites.';
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const field = (name: string) => {
      const value = data.get(name);
      return typeof value === 'string' ? value : '';
    };
    void logIn(field('username'), field('password')).then(async (result) => {
      if (!result.ok) {
        problem.textContent = result.message;
        return;
      }
      const me = await fetchMe();
      if (!me) {
        problem.textContent = 'The hub accepted the login but the browser kept no session: are cookies blocked?';
        return;
      }
      form.hidden = true;
      startBoard(me);
    });
  });
}

fetchMe().then(
  (me) => (me ? startBoard(me) : showLogin()),
  (error: unknown) => {
    summary.textContent = `Cannot reach the hub: ${(error as Error).message}`;
  },
);

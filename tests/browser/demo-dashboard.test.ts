import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { LEGAL_TRANSITIONS, type WorkOrderStatus } from '@gatehouse/cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../support/browser.js';
import { startDemo, type RunningDemo } from '../support/demo.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readIfThere(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** One demo and one browser tab for the whole file: the tests run in order, as a visitor would. */
describe('npm run demo', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-demo-'));
  let demo: RunningDemo;
  let browser: Browser | undefined;
  let page: Page;

  beforeAll(async () => {
    demo = await startDemo(dataDir);
    browser = await launchBrowser();
    page = await browser.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.proc.stop('SIGINT');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('asks for a login, then serves the dashboard with live values within 60 s', async () => {
    const url = demo.dashboardUrl;
    await page.goto(url);
    // Nobody is logged in: the dashboard asks, and the API refuses to answer without a session.
    const login = page.locator('form#login');
    await login.waitFor({ state: 'visible', timeout: 30_000 });
    expect((await fetch(`${url}api/v1/devices`)).status).toBe(401);
    await login.locator('input[name="password"]').fill('not the password');
    await login.locator('input[name="username"]').fill(demo.username);
    await login.locator('button[type="submit"]').click();
    await expect.poll(() => login.locator('.problem').textContent()).toMatch(/wrong user name or password/);
    await login.locator('input[name="password"]').fill(demo.password);
    await login.locator('button[type="submit"]').click();
    await login.waitFor({ state: 'hidden' });
    const energy = page.locator('[data-device="tower-a.gw-01.meter-main"] tr[data-point="energy_import_kwh"] td');
    await energy.filter({ hasText: 'kWh' }).waitFor({ timeout: 60_000 });
    // Every device of the demo's gateway (edge/examples/demo.yaml: 11 on Modbus) and the two flats'
    // DL/T 645 meters on a socat line, each reporting.
    await expect.poll(() => page.locator('article.device').count(), { timeout: 30_000 }).toBe(13);
    await expect.poll(() => page.locator('.comm[data-status="online"]').count(), { timeout: 45_000 }).toBe(13);

    // Live: a newer reading replaces the one shown, without reloading the page.
    const voltage = page.locator('[data-device="tower-a.gw-01.meter-main"] tr[data-point="voltage_l1_v"] td');
    const firstTs = Number(await voltage.getAttribute('data-ts'));
    await expect.poll(async () => Number(await voltage.getAttribute('data-ts')), { timeout: 30_000 }).toBeGreaterThan(firstTs);
    expect(await voltage.textContent()).toMatch(/^2\d\d(\.\d+)? V$/);
    await page.screenshot({ path: join(dataDir, 'dashboard.png'), fullPage: true });
  });

  it('shows a trapped passenger as an alarm and a work order live, pages the lifts technician, and takes the acknowledgement', async () => {
    const lift = 'tower-a.gw-01.lift-a';
    const technician = demo.onCall.lifts;
    expect(technician).toMatch(/^[A-Z]/);
    const alarm = page.locator('#alarms tbody tr').filter({ has: page.locator('td.rule', { hasText: /^trapped$/ }) });
    const order = page.locator('#work-orders tbody tr').filter({ hasText: `CRITICAL trapped: ${lift}` });
    expect(await alarm.count()).toBe(0);
    // Whatever appears from here on comes over the live feed: a reload would lose this mark.
    await page.evaluate(() => ((globalThis as Record<string, unknown>).beforeTheTrap = true));

    // As the intro tells a visitor to: the lift simulator's control endpoint traps its passengers.
    expect((await fetch(`${demo.liftControl}/units/1/trap`, { method: 'POST' })).status).toBe(200);

    await alarm.waitFor({ timeout: 20_000 });
    expect(await alarm.locator('td.severity').textContent()).toBe('critical');
    expect(await alarm.locator('td.source').textContent()).toBe(lift);
    await order.waitFor({ timeout: 20_000 });
    expect(await order.locator('td.priority').textContent()).toBe('P1');
    expect(await order.locator('td.status').textContent()).toBe('assigned');
    expect(await order.locator('td.assignee').textContent()).toBe(technician);
    expect(await order.locator('td.due').textContent()).toMatch(/\(in 3 h \d+ min\)$/);

    // The technician on call is paged: the demo's pager prints the page and logs it.
    const paged = `📟 page → ${technician} (lifts): CRITICAL trapped: ${lift} — ack: `;
    const ackLink = await demo.proc.waitForLine((line) => (line.startsWith(paged) ? line.slice(paged.length) : undefined), 20_000);
    expect(ackLink.startsWith(demo.dashboardUrl)).toBe(true);
    expect(ackLink).toMatch(/\/api\/v1\/acks\/[A-Z2-9]{10}$/);
    await expect.poll(() => readIfThere(demo.pagesLog)).toContain(`${paged}${ackLink}`);

    // The technician follows the page's link on a phone: the order, and a button.
    const phone = await browser!.newPage();
    await phone.goto(ackLink);
    expect(await phone.locator('h1').textContent()).toBe(`Page for ${technician}`);
    expect(await phone.locator('dd').allTextContents()).toEqual(expect.arrayContaining([`CRITICAL trapped: ${lift}`]));
    await phone.getByRole('button', { name: 'Acknowledge' }).click();
    await phone.locator('h1.done').waitFor();
    expect(await phone.locator('dd').first().textContent()).toMatch(/ · P1 · acknowledged$/);
    await phone.close();
    // The dashboard shows it at once, and the hub acknowledged the order's alarm with it.
    await expect.poll(() => order.locator('td.status').textContent()).toBe('acknowledged');
    expect(await order.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);
    await expect.poll(() => alarm.locator('td.flags').textContent()).toBe(`acknowledged by ${technician}`);
    expect(await alarm.getByRole('button').count()).toBe(0);

    // A trapped car also reports a fault code: that order is acknowledged from the dashboard.
    const fault = page.locator('#work-orders tbody tr').filter({ hasText: `MAJOR lift-fault: ${lift}` });
    await fault.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => fault.locator('td.status').textContent()).toBe('acknowledged');
    expect(await page.locator('#alarms .problem, #work-orders .problem').allTextContents()).toEqual(['', '']);
    expect(await page.evaluate(() => (globalThis as Record<string, unknown>).beforeTheTrap)).toBe(true);
  });

  it("opens the trapped lift's work order with its timeline and pages, and moves it on to resolved", async () => {
    const lift = 'tower-a.gw-01.lift-a';
    const technician = demo.onCall.lifts;
    const title = `CRITICAL trapped: ${lift}`;
    const order = page.locator('#work-orders tbody tr').filter({ hasText: title });
    const dialog = page.locator('dialog#work-order');
    const field = (name: string) => dialog.locator(`dd[data-field="${name}"]`);
    /** The timeline as `kind: words · actor`, one string an entry. */
    const timeline = async () =>
      Promise.all(
        (await dialog.locator('ol.timeline li').all()).map(
          async (item) => `${await item.getAttribute('data-kind')}: ${await item.locator('.what').textContent()} · ${await item.locator('.actor').textContent()}`,
        ),
      );
    /** The statuses the offered buttons move to: the hub's legal moves from `status`, no other. */
    const offered = async () => Promise.all((await dialog.locator('.moves button').all()).map((button) => button.getAttribute('data-to')));
    const expectOffered = async (status: WorkOrderStatus) => expect([...new Set(await offered())].sort()).toEqual([...LEGAL_TRANSITIONS[status]].sort());

    await order.getByRole('button', { name: 'Details' }).click();
    await dialog.waitFor();
    await expect.poll(() => field('status').textContent()).toBe('acknowledged');
    const id = Number(await order.getAttribute('data-id'));
    expect(await dialog.locator('h2').textContent()).toBe(`#${id} ${title}`);
    expect(await field('priority').textContent()).toBe('P1');
    expect(await field('device').textContent()).toBe(lift);
    expect(await field('assignee').textContent()).toBe(technician);
    expect(await field('due').textContent()).toMatch(/\(in 3 h \d+ min\)$/);
    // What happened so far, from the hub's book and its alarm desk, in words: by the hub, then by the technician.
    expect(await timeline()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^created: Opened for alarm #\d+ · $/),
        `assigned: Assigned to ${technician} by the on-call schedule · `,
        `page_delivered: Page to ${technician} by webhook delivered · `,
        `status: Moved from assigned to acknowledged (via webhook page) · ${technician}`,
      ]),
    );
    const delivered = dialog.locator('table.pages tbody tr[data-status="delivered"]');
    expect(await delivered.count()).toBeGreaterThanOrEqual(1);
    expect(await delivered.first().locator('td.channel').textContent()).toBe('webhook');
    expect(await delivered.first().locator('td.attempts').textContent()).toBe('1');

    // Moved on by its buttons, each time offered only the legal moves; a note goes with a move.
    await expectOffered('acknowledged');
    const move = async (label: string, to: WorkOrderStatus) => {
      await dialog.getByRole('button', { name: label, exact: true }).click();
      await expect.poll(() => dialog.getAttribute('data-status')).toBe(to);
      await expectOffered(to);
    };
    await move('Start work', 'in_progress');
    expect(await offered()).not.toContain('closed');
    // The board follows: the hub announces the move on the live feed.
    expect(await order.locator('td.status').textContent()).toBe('in progress');
    const note = dialog.getByRole('textbox');
    await note.fill('waiting for a door-operator board');
    await move('Put on hold', 'on_hold');
    expect(await note.inputValue()).toBe('');
    await move('Resume work', 'in_progress');
    expect(await timeline()).toEqual(
      expect.arrayContaining([
        `status: Moved from acknowledged to in progress · ${demo.username}`,
        `status: Moved from in progress to on hold: waiting for a door-operator board · ${demo.username}`,
        `status: Moved from on hold to in progress · ${demo.username}`,
      ]),
    );

    // A comment joins the timeline as text, markup and all.
    const comment = 'Reset the <b>door</b> controller & cleaned the sill';
    await note.fill(comment);
    await dialog.getByRole('button', { name: 'Add comment' }).click();
    await expect.poll(async () => (await timeline()).at(-1)).toBe(`comment: ${comment} · ${demo.username}`);
    expect(await dialog.locator('ol.timeline li[data-kind="comment"] b').count()).toBe(0);

    // Resolved, it leaves the open orders; the dialog stays on it, offering to close or reopen it.
    await move('Resolve', 'resolved');
    await expect.poll(() => order.count()).toBe(0);

    // Reopened, it is back on the board. Acknowledged elsewhere, which the hub announces on the
    // live feed, the open dialog fetches it again: its status and timeline follow, untouched.
    const transition = (to: WorkOrderStatus) => page.request.post(`${demo.dashboardUrl}api/v1/work-orders/${id}/transition`, { data: { to } });
    await move('Reopen', 'assigned');
    await order.waitFor();
    expect((await transition('acknowledged')).status()).toBe(200);
    await expect.poll(() => field('status').textContent()).toBe('acknowledged');
    expect((await timeline()).at(-1)).toBe(`status: Moved from assigned to acknowledged (via api) · ${demo.username}`);
    await move('Resolve', 'resolved');

    // Closed elsewhere: the dialog follows, and a closed order offers no move at all.
    expect((await transition('closed')).status()).toBe(200);
    await expect.poll(() => field('status').textContent()).toBe('closed');
    expect(await offered()).toEqual([]);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'hidden' });
  });

  it('shows a viewer the work orders and their detail, with nothing that would change them', async () => {
    const viewer = { username: 'viewer-demo', password: 'a viewer of the demo site', role: 'viewer', sites: ['*'] };
    expect((await page.request.post(`${demo.dashboardUrl}api/v1/users`, { data: viewer })).status()).toBe(201);
    const context = await browser!.newContext();
    try {
      const tab = await context.newPage();
      await tab.goto(demo.dashboardUrl);
      const login = tab.locator('form#login');
      await login.locator('input[name="username"]').fill(viewer.username);
      await login.locator('input[name="password"]').fill(viewer.password);
      await login.locator('button[type="submit"]').click();
      // The trapped car's fault code still has its order open (acknowledged in the test above).
      const fault = tab.locator('#work-orders tbody tr').filter({ hasText: 'MAJOR lift-fault: tower-a.gw-01.lift-a' });
      await fault.waitFor();
      expect(await tab.locator('#alarm-board').getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);
      await fault.locator('td.title').click();
      const dialog = tab.locator('dialog#work-order');
      await dialog.locator('dd[data-field="status"]', { hasText: 'acknowledged' }).waitFor();
      expect(await dialog.locator('ol.timeline li[data-kind="created"]').count()).toBe(1);
      expect(await dialog.locator('.read-only').isVisible()).toBe(true);
      expect(await dialog.locator('.moves').isHidden()).toBe(true);
      expect(await dialog.locator('form.comment').isHidden()).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('stops cleanly on SIGINT', async () => {
    const demoPid = demo.proc.child.pid!;
    const children = (await new Promise<string>((resolve) => {
      const pgrep = spawn('pgrep', ['-P', String(demoPid)]);
      let out = '';
      pgrep.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      pgrep.once('exit', () => resolve(out));
    }))
      .split('\n')
      .filter(Boolean)
      .map(Number);
    // The hub, the agent, a simulator per bus and socat for the DL/T 645 line.
    expect(children.length).toBeGreaterThanOrEqual(10);

    demo.proc.child.kill('SIGINT');
    expect(await demo.proc.exited).toBe(0);
    expect(demo.proc.stdout.join('\n')).toContain('Gatehouse demo stopped.');
    expect(children.filter(isAlive)).toEqual([]);
  });
});

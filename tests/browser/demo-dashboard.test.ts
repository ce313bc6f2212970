import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
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
    expect(await order.getByRole('button').count()).toBe(0);
    await expect.poll(() => alarm.locator('td.flags').textContent()).toBe(`acknowledged by ${technician}`);
    expect(await alarm.getByRole('button').count()).toBe(0);

    // A trapped car also reports a fault code: that order is acknowledged from the dashboard.
    const fault = page.locator('#work-orders tbody tr').filter({ hasText: `MAJOR lift-fault: ${lift}` });
    await fault.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => fault.locator('td.status').textContent()).toBe('acknowledged');
    expect(await page.locator('#alarms .problem, #work-orders .problem').allTextContents()).toEqual(['', '']);
    expect(await page.evaluate(() => (globalThis as Record<string, unknown>).beforeTheTrap)).toBe(true);
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

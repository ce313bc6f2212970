import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../support/browser.js';
import { DEMO_SCRIPT, REPO_ROOT } from '../support/paths.js';
import { freePort, Proc } from '../support/processes.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm run demo', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-demo-'));
  let demo: Proc | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    await demo?.stop('SIGINT');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the dashboard with live values within 60 s, and stops cleanly on SIGINT', async () => {
    const env = {
      ...process.env,
      GATEHOUSE_HTTP_PORT: String(await freePort()),
      GATEHOUSE_MQTT_PORT: String(await freePort()),
      GATEHOUSE_SIM_PORT: String(await freePort()),
      GATEHOUSE_EDGE_METRICS_PORT: String(await freePort()),
      GATEHOUSE_DATA_DIR: dataDir,
    };
    demo = new Proc('demo', spawn(process.execPath, [DEMO_SCRIPT], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    const url = await demo.waitForLine((line) => /^\s+dashboard\s+(\S+)/.exec(line)?.[1], 60_000);
    const [username, password] = await demo.waitForLine((line) => {
      const match = /^\s+log in as\s+(\S+) \/ (\S+)/.exec(line);
      return match ? [match[1]!, match[2]!] : undefined;
    });

    browser = await launchBrowser();
    const page = await browser.newPage();
    await page.goto(url);
    // Nobody is logged in: the dashboard asks, and the API refuses to answer without a session.
    const login = page.locator('form#login');
    await login.waitFor({ state: 'visible', timeout: 30_000 });
    expect((await fetch(`${url}api/v1/devices`)).status).toBe(401);
    await login.locator('input[name="password"]').fill('not the password');
    await login.locator('input[name="username"]').fill(username);
    await login.locator('button[type="submit"]').click();
    await expect.poll(() => login.locator('.problem').textContent()).toMatch(/wrong user name or password/);
    await login.locator('input[name="password"]').fill(password);
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

    const children = (await new Promise<string>((resolve) => {
      const pgrep = spawn('pgrep', ['-P', String(demo!.child.pid)]);
      let out = '';
      pgrep.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      pgrep.once('exit', () => resolve(out));
    }))
      .split('\n')
      .filter(Boolean)
      .map(Number);
    // The hub, the agent, a simulator per bus and socat for the DL/T 645 line.
    expect(children.length).toBeGreaterThanOrEqual(10);

    demo.child.kill('SIGINT');
    expect(await demo.exited).toBe(0);
    expect(demo.stdout.join('\n')).toContain('Gatehouse demo stopped.');
    expect(children.filter(isAlive)).toEqual([]);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { eventually, type Proc } from '../support/processes.js';
import { control, HubSide, startAgent, startDeviceSim, valuesOf, writeAgentConfig } from './site-support.js';

const UNIT = 11;
const DEVICE = 'door-lobby';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every event of the device once, no sequence number missing, ours in the order swiped, none lost. */
async function expectExactlyOnce(hub: HubSide, device: string, swiped: number[], controlUrl: string, unit: number, agents: Proc[]): Promise<void> {
  const events = hub.events.filter((event) => event.device === device);
  const ids = events.map((event) => String(event.data.id));
  const duplicates = ids.filter((id, index) => ids.indexOf(id) !== index);
  expect(duplicates).toEqual([]);
  // No gap: the controller numbers its events 1, 2, 3 … (its own random visitors among ours).
  const sequences = events.map((event) => Number(event.data.sequence)).sort((a, b) => a - b);
  expect(sequences).toEqual(Array.from({ length: sequences.length }, (_, i) => i + 1));
  expect(sequences.length).toBeGreaterThanOrEqual(swiped.length);
  const ours = events.filter((event) => swiped.includes(Number(event.data.card))).sort((a, b) => Number(a.data.sequence) - Number(b.data.sequence));
  expect(ours.map((event) => Number(event.data.card))).toEqual(swiped);
  expect(ours.map((event) => event.type)).toEqual(swiped.map((c) => (c % 5 === 0 ? 'access.denied' : 'access.granted')));
  expect((await valuesOf(controlUrl, unit)).events_lost).toBe(0);
  expect(hub.invalid).toEqual([]);
  for (const agent of agents) {
    expect(agent.logs().filter((line) => line.msg === 'access events were overwritten before the gateway took them')).toEqual([]);
  }
}


/** A card at the reader, one number after another; every fifth is refused. */
function cards(controlUrl: string, unit: number, first: number) {
  let card = first;
  const swiped: number[] = [];
  const swipe = async () => {
    const next = ++card;
    swiped.push(next);
    await control(controlUrl, unit, 'swipe', { card: next, granted: next % 5 !== 0 });
  };
  return { swiped, swipe };
}

/**
 * Card events from a door controller's event buffer, read by the agent across restarts and
 * kill -9 at arbitrary moments (between its outbox commit and its read-index write among them),
 * reach a persistent subscriber exactly once each: every sequence number from the first to the
 * last, none twice.
 */
describe('access events from a door controller', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-access-'));
  let broker: Mosquitto;
  let door: Awaited<ReturnType<typeof startDeviceSim>>;

  beforeAll(async () => {
    broker = await startMosquitto();
    door = await startDeviceSim('reference-door-controller', [UNIT]);
  });

  afterAll(async () => {
    await door?.proc.stop();
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('arrive exactly once across restarts and kill -9 of the agent', async () => {
    const hub = await HubSide.connect(broker.url, 'tower-a', 'gw-access');
    const config = writeAgentConfig(dir, 'gw-access', broker.url, [
      'buses:',
      `  - { id: security, transport: tcp, host: 127.0.0.1, port: ${door.port}, timeout_ms: 500 }`,
      'devices:',
      `  - { id: ${DEVICE}, bus: security, unit: ${UNIT}, profile: reference-door-controller, poll_interval_ms: 1000 }`,
    ]);
    const { swiped, swipe } = cards(door.control, UNIT, 4_200_000);
    const cardsSeen = () => new Set(hub.events.filter((event) => event.device === DEVICE).map((event) => event.data.card));
    const allArrived = () => eventually(async () => (swiped.every((c) => cardsSeen().has(c)) ? true : undefined), 'every swiped card', 30_000);

    let agent: Proc = startAgent(config);
    const logs: Proc[] = [agent];
    try {
      await agent.waitForLog('agent started');
      for (let i = 0; i < 5; i++) await swipe();
      await allArrived();

      // Killed outright; people keep swiping while the agent is down.
      agent.child.kill('SIGKILL');
      await agent.exited;
      for (let i = 0; i < 5; i++) await swipe();
      agent = startAgent(config);
      logs.push(agent);
      await agent.waitForLog('agent started');
      await allArrived();

      // Killed at arbitrary moments of its cycle while cards are being swiped.
      for (const killAfterMs of [150, 700, 1100, 1900, 2600]) {
        const burst = (async () => {
          for (let i = 0; i < 4; i++) {
            await swipe();
            await sleep(180);
          }
        })();
        await sleep(killAfterMs);
        agent.child.kill('SIGKILL');
        await agent.exited;
        await burst;
        agent = startAgent(config);
        logs.push(agent);
        await agent.waitForLog('agent started');
      }

      // And stopped politely once.
      await swipe();
      await agent.stop('SIGTERM');
      await swipe();
      agent = startAgent(config);
      logs.push(agent);
      await agent.waitForLog('agent started');
      await swipe();
      await allArrived();

      await expectExactlyOnce(hub, DEVICE, swiped, door.control, UNIT, logs);
    } finally {
      await agent.stop();
      await hub.close();
    }
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { GatehouseEvent } from '@gatehouse/protocols';
import { LprConfig, parseGenericPlateRead, parseHikvisionAlert, startLprListener, type LprListener } from '../src/index.js';
import { silent } from './site-support.js';

const RECEIVED = Date.UTC(2026, 4, 1, 0, 30, 5);

/**
 * A Hikvision ANPR alert shaped as Hikvision's "XML_EventNotificationAlert_ANPR" documents it
 * (Device Network SDK (Traffic) Developer Guide V6.1.4.X): written here from that description,
 * not captured from a camera.
 */
const hikvisionXml = (anpr: string, envelope: Partial<Record<'eventType' | 'eventState' | 'dateTime', string>> = {}) => `<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">
  <ipAddress>192.168.1.64</ipAddress>
  <portNo>80</portNo>
  <protocol>HTTP</protocol>
  <macAddress>44:19:b6:00:00:01</macAddress>
  <channelID>1</channelID>
  <dateTime>${envelope.dateTime ?? '2026-05-01T08:30:00+08:00'}</dateTime>
  <activePostCount>1</activePostCount>
  <eventType>${envelope.eventType ?? 'ANPR'}</eventType>
  <eventState>${envelope.eventState ?? 'active'}</eventState>
  <eventDescription>ANPR</eventDescription>
  <channelName>Gate north in</channelName>
  ${anpr}
</EventNotificationAlert>`;

const ANPR = `<ANPR>
    <country>CHN</country>
    <licensePlate>粤B12345</licensePlate>
    <line>2</line>
    <direction>forward</direction>
    <confidenceLevel>97</confidenceLevel>
    <plateType>92TypeCivil</plateType>
    <plateColor>blue</plateColor>
    <licenseBright>0</licenseBright>
  </ANPR>`;

describe('the generic plate-read format', () => {
  it('becomes a plate read with its fields, defaults filled', () => {
    expect(parseGenericPlateRead({ camera: 'cam-north', plate: ' 粤b12345 ', confidence: 0.93 }, RECEIVED)).toEqual({
      ok: true,
      read: { camera: 'cam-north', plate: '粤B12345', colour: 'unknown', confidence: 0.93, lane: null, direction: 'unknown', ts: RECEIVED, format: 'generic' },
    });
    const full = parseGenericPlateRead(
      { camera: 'cam-north', plate: 'A12345', colour: 'yellow', confidence: 1, lane: 2, direction: 'out', ts: '2026-05-01T08:30:00+08:00' },
      RECEIVED,
    );
    expect(full).toMatchObject({ ok: true, read: { colour: 'yellow', lane: 2, direction: 'out', ts: Date.UTC(2026, 4, 1, 0, 30, 0) } });
  });

  it('is refused with the fields at fault named', () => {
    const paths = (body: unknown) => {
      const result = parseGenericPlateRead(body, RECEIVED);
      return result.ok ? [] : result.issues.map((issue) => issue.path);
    };
    expect(paths({ camera: 'cam/1', plate: '', confidence: 2 })).toEqual(['camera', 'plate', 'confidence']);
    expect(paths({ camera: 'cam-1', plate: 'A1', confidence: 0.5, colour: 'purple', speed: 30 })).toEqual(['colour', '(root)']);
    expect(paths({ camera: 'cam-1', plate: 'A1', confidence: 0.5, ts: 1_700_000_000 })).toEqual(['ts']);
    expect(paths({ camera: 'cam-1', plate: 'A1;DROP', confidence: 0.5 })).toEqual(['plate']);
  });
});

describe("Hikvision's ANPR event notification", () => {
  it('becomes a plate read: plate, colour, confidence 0-1, lane and direction', () => {
    expect(parseHikvisionAlert(hikvisionXml(ANPR), 'xml', 'cam-north', { forward: 'in' })).toEqual({
      ok: true,
      read: { camera: 'cam-north', plate: '粤B12345', colour: 'blue', confidence: 0.97, lane: 2, direction: 'in', ts: Date.UTC(2026, 4, 1, 0, 30, 0), format: 'hikvision' },
    });
    const exit = parseHikvisionAlert(hikvisionXml(ANPR.replace('blue', 'yellowGreen')), 'xml', 'cam-exit', { forward: 'out' });
    expect(exit).toMatchObject({ ok: true, read: { direction: 'out', colour: 'yellow_green' } });
  });

  it('is read from the JSON some firmware sends, the same alert', () => {
    const json = JSON.stringify({
      EventNotificationAlert: { dateTime: '2026-05-01T08:30:00+08:00', eventType: 'ANPR', eventState: 'active', ANPR: { licensePlate: 'B67890', line: 1, direction: 'reverse', confidenceLevel: 80, plateColor: 'green' } },
    });
    expect(parseHikvisionAlert(json, 'json', 'cam-1', { forward: 'in' })).toMatchObject({
      ok: true,
      read: { plate: 'B67890', direction: 'out', colour: 'green', confidence: 0.8, lane: 1 },
    });
  });

  it('acknowledges heartbeats and other events without making a plate read of them', () => {
    expect(parseHikvisionAlert(hikvisionXml('', { eventType: 'videoloss', eventState: 'inactive' }), 'xml', 'cam-1', { forward: 'in' })).toEqual({
      ok: true,
      ignored: 'eventType videoloss',
    });
  });

  it('is refused, naming the field, when the plate, the time or the XML is wrong', () => {
    const issues = (text: string) => {
      const result = parseHikvisionAlert(text, 'xml', 'cam-1', { forward: 'in' });
      return result.ok ? [] : result.issues;
    };
    expect(issues(hikvisionXml(ANPR.replace('<licensePlate>粤B12345</licensePlate>', '')))[0]?.path).toBe('ANPR.licensePlate');
    expect(issues(hikvisionXml(ANPR.replace('97', '140')))[0]?.path).toBe('ANPR.confidenceLevel');
    expect(issues(hikvisionXml(ANPR, { dateTime: 'yesterday' }))[0]?.path).toBe('dateTime');
    expect(issues(hikvisionXml('')).map((issue) => issue.path)).toEqual(['ANPR']);
    expect(issues('<EventNotificationAlert><eventType>ANPR</eventType>')[0]?.message).toMatch(/^not well-formed XML/);
    expect(issues('<Other/>')[0]?.path).toBe('EventNotificationAlert');
  });
});

describe('the plate-read listener', () => {
  let listener: LprListener | undefined;
  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });

  async function listen(cameras?: string[], submit?: (event: GatehouseEvent) => Promise<void>) {
    const events: GatehouseEvent[] = [];
    listener = await startLprListener({
      config: LprConfig.parse({ port: 0, max_body_kb: 64, ...(cameras ? { cameras } : {}) }),
      submit: submit ?? (async (event) => void events.push(event)),
      log: silent,
      now: () => RECEIVED,
    });
    return { events, url: listener.url };
  }

  const post = async (url: string, body: string | Uint8Array | FormData, contentType?: string) => {
    const response = await fetch(url, { method: 'POST', body, ...(contentType ? { headers: { 'content-type': contentType } } : {}) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('queues a generic read as a plate.read event and answers once it is queued', async () => {
    const { events, url } = await listen();
    const answer = await post(`${url}/lpr/plates`, JSON.stringify({ camera: 'cam-north', plate: 'A12345', colour: 'blue', confidence: 0.9, lane: 1, direction: 'in' }), 'application/json');
    expect(answer).toEqual({ status: 200, body: { accepted: true, camera: 'cam-north', plate: 'A12345', ts: RECEIVED } });
    expect(events).toEqual([
      { device: 'cam-north', type: 'plate.read', ts: RECEIVED, data: { plate: 'A12345', colour: 'blue', confidence: 0.9, lane: 1, direction: 'in', format: 'generic' } },
    ]);
  });

  it('takes a Hikvision alert as XML, and as multipart/form-data with the pictures beside it', async () => {
    const { events, url } = await listen();
    expect((await post(`${url}/lpr/hikvision/cam-north`, hikvisionXml(ANPR), 'application/xml')).status).toBe(200);
    const form = new FormData();
    form.append('anpr.xml', new Blob([hikvisionXml(ANPR.replace('粤B12345', '粤B99999'))], { type: 'application/xml' }), 'anpr.xml');
    form.append('licensePlatePicture.jpg', new Blob([new Uint8Array([0xff, 0xd8, 0xff])], { type: 'image/jpeg' }), 'licensePlatePicture.jpg');
    expect((await post(`${url}/lpr/hikvision/cam-exit?forward=out`, form)).status).toBe(200);
    expect(events.map((event) => [event.device, event.data.plate, event.data.direction])).toEqual([
      ['cam-north', '粤B12345', 'in'],
      ['cam-exit', '粤B99999', 'out'],
    ]);
  });

  it('answers bad input with 400 naming the field, counts it, and queues nothing', async () => {
    const { events, url } = await listen(['cam-north']);
    const bad = await post(`${url}/lpr/plates`, JSON.stringify({ camera: 'cam-north', plate: 'A1' }));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_plate_read', issues: [{ path: 'confidence' }] });
    const notJson = await post(`${url}/lpr/plates`, '{plate');
    expect(notJson.body.error).toMatchObject({ issues: [{ path: '(body)' }] });
    const unknown = await post(`${url}/lpr/hikvision/cam-south`, hikvisionXml(ANPR), 'application/xml');
    expect(unknown).toMatchObject({ status: 400, body: { error: { code: 'unknown_camera', issues: [{ path: 'camera' }] } } });
    const noPlate = await post(`${url}/lpr/hikvision/cam-north`, hikvisionXml(ANPR.replace('粤B12345', '')), 'text/xml');
    expect(noPlate.body.error).toMatchObject({ issues: [{ path: 'ANPR.licensePlate' }] });
    const big = await post(`${url}/lpr/plates`, 'x'.repeat(70 * 1024));
    expect(big.status).toBe(413);
    expect((await fetch(`${url}/elsewhere`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${url}/lpr/plates`)).status).toBe(405);
    expect(events).toEqual([]);
    expect(listener!.counters).toEqual({ accepted: 0, rejected: 5, ignored: 0, failed: 0 });
  });

  it('tells the camera to send again when the read could not be stored', async () => {
    const { url } = await listen(undefined, () => Promise.reject(new Error('disk full')));
    const answer = await post(`${url}/lpr/plates`, JSON.stringify({ camera: 'cam-1', plate: 'A1', confidence: 0.5 }));
    expect(answer).toMatchObject({ status: 503, body: { error: { code: 'not_queued' } } });
    expect(listener!.counters.failed).toBe(1);
  });
});

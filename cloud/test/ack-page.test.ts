import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderFor, raiseMeterAlarm } from './dispatch-fixtures.js';
import { securedApp } from './support.js';

/**
 * The page a technician reaches from a page's link, as a phone's browser asks for it (HTML) and
 * as a program does (JSON). The code is the credential; the GET changes nothing.
 */
describe("a page's acknowledgement link", () => {
  let h: Awaited<ReturnType<typeof securedApp>>;
  let serial = 0;

  beforeAll(async () => {
    h = await securedApp();
  });
  afterAll(() => h.close());

  /** An order for a meter's alarm whose message carries markup, and the code of its page to Li Wei. */
  async function pagedOrder() {
    const alarm = await raiseMeterAlarm(h.stores.alarms, `meter-${++serial}`, h.clock.now);
    const { order } = await h.stores.orders.openForAlarm(
      orderFor(alarm, { description: 'L1 <b>over</b> 250 V & rising', assignee: { id: 'li-wei', name: 'Li Wei' } }),
    );
    // Ten letters, as a page's code is: its own per order.
    const code = `ACKCODE${'ABCDEFGHJK'[serial]!.repeat(3)}`;
    await h.stores.db.query(
      `insert into pages (id, work_order_id, step, round, responder, channel, status, ack_code, created_at) values ($1, $2, 1, 1, 'li-wei', 'email', 'delivered', $3, now())`,
      [`page-${serial}`, order.id, code],
    );
    return { order, code };
  }
  const fromPhone = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

  it('shows the order with a button, escaping what the alarm said, and changes nothing', async () => {
    const { order, code } = await pagedOrder();
    const response = await h.app.inject({ method: 'GET', url: `/api/v1/acks/${code}`, headers: fromPhone });

    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).toContain(`<form method="post" action="/api/v1/acks/${code}">`);
    expect(response.body).toContain('L1 &lt;b&gt;over&lt;/b&gt; 250 V &amp; rising');
    expect(response.body).not.toContain('<b>over</b>');
    expect((await h.stores.orders.get(order.id))?.status).toBe('assigned');
  });

  it('acknowledges by the form, as a browser posts it, and answers a page saying so', async () => {
    const { order, code } = await pagedOrder();
    const response = await h.app.inject({
      method: 'POST',
      url: `/api/v1/acks/${code}`,
      headers: { ...fromPhone, 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });

    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('<h1 class="done">Acknowledged</h1>');
    expect(response.body).toContain(`#${order.id} · P2 · acknowledged`);
    expect((await h.stores.orders.get(order.id))?.status).toBe('acknowledged');
  });

  it('answers a program in JSON', async () => {
    const { order, code } = await pagedOrder();
    const response = await h.app.inject({ method: 'POST', url: `/api/v1/acks/${code}` });

    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ work_order: { id: order.id, status: 'acknowledged' } });
  });

  it('answers an unknown code 404, as a page to a browser and as a named error to a program', async () => {
    const page = await h.app.inject({ method: 'GET', url: '/api/v1/acks/ZZZZZZZZZZ', headers: fromPhone });
    expect(page.statusCode).toBe(404);
    expect(page.body).toContain('No page has this code');

    const posted = await h.app.inject({ method: 'POST', url: '/api/v1/acks/ZZZZZZZZZZ' });
    expect(posted.statusCode).toBe(404);
    expect(posted.json()).toMatchObject({ error: { code: 'page_not_found' } });
  });
});

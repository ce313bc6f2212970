import type { Migration } from '../store/migrations.js';

/** Alarms and their history, work orders with their timelines, and the pages sent for them. */
export const ALARMS_MIGRATION: Migration = {
  version: 7,
  name: 'alarms, work orders and pages',
  sql: `
    -- One row per (site, source, rule): a repeat of an alarm updates it, a new episode reopens it.
    -- source is a hub device id, or a gateway or bus ({site}.{gateway}[.bus:{bus}]).
    create table alarms (
      id bigserial primary key,
      site text not null,
      gateway text,
      source text not null,
      rule text not null,
      severity text not null,
      state text not null,
      -- What the rule said last: a flapping alarm is held active while its input chatters.
      input_state text not null,
      acknowledged boolean not null default false,
      acknowledged_by text,
      acknowledged_at timestamptz,
      message text not null,
      value jsonb,
      -- When the current episode was raised (the edge's time), when it cleared.
      raised_at timestamptz not null,
      cleared_at timestamptz,
      -- The time of the newest transition applied: older or equal ones are replays.
      last_transition_at timestamptz not null,
      episode integer not null default 1,
      flapping boolean not null default false,
      shelved_until timestamptz,
      shelved_by text,
      -- Grouped under a gateway's or a bus's alarm, which pages for all of them.
      parent_id bigint references alarms (id),
      unique (site, source, rule)
    );
    create index alarms_active on alarms (site, state);
    create table alarm_history (
      id bigserial primary key,
      alarm_id bigint not null references alarms (id),
      at timestamptz not null,
      kind text not null,
      actor text,
      detail jsonb not null default '{}'
    );
    create index alarm_history_of on alarm_history (alarm_id, at);

    create table work_orders (
      id bigserial primary key,
      alarm_id bigint references alarms (id),
      -- The alarm key while the order is open: one open order per key, whichever replica asks.
      alarm_key text,
      site text not null,
      device text,
      serves text,
      trade text not null,
      team text,
      title text not null,
      description text not null,
      priority text not null,
      status text not null,
      assignee text,
      assignee_name text,
      -- The SLA runs from when the alarm was raised, not from when the order was made.
      sla_started_at timestamptz not null,
      sla_ms bigint not null,
      sla_paused_ms bigint not null default 0,
      on_hold_since timestamptz,
      escalation_policy text,
      episode integer not null default 1,
      reopened_from bigint references work_orders (id),
      created_at timestamptz not null,
      updated_at timestamptz not null,
      resolved_at timestamptz,
      closed_at timestamptz
    );
    create unique index work_orders_one_open_per_alarm on work_orders (alarm_key)
      where status not in ('resolved', 'closed', 'cancelled');
    create index work_orders_by_site on work_orders (site, status);
    create table work_order_timeline (
      id bigserial primary key,
      work_order_id bigint not null references work_orders (id),
      at timestamptz not null,
      kind text not null,
      actor text,
      detail jsonb not null default '{}'
    );
    create index work_order_timeline_of on work_order_timeline (work_order_id, at);

    -- Each page of each escalation step to one person over one channel, once.
    create table pages (
      id text primary key,
      work_order_id bigint not null references work_orders (id),
      step integer not null,
      round integer not null,
      responder text not null,
      channel text not null,
      status text not null,
      attempts integer not null default 0,
      last_error text,
      ack_code text not null unique,
      created_at timestamptz not null,
      delivered_at timestamptz
    );
    create index pages_of on pages (work_order_id);

    -- Which alarms open a work order: the most specific row (site and rule, then either, then
    -- neither) decides.
    create table work_order_policies (
      site text not null default '*',
      rule text not null default '*',
      min_severity text not null,
      resolve_on_clear boolean not null default false,
      primary key (site, rule)
    );
    insert into work_order_policies (site, rule, min_severity, resolve_on_clear) values ('*', '*', 'major', false);
  `,
};

/**
 * When the hub last applied a transition of an alarm, on the hub's own clock: a flapping alarm
 * is released once its input has been quiet for a whole window by that clock, whatever the
 * clock of the gateway that reported it says. And the kind of rule that raised it, so that the
 * comm-loss alarms of the devices behind a gateway or a bus can be grouped under one.
 */
export const ALARM_TOPOLOGY_MIGRATION: Migration = {
  version: 8,
  name: "alarms: the hub's clock of an input, and the rule's kind",
  sql: `
    alter table alarms add column input_changed_at timestamptz;
    update alarms set input_changed_at = last_transition_at;
    alter table alarms add column rule_type text;
    create index alarms_grouping on alarms (site, gateway, rule_type) where state = 'active';
  `,
};

import type { Migration } from '../store/migrations.js';

/**
 * Teams, responders, on-call schedules, overrides and escalation policies. Enumerations (trade,
 * role, rotation, layer, reason) are checked by the API's schemas (model.ts), not here, so that
 * adding a value needs no migration; the tables keep what makes a row meaningless when broken.
 */
export const ONCALL_MIGRATION: Migration = {
  version: 5,
  name: 'teams, on-call schedules and escalation policies',
  sql: `
    -- A team of one trade serving some sites ('*': every site), in-house or a contractor's.
    -- channels: the team's own notification channels (a WeCom group…), as the pager reads them.
    create table teams (
      id text primary key,
      name text not null,
      trade text not null,
      sites text[] not null,
      contractor text,
      channels jsonb not null default '[]'
    );
    create index teams_by_trade on teams (trade);
    -- A person who can be paged, in one team. Their id is hub-wide, so that an escalation step
    -- can name them; somebody in two teams is two responders, linked by user_id.
    create table responders (
      id text primary key,
      team text not null references teams (id) on delete cascade,
      name text not null,
      user_id bigint references users (id),
      email text,
      phone text,
      role text not null
    );
    create index responders_by_team on responders (team);
    -- A rotation of a team's responders. responders and secondary_responders are ordered lists
    -- of responder ids, kept to the team's own responders by the store (arrays cannot hold
    -- foreign keys).
    create table schedules (
      id text primary key,
      team text not null references teams (id) on delete cascade,
      name text not null,
      time_zone text not null,
      rotation text not null,
      handoff_time text not null,
      handoff_weekday smallint,
      start_date date not null,
      responders text[] not null,
      secondary_responders text[],
      check ((rotation = 'weekly') = (handoff_weekday is not null))
    );
    create index schedules_by_team on schedules (team);
    create table schedule_overrides (
      id bigserial primary key,
      schedule text not null references schedules (id) on delete cascade,
      layer text not null,
      responder text not null references responders (id) on delete cascade,
      starts_at timestamptz not null,
      ends_at timestamptz not null,
      reason text not null,
      check (ends_at > starts_at)
    );
    create index schedule_overrides_by_schedule on schedule_overrides (schedule, ends_at);
    -- One policy per team: who is paged, how, and how soon, while an alarm is unacknowledged.
    create table escalation_policies (
      id text primary key,
      team text not null unique references teams (id) on delete cascade,
      steps jsonb not null,
      repeat integer not null,
      repeat_after_minutes integer not null
    );
  `,
};

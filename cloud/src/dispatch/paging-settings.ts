import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { createChannel, type PageChannel } from '../paging/index.js';

/**
 * The hub's paging channels, by the names escalation steps use (email, sms, webhook, wecom,
 * dingtalk), from the JSON file GATEHOUSE_PAGING_FILE names: `{"email": {"type": "email",
 * "host": …}, "webhook": {…}}`. A team's own channel of a type (its WeCom group's robot, in
 * the team's `channels`) is used instead of the hub's for that team.
 */
export class PagingChannels {
  private readonly hubWide: Map<string, PageChannel>;

  constructor(configs: Record<string, unknown>) {
    this.hubWide = new Map(Object.entries(configs).map(([name, config]) => [name, createChannel(config)]));
  }

  static fromFile(file: string | undefined): PagingChannels {
    if (file === undefined) return new PagingChannels({});
    const parsed = z.record(z.string(), z.unknown()).safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new Error(`${file}: a JSON object of channel name → channel settings`);
    return new PagingChannels(parsed.data);
  }

  /** The channel to page `name` through for a team, or undefined when none is set up. */
  channelFor(name: string, teamChannels: ReadonlyArray<Record<string, unknown>>): PageChannel | undefined {
    const own = teamChannels.find((channel) => channel.type === name);
    return own ? createChannel(own) : this.hubWide.get(name);
  }
}

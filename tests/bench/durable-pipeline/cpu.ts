import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

/** Clock ticks per second of /proc/PID/stat's times: 100 on Linux for x86 and arm. */
const TICKS_PER_S = 100;

/** The process listening on a loopback TCP port, from `ss` (iproute2). */
export async function listenerPid(port: number): Promise<number> {
  const { stdout } = await promisify(execFile)('ss', ['-ltnpH', `sport = :${port}`]);
  const pid = /pid=(\d+)/.exec(stdout)?.[1];
  if (!pid) throw new Error(`no process found listening on port ${port}:\n${stdout}`);
  return Number(pid);
}

/** CPU seconds (user + system) each process has used so far; this process's own from Node. */
export function cpuSeconds(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => {
      if (pid === process.pid) {
        const usage = process.cpuUsage();
        return [name, (usage.user + usage.system) / 1e6];
      }
      // Fields after the command name, which is in parentheses and may hold spaces.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return [name, (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S];
    }),
  );
}

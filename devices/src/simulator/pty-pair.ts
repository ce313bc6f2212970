import { spawn } from 'node:child_process';

/** Debian's socat: a serial line needs no hardware to be simulated. */
export const SOCAT = '/usr/bin/socat';

export interface PtyPair {
  /** One end of the null-modem cable: what is written on `a` is read on `b`, and back. */
  a: string;
  b: string;
  /** Kills socat (the pair disappears with it) and waits for it to exit. */
  close(): Promise<void>;
}

/**
 * A pair of connected pseudo-terminals, the stand-in for a serial line: socat prints
 * `N PTY is /dev/pts/N` on stderr for each end at `-d -d`, before its transfer loop starts.
 */
export async function startPtyPair(timeoutMs = 10_000): Promise<PtyPair> {
  const socat = spawn(SOCAT, ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => socat.once('exit', () => resolve()));
  const close = async () => {
    if (socat.exitCode === null && socat.signalCode === null) socat.kill('SIGTERM');
    await exited;
  };
  try {
    const [a, b] = await new Promise<[string, string]>((resolve, reject) => {
      const paths: string[] = [];
      let stderr = '';
      const timer = setTimeout(() => reject(new Error(`socat printed no pty pair in ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
      socat.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socat.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`socat exited (${code ?? signal}) before printing a pty pair:\n${stderr}`));
      });
      socat.stderr.setEncoding('utf8');
      socat.stderr.on('data', (chunk: string) => {
        stderr += chunk;
        paths.splice(0, paths.length, ...[...stderr.matchAll(/PTY is (\S+)/g)].map((match) => match[1]!));
        if (paths.length >= 2) {
          clearTimeout(timer);
          resolve([paths[0]!, paths[1]!]);
        }
      });
    });
    // Keep draining stderr so that socat never blocks on a full pipe.
    socat.stderr.resume();
    return { a, b, close };
  } catch (error) {
    await close();
    throw error;
  }
}

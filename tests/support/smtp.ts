import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEBIAN_PYTHON } from './peers.js';
import { eventually, freePort, Proc } from './processes.js';

/** A message as the SMTP server stored it, read back by Python's own email package. */
export interface ParsedMessage {
  /** The envelope: who the client said it was sending to (RCPT TO), as the server recorded it. */
  envelopeRecipients: string[];
  /** Addresses of the To: header. */
  to: string[];
  from: string;
  /** Decoded (RFC 2047 encoded words turned back into text). */
  subject: string;
  /** The text/plain body, its transfer encoding undone. */
  text: string;
  /** Every header, decoded, keyed by its name in lower case; a repeated header keeps its last value. */
  headers: Record<string, string>;
}

export interface SmtpServer {
  readonly host: string;
  readonly port: number;
  /** Every message accepted so far, in arrival order. */
  messages(): Promise<ParsedMessage[]>;
  /** Stops the server and removes the mailbox. */
  stop(): Promise<void>;
}

/**
 * Reads aiosmtpd's Maildir (argv[1]) and prints the messages as JSON. aiosmtpd's Message handlers
 * add X-RcptTo with the envelope's recipients. Maildir names start with the seconds and
 * microseconds of delivery, which orders the messages.
 */
const READ_MAILDIR = `
import json, mailbox, re, sys
from email import policy
from email.parser import BytesParser

box = mailbox.Maildir(sys.argv[1], factory=None, create=False)
def arrival(key):
    seconds, micros = re.match(r"(\\d+)\\.M(\\d+)", key).groups()
    return (int(seconds), int(micros))
messages = []
for key in sorted(box.keys(), key=arrival):
    with box.get_file(key) as raw:
        message = BytesParser(policy=policy.default).parse(raw)
    body = message.get_body(preferencelist=("plain",))
    messages.append({
        "envelopeRecipients": [a.strip() for a in str(message.get("X-RcptTo", "")).split(",") if a.strip()],
        "to": [address.addr_spec for address in message["to"].addresses] if message["to"] else [],
        "from": str(message.get("from", "")),
        "subject": str(message.get("subject", "")),
        "text": body.get_content() if body is not None else "",
        "headers": {name.lower(): str(value) for name, value in message.items()},
    })
print(json.dumps(messages))
`;

function requireAiosmtpd(): void {
  const probe = spawnSync(DEBIAN_PYTHON, ['-c', 'import aiosmtpd'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    throw new Error(
      `python3-aiosmtpd is missing (${DEBIAN_PYTHON} cannot import aiosmtpd): run \`npm test\` as root, ` +
        'which installs it, or install it yourself with `apt-get install python3-aiosmtpd`',
    );
  }
}

/** Resolves once something on the port answers with an SMTP greeting (220). */
function greets(host: string, port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.setEncoding('utf8');
    socket.once('data', (line: string) => {
      socket.destroy();
      resolve(line.startsWith('220') ? true : undefined);
    });
    socket.once('error', () => resolve(undefined));
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(undefined);
    });
  });
}

/**
 * A real SMTP server, Debian's aiosmtpd, on a free loopback port, saving what it accepts in a
 * throw-away Maildir. aiosmtpd writes a message before it answers 250 to its DATA, so a message
 * the client saw accepted is already in `messages()`.
 */
export async function startSmtpServer(): Promise<SmtpServer> {
  requireAiosmtpd();
  const host = '127.0.0.1';
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-smtp-'));
  // A path that does not exist yet: Python's Maildir makes its cur/new/tmp only when it makes the folder.
  const maildir = join(dir, 'Maildir');
  const proc = new Proc(
    'aiosmtpd',
    // -n: stay the user we are (as root it would switch to nobody, who cannot write the Maildir)
    spawn(DEBIAN_PYTHON, ['-m', 'aiosmtpd', '-n', '-l', `${host}:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', maildir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const stop = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      eventually(() => greets(host, port), `aiosmtpd to greet on ${host}:${port}`, 15_000),
      proc.exited.then((code) => {
        throw new Error(`aiosmtpd exited (${code}) before it listened:\n${proc.output()}`);
      }),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    host,
    port,
    async messages() {
      const { stdout } = await promisify(execFile)(DEBIAN_PYTHON, ['-c', READ_MAILDIR, maildir], { encoding: 'utf8' });
      return JSON.parse(stdout) as ParsedMessage[];
    },
    stop,
  };
}

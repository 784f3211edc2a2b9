import { Command } from 'commander';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MyelinClient } from '@myelin/sdk';
import { CliError, createContext, EXIT, myelinHome, readCredentials, resolveConnection } from '../cli-context';
import { printJson, table } from '../output/format';

function saveCredentials(creds: { host: string; token: string; username: string }): string {
  const home = myelinHome();
  mkdirSync(home, { recursive: true });
  const file = join(home, 'credentials.json');
  writeFileSync(file, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
  return file;
}

/** Read a password from the terminal without echoing it (or from stdin when piped). */
async function askPassword(prompt: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
  if (process.stdin.isTTY) {
    process.stderr.write(prompt);
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  }
  const answer = await new Promise<string>((resolve) => rl.question(process.stdin.isTTY ? '' : prompt, resolve));
  rl.close();
  if (process.stdin.isTTY) process.stderr.write('\n');
  return answer;
}

export function loginCommand(): Command {
  return new Command('login')
    .description('log in with a username and password; the token is saved in $MYELIN_HOME/credentials.json')
    .requiredOption('-u, --username <name>', 'user name')
    .option('--password <password>', 'password (prompted when absent; prefer the prompt or MYELIN_PASSWORD)')
    .option('--host <url>', 'API URL (default: $MYELIN_HOST or http://127.0.0.1:8000)')
    .action(async (opts: { username: string; password?: string; host?: string }) => {
      const { host } = resolveConnection(opts);
      const password = opts.password ?? process.env['MYELIN_PASSWORD'] ?? (await askPassword('Password: '));
      const { token } = await new MyelinClient({ host }).login(opts.username, password);
      const file = saveCredentials({ host, token, username: opts.username });
      process.stdout.write(`Logged in to ${host} as ${opts.username} (token saved in ${file})\n`);
    });
}

export function logoutCommand(): Command {
  return new Command('logout')
    .description('revoke the saved token and forget it')
    .action(async () => {
      const creds = readCredentials();
      if (!creds.token || !creds.host) throw new CliError('not logged in');
      await new MyelinClient({ host: creds.host, token: creds.token }).call('POST', '/api/v1/users/logout').catch(() => undefined);
      rmSync(join(myelinHome(), 'credentials.json'), { force: true });
      process.stdout.write('Logged out.\n');
    });
}

export function whoamiCommand(): Command {
  return new Command('whoami')
    .description('the user the CLI acts as')
    .option('--json', 'print as JSON')
    .option('--host <url>', 'API URL')
    .action(async (opts: { json?: boolean; host?: string }) => {
      const me = await createContext(opts).client.whoami();
      if (opts.json) printJson(me);
      else process.stdout.write(`${me.username}${me.isSuperuser ? ' (superuser)' : ''}\n`);
    });
}

export function configCommand(): Command {
  return new Command('config')
    .description('show where the CLI connects and with which token')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }) => {
      const conn = resolveConnection({});
      const shown = { host: conn.host, trackingHost: conn.trackingHost ?? conn.host, username: conn.username ?? null, token: conn.token ? `${conn.token.slice(0, 10)}…` : null, home: myelinHome() };
      if (opts.json) printJson(shown);
      else for (const [k, v] of Object.entries(shown)) process.stdout.write(`${k.padEnd(13)} ${v ?? '-'}\n`);
    });
}

export function userCommand(): Command {
  const user = new Command('user').description('manage users (superuser)');
  const host = (c: Command) => c.option('--host <url>', 'API URL');
  user.addCommand(
    host(new Command('ls'))
      .description('list users')
      .option('--json', 'print as JSON')
      .action(async (opts: { json?: boolean; host?: string }) => {
        const users = (await createContext(opts).client.call<{ results: Array<{ username: string; email: string | null; isSuperuser: boolean; isActive: boolean }> }>('GET', '/api/v1/users/accounts?limit=1000')).results;
        if (opts.json) return printJson(users);
        process.stdout.write(`${table(['USERNAME', 'EMAIL', 'SUPERUSER', 'ACTIVE'], users.map((u) => [u.username, u.email, u.isSuperuser ? 'yes' : '', u.isActive ? 'yes' : 'no']))}\n`);
      }),
  );
  user.addCommand(
    host(new Command('create'))
      .description('create a user')
      .argument('<username>')
      .option('--email <email>')
      .option('--password <password>', 'password (prompted when absent)')
      .option('--superuser', 'make them superuser')
      .action(async (username: string, opts: { email?: string; password?: string; superuser?: boolean; host?: string }) => {
        const password = opts.password ?? process.env['MYELIN_PASSWORD'] ?? (await askPassword(`Password for ${username}: `));
        await createContext(opts).client.call('POST', '/api/v1/users/accounts', { username, password, ...(opts.email ? { email: opts.email } : {}), isSuperuser: !!opts.superuser });
        process.stdout.write(`Created user ${username}\n`);
      }),
  );
  for (const [verb, path, method, done] of [
    ['activate', 'users/activate', 'POST', 'Activated'],
    ['deactivate', 'users/deactivate', 'POST', 'Deactivated'],
    ['delete', 'users/delete', 'DELETE', 'Deleted'],
  ] as const) {
    user.addCommand(
      host(new Command(verb))
        .description(`${verb} a user`)
        .argument('<username>')
        .action(async (username: string, opts: { host?: string }) => {
          await createContext(opts).client.call(method, `/api/v1/${path}/${encodeURIComponent(username)}`);
          process.stdout.write(`${done} ${username}\n`);
        }),
    );
  }
  return user;
}

export function superuserCommand(): Command {
  const su = new Command('superuser').description('grant or revoke superuser (superuser)');
  for (const verb of ['grant', 'revoke'] as const) {
    su.addCommand(
      new Command(verb)
        .argument('<username>')
        .option('--host <url>', 'API URL')
        .description(`${verb} superuser`)
        .action(async (username: string, opts: { host?: string }) => {
          await createContext(opts).client.call('POST', `/api/v1/superusers/${verb}/${encodeURIComponent(username)}`);
          process.stdout.write(`${verb === 'grant' ? 'Granted' : 'Revoked'} superuser ${verb === 'grant' ? 'to' : 'from'} ${username}\n`);
        }),
    );
  }
  return su;
}

export { EXIT };

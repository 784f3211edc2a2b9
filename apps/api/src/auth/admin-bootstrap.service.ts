import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AccountsRepository } from '@myelin/persistence';
import { API_ENV } from '../database/database.providers';
import { ApiEnv } from '../config/env';

/**
 * First start: create the superuser and a token, and leave the token where the CLI looks for it
 * (embedded mode), so `myelin run` works right after `myelin up` with nothing to configure.
 */
@Injectable()
export class AdminBootstrapService implements OnApplicationBootstrap {
  private readonly logger = new Logger('AdminBootstrap');

  constructor(
    private readonly accounts: AccountsRepository,
    @Inject(API_ENV) private readonly env: ApiEnv,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if ((await this.accounts.countUsers()) > 0) return;
    const generated = !this.env.MYELIN_ADMIN_PASSWORD;
    const password = this.env.MYELIN_ADMIN_PASSWORD ?? randomBytes(12).toString('base64url');
    const user = await this.accounts.createUser({
      username: this.env.MYELIN_ADMIN_USERNAME,
      password,
      isSuperuser: true,
    });
    const { token } = await this.accounts.issueToken({ userId: user.id, name: 'admin (first start)' });
    if (this.env.MYELIN_CREDENTIALS_FILE) {
      const file = this.env.MYELIN_CREDENTIALS_FILE;
      await mkdir(dirname(file), { recursive: true });
      const host = this.env.MYELIN_PUBLIC_URL ?? `http://${this.env.MYELIN_BIND}:${this.env.MYELIN_PORT}`;
      await writeFile(file, `${JSON.stringify({ host, username: user.username, token }, null, 2)}\n`, { mode: 0o600 });
      this.logger.log(`created superuser "${user.username}"; its token is in ${file}`);
    } else {
      this.logger.log(`created superuser "${user.username}" (no credentials file configured; log in with its password)`);
    }
    if (generated) {
      // Printed to the terminal once, never to the structured logs.
      process.stdout.write(`\n  Superuser "${user.username}" password: ${password}\n  (shown once; change it later)\n\n`);
    }
  }
}

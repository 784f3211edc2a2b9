import { Injectable } from '@nestjs/common';
import { AccountsRepository } from '@myelin/persistence';
import { Identity, TokenVerifier } from '@myelin/runtime';

/** The API owns accounts, so it verifies tokens against its own tables. */
@Injectable()
export class AccountsTokenVerifier implements TokenVerifier {
  constructor(private readonly accounts: AccountsRepository) {}

  async verify(token: string): Promise<Identity | null> {
    const found = await this.accounts.verifyToken(token);
    if (!found) return null;
    return {
      userId: found.user.id,
      username: found.user.username,
      isSuperuser: found.user.isSuperuser,
      tokenId: found.token.id,
      ...(found.token.runUuid ? { runUuid: found.token.runUuid } : {}),
    };
  }
}

import { createHash, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { TokenEntity, TokenScope } from '../entities/token.entity';
import { UserEntity } from '../entities/user.entity';
import { FINAL_STATUSES } from '@myelin/contracts';
import { GroupCommitter } from '../../group-commit/group-committer';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** Tokens are looked up by hash: SHA-256 suffices for 256-bit random secrets (no brute force to slow). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 64);
  return `scrypt$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  if (!stored) return false;
  const [scheme, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length);
  return timingSafeEqual(expected, actual);
}

export interface IssuedToken {
  token: string;
  entity: TokenEntity;
}

export interface VerifiedToken {
  user: UserEntity;
  token: TokenEntity;
}

export class AccountsRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get users() {
    return this.dataSource.getRepository(UserEntity);
  }
  private get tokens() {
    return this.dataSource.getRepository(TokenEntity);
  }

  countUsers(): Promise<number> {
    return this.users.count();
  }

  findUserByUsername(username: string): Promise<UserEntity | null> {
    return this.users.findOne({ where: { username } });
  }

  findUserById(id: string): Promise<UserEntity | null> {
    return this.users.findOne({ where: { id } });
  }

  async createUser(input: { username: string; email?: string; password?: string; isSuperuser?: boolean }): Promise<UserEntity> {
    const user = this.users.create({
      id: randomUUID(),
      username: input.username,
      email: input.email ?? null,
      passwordHash: input.password ? await hashPassword(input.password) : null,
      isSuperuser: input.isSuperuser ?? false,
      isActive: true,
    });
    return this.users.save(user);
  }

  /** A new random token; only its hash is stored. */
  async issueToken(input: {
    userId: string;
    name: string;
    scope?: TokenScope;
    runUuid?: string;
    expiresAt?: Date;
  }, manager?: EntityManager): Promise<IssuedToken> {
    const token = `myl_${randomBytes(32).toString('base64url')}`;
    const entity = this.tokens.create({
      id: randomUUID(),
      userId: input.userId,
      tokenHash: hashToken(token),
      prefix: token.slice(0, 10),
      name: input.name,
      scope: input.scope ?? 'user',
      runUuid: input.runUuid ?? null,
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
    });
    // Inside the caller's transaction when given one (a second session would wait on it forever on PGlite).
    // insert(), not save(): the id is new, there is nothing to read first.
    await (manager ? manager.getRepository(TokenEntity) : this.tokens).insert(entity);
    return { token, entity };
  }

  /**
   * A run's own token, owned by the run's creator, issued only if the run exists and has not
   * ended (executors ask for one each time they start a run). Null otherwise. Tokens asked for
   * side by side (a scheduler filling its free slots) are issued in one statement.
   */
  issueRunToken(runUuid: string): Promise<string | null> {
    return this.runTokens.submit(runUuid);
  }

  private readonly runTokens = new GroupCommitter<string, string | null>(
    async (runUuids) => {
      const tokens = runUuids.map(() => `myl_${randomBytes(32).toString('base64url')}`);
      const ids = runUuids.map(() => randomUUID());
      const rows = (await this.tokens.manager.query(
        `INSERT INTO "core"."tokens" ("id", "user_id", "token_hash", "prefix", "name", "scope", "run_uuid")
         SELECT v."id", r."created_by", v."hash", v."prefix", 'run ' || r."uuid", 'run', r."uuid"
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[]) AS v("id", "hash", "prefix", "run_uuid")
           JOIN "core"."runs" r ON r."uuid" = v."run_uuid"
          WHERE NOT (r."status" = ANY($5::text[]))
         RETURNING "id"`,
        [ids, tokens.map(hashToken), tokens.map((t) => t.slice(0, 10)), runUuids, [...FINAL_STATUSES]],
      )) as Array<{ id: string }>;
      const issued = new Set(rows.map((row) => row.id));
      return tokens.map((token, i) => (issued.has(ids[i]) ? token : null));
    },
    { gather: true, maxGroupSize: 64 },
  );

  /** The token's user when the token exists, is neither revoked nor expired, and its user is active. */
  async verifyToken(token: string, now = new Date()): Promise<VerifiedToken | null> {
    // Token and user in one statement: every authenticated request pays this.
    const found = (await this.users
      .createQueryBuilder('u')
      .innerJoinAndMapOne('u.verifiedToken', TokenEntity, 't', 't.user_id = u.id AND t.token_hash = :hash AND t.revoked_at IS NULL', { hash: hashToken(token) })
      .getOne()) as (UserEntity & { verifiedToken?: TokenEntity }) | null;
    const entity = found?.verifiedToken;
    if (!found || !entity) return null;
    delete found.verifiedToken; // the user entity callers get, as it is
    if (entity.expiresAt && entity.expiresAt.getTime() <= now.getTime()) return null;
    if (!found.isActive) return null;
    return { user: found, token: entity };
  }

  /** Revoke a token; with `userId`, only one of that user's. Returns whether a live token was revoked. */
  async revokeToken(id: string, userId?: string): Promise<boolean> {
    const result = await this.tokens.update({ id, revokedAt: IsNull(), ...(userId ? { userId } : {}) }, { revokedAt: new Date() });
    return (result.affected ?? 0) > 0;
  }

  /** Revoke every live token scoped to a run (when it ends). */
  async revokeRunTokens(runUuid: string): Promise<void> {
    await this.tokens.update({ runUuid, revokedAt: IsNull() }, { revokedAt: new Date() });
  }

  listTokens(userId: string): Promise<TokenEntity[]> {
    return this.tokens.find({ where: { userId, scope: 'user' }, order: { createdAt: 'DESC' } });
  }

  async countOrganizationsNamed(name: string): Promise<number> {
    const [{ n }] = (await this.dataSource.query(`SELECT count(*)::int AS n FROM "core"."organizations" WHERE "name" = $1`, [name])) as Array<{ n: number }>;
    return Number(n);
  }

  listUsers(): Promise<UserEntity[]> {
    return this.users.find({ order: { username: 'ASC' } });
  }

  async updateUser(username: string, patch: Partial<Pick<UserEntity, 'isActive' | 'isSuperuser'>>): Promise<UserEntity | null> {
    const user = await this.findUserByUsername(username);
    if (!user) return null;
    Object.assign(user, patch);
    return this.users.save(user);
  }

  /** Delete a user who owns nothing; returns 'not_found', 'in_use' (projects or runs reference them) or 'deleted'. */
  async deleteUser(username: string): Promise<'not_found' | 'in_use' | 'deleted'> {
    const user = await this.findUserByUsername(username);
    if (!user) return 'not_found';
    const [{ n }] = (await this.dataSource.query(
      `SELECT (SELECT count(*) FROM "core"."projects" WHERE "owner_id" = $1) + (SELECT count(*) FROM "core"."runs" WHERE "created_by" = $1) AS n`,
      [user.id],
    )) as Array<{ n: string | number }>;
    if (Number(n) > 0) return 'in_use';
    await this.users.delete({ id: user.id });
    return 'deleted';
  }
}

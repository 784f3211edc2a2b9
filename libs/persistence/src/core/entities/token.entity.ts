import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

export type TokenScope = 'user' | 'run';

/** API tokens are stored as SHA-256 hashes; the clear value is shown once, at creation. */
@Entity({ schema: 'core', name: 'tokens' })
export class TokenEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column({ name: 'user_id', type: 'uuid' }) userId!: string;
  @Column({ name: 'token_hash', type: 'text', unique: true }) tokenHash!: string;
  /** First characters of the token, to recognise it in a listing. */
  @Column({ type: 'text' }) prefix!: string;
  @Column({ type: 'text' }) name!: string;
  @Column({ type: 'text', default: 'user' }) scope!: TokenScope;
  @Column({ name: 'run_uuid', type: 'uuid', nullable: true }) runUuid!: string | null;
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true }) expiresAt!: Date | null;
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true }) revokedAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { IS_PUBLIC } from './public.decorator';

export interface Identity {
  userId: string;
  username: string;
  isSuperuser: boolean;
  /** Set for a run-scoped token: the one run it may write to. */
  runUuid?: string;
  /** The token used, when the verifier knows it (logout revokes it). */
  tokenId?: string;
}

/** How an app turns a bearer token into an identity (the API reads its tables; others ask the API). */
export interface TokenVerifier {
  verify(token: string): Promise<Identity | null>;
}
export const TOKEN_VERIFIER = Symbol('TOKEN_VERIFIER');

export type AuthenticatedRequest = Request & { identity: Identity };

/** `Authorization: token <key>` (Polyaxon's form) or `Bearer <key>`. */
export function extractToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(token|bearer)\s+(\S+)$/i.exec(header.trim());
  return m?.[2];
}

/** Every route is authenticated unless marked `@Public()`. */
@Injectable()
export class TokenAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true; // bus messages are validated, not token-authenticated
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const token = extractToken(req.headers.authorization);
    if (!token) throw new UnauthorizedException('missing token: send "Authorization: token <key>"');
    const identity = await this.verifier.verify(token);
    if (!identity) throw new UnauthorizedException('invalid, expired or revoked token');
    req.identity = identity;
    return true;
  }
}

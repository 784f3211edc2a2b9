import { CanActivate, ExecutionContext, HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import type { AuthenticatedRequest } from './auth.guard';

export const RATE_LIMIT = Symbol('RATE_LIMIT');
export interface RateLimitConfig {
  /** Requests per minute per token (per address for unauthenticated calls); 0 disables. */
  perMinute: number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

/**
 * A token bucket per API token: `perMinute` requests a minute on average, bursts up to the same
 * number. Over the limit: 429 with `Retry-After` (seconds). Kept in this process's memory.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly buckets = new Map<string, Bucket>();

  constructor(@Inject(RATE_LIMIT) private readonly config: RateLimitConfig) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http' || this.config.perMinute <= 0) return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const key = req.identity?.tokenId ?? req.identity?.userId ?? `ip:${req.ip}`;
    const now = Date.now();
    const ratePerMs = this.config.perMinute / 60_000;
    const bucket = this.buckets.get(key) ?? { tokens: this.config.perMinute, updated: now };
    bucket.tokens = Math.min(this.config.perMinute, bucket.tokens + (now - bucket.updated) * ratePerMs);
    bucket.updated = now;
    if (bucket.tokens < 1) {
      const retryAfter = Math.ceil((1 - bucket.tokens) / ratePerMs / 1000);
      context.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(retryAfter));
      this.buckets.set(key, bucket);
      throw new HttpException(
        { code: 'rate_limited', message: `rate limit of ${this.config.perMinute} requests per minute exceeded; retry in ${retryAfter} s` },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 100_000) this.buckets.clear(); // bounded memory under a flood of keys
    return true;
  }
}

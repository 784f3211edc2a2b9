import type { RequestHandler } from 'express';
import type { MessageBus } from '@myelin/bus';

/**
 * The contract between an app and whatever hosts it: its own `main.ts` (distributed mode:
 * one process, its own port) or `myelin up` (embedded mode: every app in one process behind
 * one port, sharing an in-process bus and database). Each app's `bootstrap.ts` exports
 * `bootstrap(options): Promise<AppHandle>`; hosts load it at run time by path, so no app
 * imports another.
 */
export interface AppBootstrapOptions {
  /** Environment-like variables; the app validates them with its own config class. */
  env: Record<string, string | undefined>;
  /** A bus shared with other apps in this process (embedded mode); otherwise the app opens its own. */
  bus?: MessageBus;
  /** Listen on MYELIN_PORT (distributed) or only build the HTTP handler for the host to mount (embedded). */
  listen: boolean;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

export interface AppHandle {
  name: string;
  /** Path prefixes this app serves when mounted behind a shared port (longest prefix wins). */
  routePrefixes: string[];
  httpHandler: RequestHandler;
  readiness(): Promise<ReadinessReport>;
  /** The port it listens on when `listen` was true. */
  port?: number;
  close(): Promise<void>;
}

export type AppBootstrap = (options: AppBootstrapOptions) => Promise<AppHandle>;

export const APP_NAMES = ['api', 'tracking', 'scheduler', 'pipelines', 'optimizer', 'ci'] as const;
export type AppName = (typeof APP_NAMES)[number];

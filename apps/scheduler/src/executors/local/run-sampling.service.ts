import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { MetricsBatch } from '@myelin/contracts';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { ExecutionsRepository } from '@myelin/persistence';
import { EXECUTOR, RUN_LEASE, SCHEDULER_ENV } from '../../tokens';
import { SchedulerEnv } from '../../config/env';
import { Executor } from '../executor';
import { RunLease } from '../../queue/run-lease';
import { ProcessSampler, samplePoints } from './process-sampler';

/**
 * CPU and memory of live local runs as system metrics (`sys/cpu_percent`, `sys/memory_mb`), every
 * MYELIN_SAMPLE_SECONDS (0: off). Its own timer, apart from the supervision pass: a slow or failing
 * read of /proc delays a sample, never a status. One query for the runs, one pass over /proc for
 * all of them, one metrics batch per run, sent like the metrics the log shipper reads from stdout
 * (so they are stored, summarised and read with `myelin metrics`). A lost sample is not resent.
 */
@Injectable()
export class RunSamplingService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Sampler');
  private readonly sampler = new ProcessSampler();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private failures = 0;

  constructor(
    private readonly executions: ExecutionsRepository,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(SCHEDULER_ENV) private readonly env: SchedulerEnv,
    @Inject(RUN_LEASE) private readonly lease: RunLease,
    @Inject(EXECUTOR) private readonly executor: Executor,
  ) {}

  private get enabled(): boolean {
    return this.executor.name === 'local' && this.env.MYELIN_SAMPLE_SECONDS > 0;
  }

  onApplicationBootstrap(): void {
    if (this.enabled) this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.running = this.sampleOnce().finally(() => {
        this.running = undefined;
        if (this.timer) this.schedule();
      });
    }, this.env.MYELIN_SAMPLE_SECONDS * 1000);
    this.timer.unref();
  }

  /** Sample the running runs this replica supervises (their processes are on this host) and send the points. */
  async sampleOnce(): Promise<void> {
    try {
      const live = await this.executions.listByStatus(['running', 'stopping']);
      const mine = this.lease.shared ? live.filter((e) => e.owner === this.lease.owner) : live;
      const samples = await this.sampler.sample(mine);
      const byUuid = new Map(mine.map((e) => [e.runUuid, e]));
      for (const sample of samples) {
        const execution = byUuid.get(sample.runUuid);
        if (!execution) continue;
        // Step: whole seconds since the run was queued here, which only grows, across attempts and restarts.
        const step = Math.max(0, Math.floor((sample.at.getTime() - execution.createdAt.getTime()) / 1000));
        await this.bus.send(MetricsBatch.PATTERN, {
          runUuid: sample.runUuid,
          batchId: `sys:${sample.at.getTime()}`,
          points: samplePoints(sample, step),
        } satisfies MetricsBatch.Payload);
      }
      this.failures = 0;
    } catch (error) {
      // Logged once per streak of failures (a bus outage would otherwise log every interval).
      if (this.failures++ === 0)
        this.logger.warn(
          `resource sampling failed: ${error instanceof Error ? error.message : String(error)}`,
        );
    }
  }
}

import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { OutboxRelay } from '@myelin/persistence';
import { IngestService } from './ingest.service';

/** Runs tracking's outbox relay, and the announcer of changed metric summaries, for the lifetime of the app. */
@Injectable()
export class OutboxLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('SummaryAnnouncer');
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly relay: OutboxRelay,
    private readonly ingest: IngestService,
  ) {}

  onApplicationBootstrap(): void {
    this.relay.start();
    // A few announcements a second, whatever the ingest rate: run tables stay within ~0.3 s.
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.ingest
        .announceSummaries()
        .catch((e: Error) => this.logger.warn(`announcing summaries failed (kept for the next pass): ${e.message}`))
        .finally(() => (this.running = undefined));
    }, 250);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.ingest.announceSummaries().catch(() => undefined);
    await this.relay.stop();
  }
}

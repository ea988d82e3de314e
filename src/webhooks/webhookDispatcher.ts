/**
 * Delivers webhook messages from whichever instance is up. Each round it turns job ends from the
 * jobs' outbox into messages, claims the messages that are due (FOR UPDATE SKIP LOCKED, so
 * instances never take the same one), and sends them, a few at a time. It wakes at NOTIFY
 * job_ended (sent as a job's end commits, from any instance) and polls besides: retries fall due
 * by the clock, and a message whose sender died falls due again when its claim runs out.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { JOB_ENDED_CHANNEL } from '../jobs/jobEndings.js';
import { claimDueMessages, fanOutJobEndings, forgetOldMessages, recordAttempt, type AttemptResult, type ClaimedMessage } from './deliveryStore.js';
import type { SecretBox } from './secretBox.js';
import { sendWebhook, type SendSettings } from './send.js';
import { messageIdOf, webhookHeaders } from './signature.js';

export interface DispatcherOptions extends SendSettings {
  /** The waits before each retry; past the last, a message is given up. */
  retryScheduleMs: number[];
  pollIntervalMs: number;
}

/** Attempts in flight at once on one instance. */
const MAX_IN_FLIGHT = 8;
/** Job ends turned into messages per transaction. */
const FAN_OUT_BATCH = 100;
/** How long the delivery log keeps a message once it was delivered or given up. */
export const DELIVERY_LOG_DAYS = 30;
const FORGET_EVERY_MS = 3_600_000;

export class WebhookDispatcher {
  private stopping = false;
  private loopDone: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private wake: (() => void) | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private lastForget = 0;
  private readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  constructor(
    private readonly db: Database,
    private readonly secrets: () => Promise<SecretBox>,
    private readonly log: Logger,
    private readonly opts: DispatcherOptions,
  ) {}

  async start(): Promise<void> {
    this.unlisten = await this.db.listen(JOB_ENDED_CHANNEL, () => this.wake?.());
    this.loopDone = this.loop();
  }

  /** Stops claiming and waits for the attempts in flight (an abandoned one is sent again once its claim runs out). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.unlisten?.().catch(() => {});
    await this.loopDone;
    await Promise.all([...this.inFlight]);
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.wake = null; resolve(); }, ms);
      this.wake = () => { clearTimeout(timer); this.wake = null; resolve(); };
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let busy = false;
      try {
        while ((await fanOutJobEndings(this.db, FAN_OUT_BATCH)) === FAN_OUT_BATCH && !this.stopping);
        const room = MAX_IN_FLIGHT - this.inFlight.size;
        if (room > 0 && !this.stopping) {
          // Held past the attempt's own bound, with room to write its outcome.
          const claimed = await claimDueMessages(this.db, this.owner, this.opts.timeoutMs + 30_000, room);
          for (const message of claimed) this.track(this.deliver(message));
          busy = claimed.length === room;
        }
        await this.forgetOldOnes();
      } catch (err) {
        this.log.error({ err }, 'webhook dispatch failed; retrying');
      }
      if (!busy && !this.stopping) await this.idle(this.opts.pollIntervalMs);
    }
  }

  private track(attempt: Promise<void>): void {
    this.inFlight.add(attempt);
    void attempt.finally(() => { this.inFlight.delete(attempt); this.wake?.(); });
  }

  private async deliver(message: ClaimedMessage): Promise<void> {
    let result: AttemptResult;
    try {
      const secret = (await this.secrets()).open(message.secretCiphertext);
      result = await sendWebhook(message.url, webhookHeaders(secret, messageIdOf(message.id), message.body), message.body, this.opts);
    } catch (err) {
      result = { succeeded: false, responseStatus: null, responseBody: null, error: (err as Error).message, attemptedAt: new Date(), durationMs: 0 };
    }
    const retryInMs = result.succeeded ? null : (this.opts.retryScheduleMs[message.attempt - 1] ?? null);
    const where = { webhookId: message.webhookId, messageId: messageIdOf(message.id), attempt: message.attempt };
    if (result.succeeded) this.log.debug(where, 'webhook delivered');
    else if (retryInMs === null) this.log.warn({ ...where, error: result.error }, 'webhook delivery given up');
    else this.log.info({ ...where, error: result.error, retryInMs }, 'webhook delivery failed; will retry');
    try {
      await recordAttempt(this.db, message, result, retryInMs);
    } catch (err) {
      // The message stays claimed until its hold runs out, then is sent again: at least once.
      this.log.error({ err, ...where }, 'could not record a webhook attempt');
    }
  }

  private async forgetOldOnes(): Promise<void> {
    if (Date.now() - this.lastForget < FORGET_EVERY_MS) return;
    this.lastForget = Date.now();
    await forgetOldMessages(this.db, DELIVERY_LOG_DAYS);
  }
}

/**
 * Where audit entries go. Deployed: one structured log line per read through Powertools'
 * logger, at INFO whatever the handler's log level (the audit must not vanish when an
 * operator turns logging down); a CloudWatch Logs subscription and Firehose carry those
 * lines to S3 (lib/constructs/audit.ts), so the request path makes no S3 call. Local mode
 * stands in for the subscription and Firehose with `BufferedAuditDelivery`: the same lines,
 * buffered and written as JSON lines under `audit/date=YYYY-MM-DD/` in its bucket.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { AUDIT_LOG_MESSAGE, type AuditEntry, auditLine, auditObjectKey } from '../core/audit.js';
import type { AuditTrail } from './ports.js';

export class LogAuditTrail implements AuditTrail {
  private readonly logger: Logger;

  /** @param atLoggerLevel log at the logger's own level (local mode, quiet by default) instead of always. @default false */
  constructor(logger: Logger, atLoggerLevel = false) {
    this.logger = atLoggerLevel ? logger : logger.createChild({ logLevel: 'INFO' });
  }

  record(entry: AuditEntry): void {
    this.logger.info(AUDIT_LOG_MESSAGE, { audit: entry });
  }

  async flush(): Promise<void> {}
}

export interface AuditObjectWriter {
  put(key: string, body: Buffer, contentType: string): Promise<void>;
}

export interface BufferedAuditDeliveryOptions {
  /** How long an entry may wait in the buffer. @default 1000 ms (Firehose's is 60 s or more) */
  readonly intervalMs?: number;
  /** Entries that fill the buffer and write it at once. @default 500 */
  readonly maxEntries?: number;
  /** A unique name per delivered object, e.g. a counter with the process id. */
  readonly objectName: () => string;
  /** Reports a failed write; the entries are kept and retried on the next flush. */
  readonly onError: (error: unknown) => void;
}

/** Local mode's Firehose: buffers audit lines and writes them as one JSON-lines object per flush. */
export class BufferedAuditDelivery implements AuditTrail {
  private buffer: AuditEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly objects: AuditObjectWriter,
    private readonly log: AuditTrail,
    private readonly options: BufferedAuditDeliveryOptions,
  ) {}

  record(entry: AuditEntry): void {
    this.log.record(entry);
    this.buffer.push(entry);
    if (this.buffer.length >= (this.options.maxEntries ?? 500)) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.intervalMs ?? 1000).unref();
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const entries = this.buffer;
    this.buffer = [];
    this.writing = this.writing.then(async () => {
      if (!entries.length) return;
      const body = Buffer.from(`${entries.map((e) => JSON.stringify(auditLine(e))).join('\n')}\n`);
      try {
        await this.objects.put(auditObjectKey(entries[0]!.ts, this.options.objectName()), body, 'application/x-ndjson');
      } catch (error) {
        this.buffer.unshift(...entries);
        this.options.onError(error);
      }
    });
    return this.writing;
  }
}

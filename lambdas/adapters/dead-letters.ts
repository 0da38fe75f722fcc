/**
 * The dead-letter destination for records that cannot become features: one JSON object per
 * record under `dead-letter/<source>/date=YYYY-MM-DD/` in the store's bucket, with the reason
 * and the original payload. Keys are derived from the record's position, so a retried batch
 * overwrites its own dead letters instead of adding copies.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BUCKET_PREFIX } from '../core/deployment.js';
import type { DeadLetter, DeadLetterSink } from './ports.js';

export function deadLetterKey(letter: DeadLetter): string {
  const date = new Date(letter.arrivedAt).toISOString().slice(0, 10);
  return `${BUCKET_PREFIX.deadLetter}${letter.source}/date=${date}/${letter.position.replaceAll('/', '-')}.json`;
}

export class S3DeadLetterSink implements DeadLetterSink {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async write(letters: readonly DeadLetter[]): Promise<void> {
    await Promise.all(
      letters.map((letter) =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: deadLetterKey(letter),
            ContentType: 'application/json',
            Body: Buffer.from(JSON.stringify({ ...letter, payload: safeUtf8(letter.payloadBase64) })),
          }),
        ),
      ),
    );
  }
}

/** The payload as text when it is valid UTF-8, to make dead letters readable; else null. */
function safeUtf8(base64: string): string | null {
  const bytes = Buffer.from(base64, 'base64');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

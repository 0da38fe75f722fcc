/**
 * Ingestion: one Kinesis data stream per stream source of the registry. Producers (and the
 * serving API's /v1/push) write events here; the processing construct reads them.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';
import type { StreamSource } from '../../lambdas/core/definitions.js';

export interface IngestionProps {
  /** The registry's stream sources; each gets its own stream. */
  readonly sources: readonly StreamSource[];
  /**
   * How long Kinesis keeps records. Longer retention buys time to fix a broken handler
   * before records expire unprocessed.
   * @default Duration.hours(24)
   */
  readonly retention?: Duration;
  /**
   * The physical stream name of a source.
   * @default the source's `streamName` (`tessera-<source>` unless the definition sets one)
   */
  readonly streamName?: (source: StreamSource) => string;
}

export class Ingestion extends Construct {
  /** The stream of each stream source, by source name. */
  readonly streams: ReadonlyMap<string, kinesis.Stream>;

  constructor(scope: Construct, id: string, props: IngestionProps) {
    super(scope, id);
    const streams = new Map<string, kinesis.Stream>();
    for (const source of props.sources) {
      // The source name is the construct id: renaming a source replaces its stream, as it should.
      streams.set(
        source.name,
        new kinesis.Stream(this, source.name, {
          streamName: props.streamName?.(source) ?? source.streamName,
          streamMode: kinesis.StreamMode.ON_DEMAND,
          encryption: kinesis.StreamEncryption.MANAGED,
          retentionPeriod: props.retention ?? Duration.hours(24),
        }),
      );
    }
    this.streams = streams;
  }

  /** Source name → physical stream name. */
  streamNames(): Record<string, string> {
    return Object.fromEntries([...this.streams].map(([source, stream]) => [source, stream.streamName]));
  }

  /** `streamNames()` as JSON, the value of the handlers' `TESSERA_STREAMS`. */
  streamNamesJson(): string {
    return Stack.of(this).toJsonString(this.streamNames());
  }

  /** Lets `grantee` put records on every stream. */
  grantWrite(grantee: iam.IGrantable): iam.Grant {
    return [...this.streams.values()]
      .map((stream) => stream.grantWrite(grantee))
      .reduce((all, grant) => all.combine(grant), iam.Grant.drop(grantee, 'no stream sources'));
  }
}

/**
 * Ingestion: one Kinesis data stream per stream source of the registry. Producers (and the
 * serving API's /v1/push) write events here; the processing construct reads them.
 *
 * Streams get no physical name: CloudFormation derives one from the stack, so a second stack,
 * a redeploy after `cdk destroy` or a retry after a rollback never collides with a stream
 * left behind. A stream kept from an earlier deploy is attached by ARN instead (`existing`).
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
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
   * What happens to a stream when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Streams to use instead of creating one, by source name (stream ARNs), e.g. the streams a
   * destroyed stack retained.
   * @default none: every source gets a new stream
   */
  readonly existingStreamArns?: Readonly<Record<string, string>>;
}

export class Ingestion extends Construct {
  /** The stream of each stream source, by source name. */
  readonly streams: ReadonlyMap<string, kinesis.IStream>;

  constructor(scope: Construct, id: string, props: IngestionProps) {
    super(scope, id);
    const known = new Set(props.sources.map((s) => s.name));
    for (const source of Object.keys(props.existingStreamArns ?? {})) {
      if (!known.has(source)) throw new Error(`existing stream given for "${source}", which is not a stream source of the definitions`);
    }
    const streams = new Map<string, kinesis.IStream>();
    for (const source of props.sources) {
      const existing = props.existingStreamArns?.[source.name];
      // The source name is the construct id: renaming a source replaces its stream, as it should.
      streams.set(
        source.name,
        existing
          ? kinesis.Stream.fromStreamArn(this, source.name, existing)
          : new kinesis.Stream(this, source.name, {
              streamMode: kinesis.StreamMode.ON_DEMAND,
              encryption: kinesis.StreamEncryption.MANAGED,
              retentionPeriod: props.retention ?? Duration.hours(24),
              removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
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

  /** Lets `grantee` put records on every stream with PutRecords (what lambdas/adapters/event-stream.ts sends), and nothing else. */
  grantPutRecords(grantee: iam.IGrantable): iam.Grant {
    const arns = [...this.streams.values()].map((stream) => stream.streamArn);
    if (arns.length === 0) return iam.Grant.drop(grantee, 'no stream sources');
    return iam.Grant.addToPrincipal({ grantee, actions: ['kinesis:PutRecords'], resourceArns: arns });
  }
}

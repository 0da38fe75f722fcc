import { describe, expect, it } from 'vitest';
import {
  accessEnvironment,
  COMPACTION_DEFAULTS,
  ConfigError,
  environmentFor,
  pascalCase,
  readCompactionConfig,
  readConfig,
  readServeConfig,
  STACK_OUTPUT,
} from '../../lambdas/core/deployment.js';

describe('the deployment contract', () => {
  it('a handler reads back exactly the settings a construct or local mode gives it', () => {
    // Prepare
    const access = {
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST' },
      endpoints: { dynamodb: 'http://127.0.0.1:1', s3: 'http://127.0.0.1:2' },
    };
    const settings = {
      tableName: 'online',
      bucket: 'offline',
      streams: { transactions: 'tx-stream', card_payments: 'cards' },
      writers: ['arn:aws:iam::1:role/pusher'],
      backfillQueueUrl: 'https://sqs/queue',
      backfillMaxReceives: 5,
      logLevel: 'DEBUG',
    };

    // Act
    const config = readConfig({ ...environmentFor(settings), ...accessEnvironment(access) });

    // Assess
    expect(config).toEqual({ ...settings, access });
  });

  it('the serve and compaction handlers need only their own settings', () => {
    const serve = readServeConfig(environmentFor({ tableName: 'online' }));
    expect(serve).toMatchObject({ tableName: 'online', streams: {}, writers: [], logLevel: 'INFO' });
    const compaction = readCompactionConfig(environmentFor({ bucket: 'offline' }));
    expect(compaction).toMatchObject({ bucket: 'offline', minAgeMs: COMPACTION_DEFAULTS.minAgeMs, budgetMs: COMPACTION_DEFAULTS.budgetMs });
    const set = readCompactionConfig(environmentFor({ bucket: 'offline', compactionMinAgeMs: 30 * 60_000, compactionBudgetMs: 780_000 }));
    expect(set).toMatchObject({ minAgeMs: 30 * 60_000, budgetMs: 780_000 });
  });

  it('a missing or malformed setting fails the cold start with the variable it needs', () => {
    expect(() => readConfig(environmentFor({ tableName: 'online' }))).toThrow(new ConfigError('TESSERA_BUCKET is not set'));
    expect(() => readCompactionConfig({})).toThrow(ConfigError);
    expect(() => readServeConfig({ TESSERA_TABLE: 't', TESSERA_STREAMS: 'not json' })).toThrow(/TESSERA_STREAMS/);
    expect(() => readServeConfig({ TESSERA_TABLE: 't', TESSERA_WRITERS: '[1]' })).toThrow(/TESSERA_WRITERS/);
  });

  it('names a stream source’s stack outputs in PascalCase', () => {
    expect(pascalCase('card_payments')).toBe('CardPayments');
    expect(STACK_OUTPUT.streamName('card_payments')).toBe('StreamNameCardPayments');
    expect(STACK_OUTPUT.streamArn('clicks')).toBe('StreamArnClicks');
  });
});

import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import * as demo from '../../features/index.js';
import { authorize, authorizePush } from '../../lambdas/core/access.js';
import { type Definition, entity, featureService, featureView, select, streamSource } from '../../lambdas/core/definitions.js';
import { AccessDeniedError } from '../../lambdas/core/errors.js';
import { roleOf } from '../../lambdas/core/principal.js';
import { Registry } from '../../lambdas/core/registry.js';
import { planRequest } from '../../lambdas/core/serving.js';

const SCORER = 'arn:aws:iam::123456789012:role/service-role/fraud-scorer';
const scorerSession = 'arn:aws:sts::123456789012:assumed-role/fraud-scorer/SageMaker-1700000000';
const otherSession = 'arn:aws:sts::123456789012:assumed-role/analytics/alice';

const user = entity({ name: 'user', joinKey: 'user_id' });
const source = streamSource({
  name: 'txns',
  schema: z.object({ id: z.string(), user_id: z.string(), ts: z.number(), amount: z.number(), email: z.string() }),
  eventTimeField: 'ts',
  eventIdField: 'id',
});
const spend = featureView({ name: 'spend', entities: [user], source, features: { amount: 'float' }, owner: 'o', description: 'd' });
const contact = featureView({ name: 'contact', entities: [user], source, features: { email: 'string' }, tags: ['pii'], owner: 'o', description: 'd' });
const scoring = featureService({
  name: 'scoring',
  features: [spend, select(contact, ['email'])],
  piiFeatures: ['contact:email'],
  allowedPrincipals: [SCORER],
  owner: 'o',
  description: 'd',
});
const open = featureService({ name: 'open', features: [spend], owner: 'o', description: 'd' });
const registry = new Registry([user, source, spend, contact, scoring, open] as Definition[]);
const check = (arn: string | null, body: unknown) => authorize(registry, { arn }, planRequest(registry, body));

describe('access to feature services', () => {
  it('maps an assumed-role session to its role, whatever the role path', () => {
    expect(roleOf(scorerSession)).toBe(roleOf(SCORER));
    expect(roleOf('arn:aws:iam::123456789012:user/bob')).toBeNull();
  });

  it('lets a listed role read its service and denies others with the reason', () => {
    expect(() => check(scorerSession, { service: 'scoring', entities: [{ user_id: 'u1' }] })).not.toThrow();
    expect(() => check(otherSession, { service: 'scoring', entities: [{ user_id: 'u1' }] })).toThrow(`${otherSession} may not read feature service "scoring"`);
    expect(() => check(null, { service: 'scoring', entities: [{ user_id: 'u1' }] })).toThrow(AccessDeniedError);
  });

  it('lets any caller read a service that lists no principals', () => {
    expect(() => check(otherSession, { service: 'open', entities: [{ user_id: 'u1' }] })).not.toThrow();
  });

  it('allows a feature list only where a readable service holds every feature', () => {
    expect(() => check(otherSession, { features: ['spend:amount'], entities: [{ user_id: 'u1' }] })).not.toThrow();
  });

  it('never serves a pii feature in a plain feature list, even to a role that may read it through its service', () => {
    expect(() => check(scorerSession, { features: ['contact:email'], entities: [{ user_id: 'u1' }] })).toThrow(/tagged pii/);
  });

  it('never serves a feature computed from pii in a plain feature list, to any caller', () => {
    const demoRegistry = Registry.fromModule(demo);
    const request = {
      features: ['user_last_txn:amount_usd', 'txn_risk:km_from_last'],
      entities: [{ user_id: 'u0001', amount: 1, currency: 'EUR', lat: 0, lon: 0 }],
    };
    expect(() => authorize(demoRegistry, { arn: null }, planRequest(demoRegistry, request))).toThrow(
      '"txn_risk:km_from_last" is pii: computed from user_location:lat, user_location:lon: request it through a feature service that lists it',
    );
  });

  it('refuses at plan time a service that serves a pii feature it does not list', () => {
    const leaky = featureService({ name: 'leaky', features: [contact], owner: 'o', description: 'd' });
    expect(() => new Registry([user, source, contact, leaky] as Definition[])).toThrow(/serves "contact:email", which is tagged pii/);
  });

  it('lets the demo services be read by any caller (they list no principals)', () => {
    const demoRegistry = Registry.fromModule(demo);
    expect(() => authorize(demoRegistry, { arn: null }, planRequest(demoRegistry, { service: 'fraud_v1', entities: [{ user_id: 'u0001' }] }))).not.toThrow();
  });
});

describe('write access to stream sources', () => {
  const PRODUCER = 'arn:aws:iam::123456789012:role/ingest/payment-switch';
  const OPERATOR = 'arn:aws:iam::123456789012:role/tessera-operator';
  const written = streamSource({ ...source, name: 'written', allowedWriters: [PRODUCER] });

  it('lets a session of a listed role push and refuses every other caller, naming the source', () => {
    expect(() => authorizePush(written, { arn: 'arn:aws:sts::123456789012:assumed-role/payment-switch/s1' }, [])).not.toThrow();
    for (const arn of [scorerSession, null]) {
      expect(() => authorizePush(written, { arn }, [])).toThrow(`${arn ?? 'an anonymous caller'} may not push to source "written"`);
    }
  });

  it('admits no caller to a source that lists no writers, except the deployment writers', () => {
    expect(source.allowedWriters).toEqual([]);
    for (const arn of [scorerSession, PRODUCER, null]) expect(() => authorizePush(source, { arn }, [])).toThrow(AccessDeniedError);
    expect(() => authorizePush(source, { arn: 'arn:aws:sts::123456789012:assumed-role/tessera-operator/cli' }, [OPERATOR])).not.toThrow();
  });
});

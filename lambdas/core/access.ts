/**
 * Who may read what. A feature service lists the IAM roles allowed to read it (none listed:
 * any caller the API's IAM policy lets in); a request for a plain feature list is allowed
 * when every feature is in some service the caller may read. Features tagged `pii` are
 * served only through a service that lists them in `piiFeatures` — never in plain lists.
 */
import type { FeatureService } from './definitions.js';
import { AccessDeniedError } from './errors.js';
import type { ReadPlan, Registry } from './registry.js';

/** The caller as API Gateway reports it after SigV4 auth (`requestContext.identity.userArn`). */
export interface Caller {
  readonly arn: string | null;
}

/**
 * The role an ARN stands for, as `account:role-name`: an assumed-role session
 * (`arn:aws:sts::123:assumed-role/Name/session`) is its role (`arn:aws:iam::123:role/path/Name`).
 */
export function roleOf(arn: string): string | null {
  const sts = /^arn:aws[\w-]*:sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  if (sts) return `${sts[1]}:${sts[2]}`;
  const iam = /^arn:aws[\w-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(arn);
  if (iam) return `${iam[1]}:${iam[2]}`;
  return null;
}

export function mayRead(service: FeatureService, caller: Caller): boolean {
  if (service.allowedPrincipals.length === 0) return true;
  const role = caller.arn ? roleOf(caller.arn) : null;
  return role !== null && service.allowedPrincipals.some((allowed) => roleOf(allowed) === role);
}

/** Throws AccessDeniedError, with the reason, unless the caller may read this request's features. */
export function authorize(registry: Registry, caller: Caller, request: { service: string | null; plan: ReadPlan }): void {
  if (request.service) {
    const service = registry.service(request.service);
    if (!mayRead(service, caller)) {
      throw new AccessDeniedError(`${caller.arn ?? 'an anonymous caller'} may not read feature service "${service.name}"`, { service: service.name });
    }
    return;
  }
  const readable = [...registry.services.values()].filter((s) => mayRead(s, caller));
  for (const feature of request.plan.features) {
    if (feature.pii) {
      throw new AccessDeniedError(`"${feature.ref}" is tagged pii: request it through a feature service that lists it`, { feature: feature.ref });
    }
    if (!readable.some((s) => registry.servicePlan(s.name).features.some((f) => f.ref === feature.ref))) {
      throw new AccessDeniedError(`${caller.arn ?? 'an anonymous caller'} may not read "${feature.ref}" through any feature service`, { feature: feature.ref });
    }
  }
}

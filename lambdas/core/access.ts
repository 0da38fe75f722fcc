/**
 * Who may read and who may write. Writing (`POST /v1/push`) is denied by default: a stream
 * source admits the roles it lists in `allowedWriters`, plus the deployment's own writers
 * (TESSERA_WRITERS, the roles the stack grants push to every source), and no one else.
 *
 * Who may read what. A feature service lists the IAM roles allowed to read it (none listed:
 * any caller the API's IAM policy lets in); a request for a plain feature list is allowed
 * when every feature is in some service the caller may read. pii features — tagged `pii`, or
 * computed from one — are served only through a service that lists them in `piiFeatures`,
 * never in plain lists.
 */
import type { FeatureService, StreamSource } from './definitions.js';
import { AccessDeniedError } from './errors.js';
import { roleOf } from './principal.js';
import { piiReason, type ReadPlan, type Registry } from './registry.js';

/** The caller as API Gateway reports it after SigV4 auth (`requestContext.identity.userArn`). */
export interface Caller {
  readonly arn: string | null;
}

export function mayRead(service: FeatureService, caller: Caller): boolean {
  return allowedBy(allowedRolesOf(service), caller);
}

/** Roles allowed to read a service, as `account:role-name`; null when any caller may. */
function allowedRolesOf(service: FeatureService): ReadonlySet<string> | null {
  if (service.allowedPrincipals.length === 0) return null;
  return rolesOf(service.allowedPrincipals);
}

const rolesOf = (arns: readonly string[]): ReadonlySet<string> => new Set(arns.map(roleOf).filter((role): role is string => role !== null));

/**
 * Throws AccessDeniedError unless the caller may push to `source`: a session of a role in its
 * `allowedWriters` or in `writers` (the deployment's writers to every source). Nobody else —
 * an empty list admits no caller.
 */
export function authorizePush(source: StreamSource, caller: Caller, writers: readonly string[]): void {
  if (allowedBy(rolesOf([...source.allowedWriters, ...writers]), caller)) return;
  throw new AccessDeniedError(`${caller.arn ?? 'an anonymous caller'} may not push to source "${source.name}": list its role in the source's allowedWriters`, {
    source: source.name,
  });
}

function allowedBy(roles: ReadonlySet<string> | null, caller: Caller): boolean {
  if (roles === null) return true;
  const role = caller.arn ? roleOf(caller.arn) : null;
  return role !== null && roles.has(role);
}

/** What authorizing a request needs, derived once per registry: requests cost O(their features), never O(registry). */
interface AccessIndex {
  readonly rolesByService: ReadonlyMap<string, ReadonlySet<string> | null>;
  /** Services that serve each feature, by `view:feature`. */
  readonly servicesByFeature: ReadonlyMap<string, readonly string[]>;
}

const indexes = new WeakMap<Registry, AccessIndex>();

function indexOf(registry: Registry): AccessIndex {
  let index = indexes.get(registry);
  if (!index) {
    const rolesByService = new Map<string, ReadonlySet<string> | null>();
    const servicesByFeature = new Map<string, string[]>();
    for (const service of registry.services.values()) {
      rolesByService.set(service.name, allowedRolesOf(service));
      for (const { ref } of registry.servicePlan(service.name).features) servicesByFeature.set(ref, [...(servicesByFeature.get(ref) ?? []), service.name]);
    }
    index = { rolesByService, servicesByFeature };
    indexes.set(registry, index);
  }
  return index;
}

/** Throws AccessDeniedError, with the reason, unless the caller may read this request's features. */
export function authorize(registry: Registry, caller: Caller, request: { service: string | null; plan: ReadPlan }): void {
  const { rolesByService, servicesByFeature } = indexOf(registry);
  const who = caller.arn ?? 'an anonymous caller';
  if (request.service) {
    const service = registry.service(request.service);
    if (!allowedBy(rolesByService.get(service.name) ?? null, caller)) {
      throw new AccessDeniedError(`${who} may not read feature service "${service.name}"`, { service: service.name });
    }
    return;
  }
  for (const feature of request.plan.features) {
    if (feature.pii) {
      throw new AccessDeniedError(`"${feature.ref}" ${piiReason(feature)}: request it through a feature service that lists it`, { feature: feature.ref });
    }
    const services = servicesByFeature.get(feature.ref) ?? [];
    if (!services.some((name) => allowedBy(rolesByService.get(name) ?? null, caller))) {
      throw new AccessDeniedError(`${who} may not read "${feature.ref}" through any feature service`, { feature: feature.ref });
    }
  }
}

/**
 * What the Lambda bundles leave out, in one place for the construct that builds them and the
 * bench that measures them (no CDK imports, so the bench loads it cheaply).
 *
 * The credential providers the SDK's default chain imports only on demand (SSO, INI, process,
 * web identity, HTTP, IMDS, and the clients they use): a Lambda's credentials are in its
 * environment, which readConfig passes to the clients, so these never load there (and the
 * runtime ships them anyway).
 */
export const LAZY_CREDENTIAL_PROVIDERS: readonly string[] = [
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@aws-sdk/credential-provider-login',
  '@aws-sdk/nested-clients',
  '@aws-sdk/token-providers',
  '@smithy/credential-provider-imds',
];

import { z } from 'zod';
import { generateClientSecret } from '../clients/service.js';
import type { StoredClient } from '../clients/store.js';
import { urlProblem, type UrlKind } from '../clients/urls.js';
import { HttpError } from '../http/errors.js';
import { lockTenant, writeTransaction } from '../storage/transaction.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import type { ManagementDeps } from './plugin.js';
import { fieldsQuery, pagingQuery, pathId, pageOf } from './query.js';
import type { ManagementRouter } from './route.js';

const APP_TYPES = ['native', 'spa', 'regular_web', 'non_interactive'] as const;
const AUTH_METHODS = ['none', 'client_secret_post', 'client_secret_basic'] as const;
/** Auth0's grant type names a client may list; those the engine does not run are kept but ignored (client-metadata.ts). */
const GRANT_TYPES = [
  'authorization_code', 'implicit', 'refresh_token', 'client_credentials', 'password', 'http://auth0.com/oauth/grant-type/password-realm',
  'urn:ietf:params:oauth:grant-type:device_code', 'http://auth0.com/oauth/grant-type/mfa-oob', 'http://auth0.com/oauth/grant-type/mfa-otp',
  'http://auth0.com/oauth/grant-type/mfa-recovery-code', 'urn:ietf:params:oauth:grant-type:token-exchange',
] as const;
const ID_TOKEN_ALGS = ['RS256', 'ES256', 'EdDSA'] as const;

const urlList = (kind: UrlKind) =>
  z
    .array(z.string().max(2048))
    .max(100)
    .superRefine((values, ctx) => {
      for (const [index, value] of values.entries()) {
        const problem = urlProblem(value, kind);
        if (problem) ctx.addIssue({ code: 'custom', path: [index], message: `"${value}" ${problem}` });
      }
    });

const jwtConfiguration = z.strictObject({
  alg: z.enum(ID_TOKEN_ALGS).optional(),
  lifetime_in_seconds: z.number().int().min(60).max(2_592_000).optional(),
  secret_encoded: z.boolean().optional(),
});

/**
 * Refresh-token settings in Auth0's shape. Portcullis always rotates refresh
 * tokens (RFC 9700 §4.14.2), so `non-rotating` is refused rather than stored
 * and ignored; the lifetimes are stored and returned (decision 010).
 */
const refreshTokenSettings = z.strictObject({
  rotation_type: z.literal('rotating').optional(),
  expiration_type: z.enum(['expiring', 'non-expiring']).optional(),
  leeway: z.number().int().min(0).max(3600).optional(),
  token_lifetime: z.number().int().min(1).optional(),
  infinite_token_lifetime: z.boolean().optional(),
  idle_token_lifetime: z.number().int().min(1).optional(),
  infinite_idle_token_lifetime: z.boolean().optional(),
});

const clientMetadata = z.record(z.string().max(255), z.string().max(255)).refine((v) => Object.keys(v).length <= 10, 'at most 10 keys');

/** Fields a caller may set (create and update alike); `name` is required on create. */
const writableFields = {
  description: z.string().max(140).optional(),
  logo_uri: z.url().max(2048).optional(),
  app_type: z.enum(APP_TYPES).optional(),
  is_first_party: z.boolean().optional(),
  oidc_conformant: z.boolean().optional(),
  callbacks: urlList('callback').optional(),
  allowed_logout_urls: urlList('logout').optional(),
  web_origins: urlList('origin').optional(),
  allowed_origins: urlList('origin').optional(),
  grant_types: z.array(z.enum(GRANT_TYPES)).max(20).optional(),
  token_endpoint_auth_method: z.enum(AUTH_METHODS).optional(),
  jwt_configuration: jwtConfiguration.optional(),
  refresh_token: refreshTokenSettings.optional(),
  client_metadata: clientMetadata.optional(),
  sso_disabled: z.boolean().optional(),
  cross_origin_auth: z.boolean().optional(),
  /** Auth0's "Trust Token Endpoint IP Header": believe `auth0-forwarded-for` on password grants (first-party clients with a secret only; src/protection/client-ip.ts). */
  token_endpoint_ip_header_trusted: z.boolean().optional(),
};

const name = z.string().trim().min(1).max(255).regex(/^[^<>]+$/, 'must not contain < or >');
const createBody = z.strictObject({ name, ...writableFields });
const updateBody = z.strictObject({ name: name.optional(), ...writableFields });
type Writable = z.infer<typeof updateBody>;

/** The client object in Auth0's shape. `client_secret` is present only on create and rotate-secret. */
export const clientSchema = z.object({
  client_id: z.string(),
  tenant: z.string(),
  name: z.string(),
  description: z.string().optional(),
  logo_uri: z.string().optional(),
  app_type: z.enum(APP_TYPES).optional(),
  is_first_party: z.boolean(),
  oidc_conformant: z.boolean(),
  callbacks: z.array(z.string()),
  allowed_logout_urls: z.array(z.string()),
  web_origins: z.array(z.string()),
  allowed_origins: z.array(z.string()),
  grant_types: z.array(z.string()),
  token_endpoint_auth_method: z.string(),
  jwt_configuration: z.object({ alg: z.string().optional(), lifetime_in_seconds: z.number().optional(), secret_encoded: z.boolean().optional() }),
  refresh_token: z.object({
    rotation_type: z.string(),
    expiration_type: z.string(),
    leeway: z.number().optional(),
    token_lifetime: z.number().optional(),
    infinite_token_lifetime: z.boolean().optional(),
    idle_token_lifetime: z.number().optional(),
    infinite_idle_token_lifetime: z.boolean().optional(),
  }),
  client_metadata: z.record(z.string(), z.string()),
  sso_disabled: z.boolean(),
  cross_origin_auth: z.boolean(),
  token_endpoint_ip_header_trusted: z.boolean(),
  global: z.boolean(),
  callback_url_template: z.boolean(),
  custom_login_page_on: z.boolean(),
  client_secret: z.string().optional(),
});
type ClientBody = z.infer<typeof clientSchema>;

/** Auth0's defaults for grant types by application type. */
const DEFAULT_GRANTS: Record<(typeof APP_TYPES)[number], string[]> = {
  non_interactive: ['client_credentials'],
  spa: ['authorization_code', 'refresh_token'],
  native: ['authorization_code', 'refresh_token'],
  regular_web: ['authorization_code', 'refresh_token', 'client_credentials'],
};

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
const asObject = (value: unknown): Record<string, unknown> => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

/** A stored client as Auth0's client object. */
export function toClientBody(tenantName: string, client: StoredClient, secret?: string): ClientBody {
  const config = client.config;
  const appType = APP_TYPES.find((t) => t === client.appType);
  const jwt = asObject(config.jwt_configuration);
  const refresh = asObject(config.refresh_token);
  return {
    client_id: client.clientId,
    tenant: tenantName,
    name: client.name,
    ...(typeof config.description === 'string' ? { description: config.description } : {}),
    ...(typeof config.logo_uri === 'string' ? { logo_uri: config.logo_uri } : {}),
    ...(appType ? { app_type: appType } : {}),
    is_first_party: client.isFirstParty,
    oidc_conformant: config.oidc_conformant !== false,
    callbacks: strings(config.callbacks),
    allowed_logout_urls: strings(config.allowed_logout_urls),
    web_origins: strings(config.web_origins),
    allowed_origins: strings(config.allowed_origins),
    grant_types: Array.isArray(config.grant_types) ? strings(config.grant_types) : [...(DEFAULT_GRANTS[appType ?? 'regular_web'] ?? [])],
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    jwt_configuration: { alg: typeof jwt.alg === 'string' ? jwt.alg : 'RS256', ...jwt },
    refresh_token: { rotation_type: 'rotating', expiration_type: 'expiring', token_lifetime: 2_592_000, ...refresh },
    client_metadata: Object.fromEntries(Object.entries(asObject(config.client_metadata)).filter((e): e is [string, string] => typeof e[1] === 'string')),
    sso_disabled: config.sso_disabled === true,
    cross_origin_auth: config.cross_origin_auth === true,
    token_endpoint_ip_header_trusted: config.token_endpoint_ip_header_trusted === true,
    global: false,
    callback_url_template: false,
    custom_login_page_on: true,
    ...(secret !== undefined ? { client_secret: secret } : {}),
  };
}

/** The parts of a request body kept in the client's `config` (everything but the real columns). */
const COLUMN_FIELDS = new Set(['name', 'app_type', 'is_first_party', 'token_endpoint_auth_method']);

function configChanges(body: Writable): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([k, v]) => v !== undefined && !COLUMN_FIELDS.has(k)));
}

const secretMethod = (method: string) => method === 'client_secret_post' || method === 'client_secret_basic';

function checkAlg(body: Writable, tenantAlg: string): void {
  const alg = body.jwt_configuration?.alg;
  if (alg !== undefined && alg !== tenantAlg) {
    throw new HttpError(400, `Payload validation error: 'jwt_configuration.alg must be the tenant's signing algorithm (${tenantAlg})'.`, 'invalid_body');
  }
}

const notFound = () => new HttpError(404, 'The client does not exist', 'inexistent_client');

/** `/api/v2/clients` and `/api/v2/clients/{id}/rotate-secret`. */
export function registerClientRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const { database, services } = deps;
  const stores = (tenantId: string) => tenantStores(database.db, tenantId, services.runtime);
  const params = z.strictObject({ id: pathId });

  router.add({
    method: 'GET',
    path: '/clients',
    summary: 'Get clients',
    scopes: ['read:clients'],
    query: z.object({ ...pagingQuery, ...fieldsQuery, app_type: z.string().max(200).optional(), is_first_party: z.enum(['true', 'false']).optional() }),
    list: { key: 'clients', item: clientSchema },
    async handler({ query, tenant }) {
      const appTypes = query.app_type ? new Set(query.app_type.split(',')) : undefined;
      const firstParty = query.is_first_party === undefined ? undefined : query.is_first_party === 'true';
      const all = (await stores(tenant.id).clients.list({ offset: 0, limit: 10_000 })).filter(
        (c) => (!appTypes || appTypes.has(c.appType ?? '')) && (firstParty === undefined || c.isFirstParty === firstParty),
      );
      return pageOf(all, query, (c) => toClientBody(tenant.name, c));
    },
  });

  router.add({
    method: 'GET',
    path: '/clients/:id',
    summary: 'Get a client',
    scopes: ['read:clients'],
    params,
    query: z.object(fieldsQuery),
    response: clientSchema,
    async handler({ params: { id }, tenant }) {
      const client = await stores(tenant.id).clients.findById(id);
      if (!client) throw notFound();
      return toClientBody(tenant.name, client);
    },
  });

  router.add({
    method: 'POST',
    path: '/clients',
    summary: 'Create a client',
    scopes: ['create:clients'],
    body: createBody,
    status: 201,
    audit: 'Create client',
    response: clientSchema,
    async handler({ body, tenant }) {
      checkAlg(body, tenant.settings.signing_alg);
      const appType = body.app_type ?? 'regular_web';
      const created = await services.clients.create(tenant.id, {
        name: body.name,
        appType,
        isFirstParty: body.is_first_party ?? true,
        tokenEndpointAuthMethod: body.token_endpoint_auth_method ?? (appType === 'spa' || appType === 'native' ? 'none' : 'client_secret_post'),
        config: { grant_types: DEFAULT_GRANTS[appType], ...configChanges(body) },
      });
      const client = await stores(tenant.id).clients.findById(created.clientId);
      if (!client) throw new Error('client vanished after create');
      return toClientBody(tenant.name, client, created.clientSecret);
    },
  });

  router.add({
    method: 'PATCH',
    path: '/clients/:id',
    summary: 'Update a client',
    scopes: ['update:clients'],
    params,
    body: updateBody,
    audit: 'Update client',
    response: clientSchema,
    async handler({ params: { id }, body, tenant }) {
      checkAlg(body, tenant.settings.signing_alg);
      const existing = await stores(tenant.id).clients.findById(id);
      if (!existing) throw notFound();
      if (existing.isSystem) throw new HttpError(403, 'The Portcullis CLI client is managed by `portcullis admin-client` and cannot be changed here', 'operation_not_supported');
      const method = body.token_endpoint_auth_method ?? existing.tokenEndpointAuthMethod;
      // Moving to a secret-based method needs a secret: one is generated and shown in this answer.
      const newSecret = secretMethod(method) && existing.secretSealed === null ? generateClientSecret() : undefined;
      const sealed = newSecret !== undefined ? await services.clients.sealSecret(tenant.id, id, newSecret) : undefined;
      const updated = await writeTransaction(database, async (trx) => {
        // The config is merged with what is stored now, under the tenant lock, so two
        // concurrent PATCHes of one client cannot drop each other's fields.
        await lockTenant(database, trx, tenant.id);
        const clients = tenantStores(trx, tenant.id, services.runtime).clients;
        const current = await clients.findById(id);
        if (!current) return undefined;
        await clients.update(id, {
          ...(body.name !== undefined ? { name: body.name } : {}),
          ...(body.app_type !== undefined ? { appType: body.app_type } : {}),
          ...(body.is_first_party !== undefined ? { isFirstParty: body.is_first_party } : {}),
          ...(body.token_endpoint_auth_method !== undefined ? { tokenEndpointAuthMethod: body.token_endpoint_auth_method } : {}),
          ...(sealed !== undefined ? { secretSealed: sealed } : {}),
          ...(method === 'none' ? { secretSealed: null } : {}),
          config: { ...current.config, ...configChanges(body) },
        });
        return clients.findById(id);
      });
      if (!updated) throw notFound();
      return toClientBody(tenant.name, updated, newSecret);
    },
  });

  router.add({
    method: 'DELETE',
    path: '/clients/:id',
    summary: 'Delete a client',
    scopes: ['delete:clients'],
    params,
    status: 204,
    audit: 'Delete client',
    async handler({ params: { id }, tenant }) {
      const existing = await stores(tenant.id).clients.findById(id);
      if (!existing) throw notFound();
      if (existing.isSystem) throw new HttpError(403, 'The Portcullis CLI client is managed by `portcullis admin-client` and cannot be deleted here', 'operation_not_supported');
      // Its grants, client grants and connection links go with it (foreign keys); its tokens stop
      // working as soon as the engines' client cache forgets it (TENANT_CACHE_TTL_MS).
      await stores(tenant.id).clients.delete(id);
      return undefined;
    },
  });

  router.add({
    method: 'POST',
    path: '/clients/:id/rotate-secret',
    summary: "Rotate a client's secret",
    scopes: ['update:client_keys'],
    params,
    audit: 'Rotate client secret',
    response: clientSchema,
    async handler({ params: { id }, tenant }) {
      const existing = await stores(tenant.id).clients.findById(id);
      if (!existing) throw notFound();
      if (existing.isSystem) throw new HttpError(403, 'The Portcullis CLI client is managed by `portcullis admin-client`', 'operation_not_supported');
      const secret = await services.clients.rotateSecret(tenant.id, id);
      if (secret === undefined) throw new HttpError(400, 'The client does not authenticate with a secret', 'invalid_body');
      const client = await stores(tenant.id).clients.findById(id);
      if (!client) throw notFound();
      return toClientBody(tenant.name, client, secret);
    },
  });
}

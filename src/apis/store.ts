import { decodeBool, decodeJson, encodeJson } from '../storage/codec.js';
import { isoNow, type Runtime } from '../storage/runtime.js';
import type { Executor } from '../storage/transaction.js';

/** A resource server (an API) in Auth0's terms; `identifier` is the `audience`. */
export interface ResourceServer {
  readonly id: string;
  readonly identifier: string;
  readonly name: string;
  readonly isSystem: boolean;
  readonly signingAlg: string;
  readonly tokenLifetime: number;
  readonly enforcePolicies: boolean;
  readonly tokenDialect: string;
  readonly allowOfflineAccess: boolean;
  readonly skipConsentForVerifiableFirstPartyClients: boolean;
  readonly scopes: readonly ApiScope[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface ApiScope {
  readonly value: string;
  readonly description: string | null;
}

export interface NewResourceServer {
  readonly identifier: string;
  readonly name: string;
  readonly isSystem?: boolean;
  readonly signingAlg?: string;
  readonly tokenLifetime?: number;
  readonly enforcePolicies?: boolean;
  readonly tokenDialect?: string;
  readonly allowOfflineAccess?: boolean;
  readonly skipConsentForVerifiableFirstPartyClients?: boolean;
  readonly scopes?: readonly ApiScope[];
}

/** What a PATCH may change; `scopes`, when given, replaces the whole array (Auth0). */
export interface ResourceServerChanges {
  readonly name?: string;
  readonly signingAlg?: string;
  readonly tokenLifetime?: number;
  readonly enforcePolicies?: boolean;
  readonly tokenDialect?: string;
  readonly allowOfflineAccess?: boolean;
  readonly skipConsentForVerifiableFirstPartyClients?: boolean;
  readonly scopes?: readonly ApiScope[];
}

const COLUMNS = [
  'id', 'identifier', 'name', 'is_system', 'signing_alg', 'token_lifetime', 'enforce_policies', 'token_dialect',
  'allow_offline_access', 'skip_consent_for_verifiable_first_party_clients', 'created_at', 'updated_at',
] as const;

export function resourceServersStore(db: Executor, tenantId: string, runtime: Runtime) {
  async function scopesOf(ids: readonly string[]): Promise<Map<string, ApiScope[]>> {
    const byId = new Map<string, ApiScope[]>(ids.map((id) => [id, []]));
    if (ids.length === 0) return byId;
    const rows = await db.selectFrom('resource_server_scopes').select(['resource_server_id', 'value', 'description']).where('resource_server_id', 'in', ids).orderBy('value').execute();
    for (const row of rows) byId.get(row.resource_server_id)?.push({ value: row.value, description: row.description });
    return byId;
  }

  async function hydrate(rows: ReadonlyArray<Record<(typeof COLUMNS)[number], unknown>>): Promise<ResourceServer[]> {
    const scopes = await scopesOf(rows.map((r) => r.id as string));
    return rows.map((r) => ({
      id: r.id as string,
      identifier: r.identifier as string,
      name: r.name as string,
      isSystem: decodeBool(r.is_system as boolean | number),
      signingAlg: r.signing_alg as string,
      tokenLifetime: Number(r.token_lifetime),
      enforcePolicies: decodeBool(r.enforce_policies as boolean | number),
      tokenDialect: r.token_dialect as string,
      allowOfflineAccess: decodeBool(r.allow_offline_access as boolean | number),
      skipConsentForVerifiableFirstPartyClients: decodeBool(r.skip_consent_for_verifiable_first_party_clients as boolean | number),
      scopes: scopes.get(r.id as string) ?? [],
      createdAt: r.created_at as string,
      updatedAt: r.updated_at as string,
    }));
  }

  async function writeScopes(resourceServerId: string, scopes: readonly ApiScope[]): Promise<void> {
    await db.deleteFrom('resource_server_scopes').where('resource_server_id', '=', resourceServerId).execute();
    if (scopes.length === 0) return;
    await db
      .insertInto('resource_server_scopes')
      .values(scopes.map((s) => ({ resource_server_id: resourceServerId, value: s.value, description: s.description })))
      .execute();
  }

  async function findById(id: string): Promise<ResourceServer | undefined> {
    const row = await db.selectFrom('resource_servers').select(COLUMNS).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row ? (await hydrate([row]))[0] : undefined;
  }

  return {
    /** Inserts an API and its scopes; call inside a write transaction. */
    async insert(input: NewResourceServer): Promise<ResourceServer> {
      const now = isoNow(runtime);
      const id = runtime.randomId('', 12);
      await db
        .insertInto('resource_servers')
        .values({
          id,
          tenant_id: tenantId,
          identifier: input.identifier,
          name: input.name,
          is_system: input.isSystem ?? false,
          signing_alg: input.signingAlg ?? 'RS256',
          token_lifetime: input.tokenLifetime ?? 86400,
          enforce_policies: input.enforcePolicies ?? false,
          token_dialect: input.tokenDialect ?? 'access_token',
          allow_offline_access: input.allowOfflineAccess ?? false,
          skip_consent_for_verifiable_first_party_clients: input.skipConsentForVerifiableFirstPartyClients ?? true,
          config: encodeJson({}),
          created_at: now,
          updated_at: now,
        })
        .execute();
      await writeScopes(id, input.scopes ?? []);
      return (await findById(id)) as ResourceServer;
    },

    findById,

    async findByIdentifier(identifier: string): Promise<ResourceServer | undefined> {
      const row = await db.selectFrom('resource_servers').select(COLUMNS).where('tenant_id', '=', tenantId).where('identifier', '=', identifier).executeTakeFirst();
      return row ? (await hydrate([row]))[0] : undefined;
    },

    async list(): Promise<ResourceServer[]> {
      const rows = await db.selectFrom('resource_servers').select(COLUMNS).where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute();
      return hydrate(rows);
    },

    /** Replaces the API's scopes (Auth0's PATCH replaces the whole array). */
    async setScopes(id: string, scopes: readonly ApiScope[]): Promise<void> {
      const exists = await db.selectFrom('resource_servers').select('id').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      if (!exists) return;
      await writeScopes(id, scopes);
      await db.updateTable('resource_servers').set({ updated_at: isoNow(runtime) }).where('id', '=', id).execute();
    },

    /**
     * Changes the settings of one of this tenant's APIs (the identifier never
     * changes: it is the audience of issued tokens). Returns false when the API
     * is not this tenant's. With `scopes`, call inside a write transaction.
     */
    async update(id: string, changes: ResourceServerChanges): Promise<boolean> {
      const set = {
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.signingAlg !== undefined ? { signing_alg: changes.signingAlg } : {}),
        ...(changes.tokenLifetime !== undefined ? { token_lifetime: changes.tokenLifetime } : {}),
        ...(changes.enforcePolicies !== undefined ? { enforce_policies: changes.enforcePolicies } : {}),
        ...(changes.tokenDialect !== undefined ? { token_dialect: changes.tokenDialect } : {}),
        ...(changes.allowOfflineAccess !== undefined ? { allow_offline_access: changes.allowOfflineAccess } : {}),
        ...(changes.skipConsentForVerifiableFirstPartyClients !== undefined ? { skip_consent_for_verifiable_first_party_clients: changes.skipConsentForVerifiableFirstPartyClients } : {}),
        updated_at: isoNow(runtime),
      };
      const result = await db.updateTable('resource_servers').set(set).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      if (changes.scopes !== undefined) await writeScopes(id, changes.scopes);
      return true;
    },

    /** The identifier of the tenant's system API (the Management API), without loading its scopes. */
    async systemApiIdentifier(): Promise<string | undefined> {
      const row = await db.selectFrom('resource_servers').select('identifier').where('tenant_id', '=', tenantId).where('is_system', '=', true).executeTakeFirst();
      return row?.identifier;
    },

    /**
     * Moves the tenant's system API (the Management API) to a new identifier,
     * with the audience of the client grants that refer to it. Call inside a
     * write transaction. Returns whether anything changed.
     */
    async renameSystemApi(identifier: string): Promise<boolean> {
      const api = await db.selectFrom('resource_servers').select(['id', 'identifier']).where('tenant_id', '=', tenantId).where('is_system', '=', true).executeTakeFirst();
      if (!api || api.identifier === identifier) return false;
      const now = isoNow(runtime);
      await db.updateTable('resource_servers').set({ identifier, updated_at: now }).where('id', '=', api.id).execute();
      await db.updateTable('client_grants').set({ audience: identifier, updated_at: now }).where('tenant_id', '=', tenantId).where('resource_server_id', '=', api.id).execute();
      return true;
    },

    async delete(id: string): Promise<boolean> {
      const result = await db.deleteFrom('resource_servers').where('tenant_id', '=', tenantId).where('id', '=', id).where('is_system', '=', false).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}

export type ResourceServersStore = ReturnType<typeof resourceServersStore>;

export interface ClientGrant {
  readonly id: string;
  readonly clientId: string;
  readonly audience: string;
  readonly scope: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

const GRANT_COLUMNS = ['id', 'client_id', 'audience', 'scope', 'created_at', 'updated_at'] as const;

function toGrant(row: { id: string; client_id: string; audience: string; scope: unknown; created_at: string; updated_at: string }): ClientGrant {
  return { id: row.id, clientId: row.client_id, audience: row.audience, scope: decodeJson<string[]>(row.scope, []), createdAt: row.created_at, updatedAt: row.updated_at };
}

/** Which scopes of which API a machine client may obtain (client_credentials). */
export function clientGrantsStore(db: Executor, tenantId: string, runtime: Runtime) {
  return {
    /** Inserts a grant for an API of this tenant; undefined when the client or API is not this tenant's. */
    async insert(input: { clientId: string; audience: string; scope: readonly string[] }): Promise<ClientGrant | undefined> {
      const api = await db.selectFrom('resource_servers').select('id').where('tenant_id', '=', tenantId).where('identifier', '=', input.audience).executeTakeFirst();
      const client = await db.selectFrom('clients').select('client_id').where('tenant_id', '=', tenantId).where('client_id', '=', input.clientId).executeTakeFirst();
      if (!api || !client) return undefined;
      const now = isoNow(runtime);
      const id = runtime.randomId('cgr_', 16, 'alnum');
      await db
        .insertInto('client_grants')
        .values({ id, tenant_id: tenantId, client_id: input.clientId, resource_server_id: api.id, audience: input.audience, scope: encodeJson(input.scope), created_at: now, updated_at: now })
        .execute();
      return { id, clientId: input.clientId, audience: input.audience, scope: [...input.scope], createdAt: now, updatedAt: now };
    },

    async findById(id: string): Promise<ClientGrant | undefined> {
      const row = await db.selectFrom('client_grants').select(GRANT_COLUMNS).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return row && toGrant(row);
    },

    /** The tenant's grants, optionally of one client and/or one API, by creation time (then id). */
    async list(filter: { clientId?: string; audience?: string } = {}): Promise<ClientGrant[]> {
      let query = db.selectFrom('client_grants').select(GRANT_COLUMNS).where('tenant_id', '=', tenantId);
      if (filter.clientId !== undefined) query = query.where('client_id', '=', filter.clientId);
      if (filter.audience !== undefined) query = query.where('audience', '=', filter.audience);
      const rows = await query.orderBy('created_at').orderBy('id').execute();
      return rows.map(toGrant);
    },

    async find(clientId: string, audience: string): Promise<ClientGrant | undefined> {
      const row = await db.selectFrom('client_grants').select(GRANT_COLUMNS).where('tenant_id', '=', tenantId).where('client_id', '=', clientId).where('audience', '=', audience).executeTakeFirst();
      return row && toGrant(row);
    },

    async listByClient(clientId: string): Promise<ClientGrant[]> {
      const rows = await db.selectFrom('client_grants').select(GRANT_COLUMNS).where('tenant_id', '=', tenantId).where('client_id', '=', clientId).orderBy('created_at').execute();
      return rows.map(toGrant);
    },

    async updateScope(id: string, scope: readonly string[]): Promise<boolean> {
      const result = await db.updateTable('client_grants').set({ scope: encodeJson(scope), updated_at: isoNow(runtime) }).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async delete(id: string): Promise<boolean> {
      const result = await db.deleteFrom('client_grants').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}

export type ClientGrantsStore = ReturnType<typeof clientGrantsStore>;

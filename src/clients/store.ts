import { decodeBool, decodeJson, encodeJson } from '../storage/codec.js';
import { isoNow, type Runtime } from '../storage/runtime.js';
import type { Executor } from '../storage/transaction.js';

/**
 * An application. The columns the engine filters on are real columns; the rest
 * of Auth0's client object (callbacks, grant_types, jwt_configuration, …) is
 * kept in `config`. The secret is stored sealed (see SecretBox), never in
 * plain text: HS256 ID tokens and client_secret_jwt need the secret itself,
 * so it is encrypted rather than hashed.
 */
export interface StoredClient {
  readonly clientId: string;
  readonly name: string;
  readonly appType: string | null;
  readonly isFirstParty: boolean;
  readonly isSystem: boolean;
  readonly tokenEndpointAuthMethod: string;
  readonly secretSealed: string | null;
  readonly config: Record<string, unknown>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface NewClient {
  readonly clientId: string;
  readonly name: string;
  readonly appType: string | null;
  readonly isFirstParty: boolean;
  readonly isSystem?: boolean;
  readonly tokenEndpointAuthMethod: string;
  readonly secretSealed: string | null;
  readonly config?: Record<string, unknown>;
}

const COLUMNS = ['client_id', 'name', 'app_type', 'is_first_party', 'is_system', 'token_endpoint_auth_method', 'secret_enc', 'config', 'created_at', 'updated_at'] as const;

type Row = {
  client_id: string;
  name: string;
  app_type: string | null;
  is_first_party: boolean | number;
  is_system: boolean | number;
  token_endpoint_auth_method: string;
  secret_enc: string | null;
  config: unknown;
  created_at: string;
  updated_at: string;
};

function toClient(row: Row): StoredClient {
  return {
    clientId: row.client_id,
    name: row.name,
    appType: row.app_type,
    isFirstParty: decodeBool(row.is_first_party),
    isSystem: decodeBool(row.is_system),
    tokenEndpointAuthMethod: row.token_endpoint_auth_method,
    secretSealed: row.secret_enc,
    config: decodeJson<Record<string, unknown>>(row.config, {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function clientsStore(db: Executor, tenantId: string, runtime: Runtime) {
  return {
    async insert(client: NewClient): Promise<StoredClient> {
      const now = isoNow(runtime);
      await db
        .insertInto('clients')
        .values({
          client_id: client.clientId,
          tenant_id: tenantId,
          name: client.name,
          app_type: client.appType,
          is_first_party: client.isFirstParty,
          is_system: client.isSystem ?? false,
          token_endpoint_auth_method: client.tokenEndpointAuthMethod,
          secret_enc: client.secretSealed,
          config: encodeJson(client.config ?? {}),
          created_at: now,
          updated_at: now,
        })
        .execute();
      return { ...client, isSystem: client.isSystem ?? false, config: client.config ?? {}, createdAt: now, updatedAt: now };
    },

    async findById(clientId: string): Promise<StoredClient | undefined> {
      const row = await db.selectFrom('clients').select(COLUMNS).where('tenant_id', '=', tenantId).where('client_id', '=', clientId).executeTakeFirst();
      return row && toClient(row);
    },

    async findSystemByName(name: string): Promise<StoredClient | undefined> {
      const row = await db
        .selectFrom('clients')
        .select(COLUMNS)
        .where('tenant_id', '=', tenantId)
        .where('is_system', '=', true)
        .where('name', '=', name)
        .executeTakeFirst();
      return row && toClient(row);
    },

    async list(page: { offset: number; limit: number }): Promise<StoredClient[]> {
      const rows = await db
        .selectFrom('clients')
        .select(COLUMNS)
        .where('tenant_id', '=', tenantId)
        .orderBy('created_at')
        .orderBy('client_id')
        .offset(page.offset)
        .limit(page.limit)
        .execute();
      return rows.map(toClient);
    },

    async count(): Promise<number> {
      const row = await db.selectFrom('clients').select((eb) => eb.fn.countAll<number>().as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
      return Number(row.n);
    },

    /** Changes the named columns and replaces `config` when given; false when the client is not this tenant's. */
    async update(clientId: string, changes: { name?: string; appType?: string | null; isFirstParty?: boolean; tokenEndpointAuthMethod?: string; secretSealed?: string | null; config?: Record<string, unknown> }): Promise<boolean> {
      const set: Record<string, unknown> = { updated_at: isoNow(runtime) };
      if (changes.name !== undefined) set.name = changes.name;
      if (changes.appType !== undefined) set.app_type = changes.appType;
      if (changes.isFirstParty !== undefined) set.is_first_party = changes.isFirstParty;
      if (changes.tokenEndpointAuthMethod !== undefined) set.token_endpoint_auth_method = changes.tokenEndpointAuthMethod;
      if (changes.secretSealed !== undefined) set.secret_enc = changes.secretSealed;
      if (changes.config !== undefined) set.config = encodeJson(changes.config);
      const result = await db.updateTable('clients').set(set).where('tenant_id', '=', tenantId).where('client_id', '=', clientId).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async setSecret(clientId: string, secretSealed: string): Promise<boolean> {
      const result = await db
        .updateTable('clients')
        .set({ secret_enc: secretSealed, updated_at: isoNow(runtime) })
        .where('tenant_id', '=', tenantId)
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async delete(clientId: string): Promise<boolean> {
      const result = await db.deleteFrom('clients').where('tenant_id', '=', tenantId).where('client_id', '=', clientId).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}

export type ClientsStore = ReturnType<typeof clientsStore>;

import { decodeJson, encodeJson } from '../storage/codec.js';
import { isoNow, type Runtime } from '../storage/runtime.js';
import type { Executor } from '../storage/transaction.js';

export const DEFAULT_DATABASE_CONNECTION = 'Username-Password-Authentication';

export interface Connection {
  readonly id: string;
  readonly name: string;
  readonly strategy: string;
  readonly options: Record<string, unknown>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

const COLUMNS = ['id', 'name', 'strategy', 'options', 'created_at', 'updated_at'] as const;

function toConnection(row: { id: string; name: string; strategy: string; options: unknown; created_at: string; updated_at: string }): Connection {
  return { id: row.id, name: row.name, strategy: row.strategy, options: decodeJson<Record<string, unknown>>(row.options, {}), createdAt: row.created_at, updatedAt: row.updated_at };
}

export function connectionsStore(db: Executor, tenantId: string, runtime: Runtime) {
  return {
    async insert(input: { name: string; strategy: string; options?: Record<string, unknown> }): Promise<Connection> {
      const now = isoNow(runtime);
      const id = runtime.randomId('con_', 16, 'alnum');
      const options = input.options ?? {};
      await db
        .insertInto('connections')
        .values({ id, tenant_id: tenantId, name: input.name, strategy: input.strategy, options: encodeJson(options), created_at: now, updated_at: now })
        .execute();
      return { id, name: input.name, strategy: input.strategy, options, createdAt: now, updatedAt: now };
    },

    async findById(id: string): Promise<Connection | undefined> {
      const row = await db.selectFrom('connections').select(COLUMNS).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return row && toConnection(row);
    },

    async findByName(name: string): Promise<Connection | undefined> {
      const row = await db.selectFrom('connections').select(COLUMNS).where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
      return row && toConnection(row);
    },

    async list(): Promise<Connection[]> {
      const rows = await db.selectFrom('connections').select(COLUMNS).where('tenant_id', '=', tenantId).orderBy('name').execute();
      return rows.map(toConnection);
    },

    async updateOptions(id: string, options: Record<string, unknown>): Promise<boolean> {
      const result = await db.updateTable('connections').set({ options: encodeJson(options), updated_at: isoNow(runtime) }).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Enables a client of this tenant on a connection of this tenant (idempotent). */
    async enableClient(connectionId: string, clientId: string): Promise<boolean> {
      const connection = await db.selectFrom('connections').select('id').where('tenant_id', '=', tenantId).where('id', '=', connectionId).executeTakeFirst();
      const client = await db.selectFrom('clients').select('client_id').where('tenant_id', '=', tenantId).where('client_id', '=', clientId).executeTakeFirst();
      if (!connection || !client) return false;
      await db.insertInto('connection_clients').values({ connection_id: connectionId, client_id: clientId }).onConflict((oc) => oc.doNothing()).execute();
      return true;
    },

    async disableClient(connectionId: string, clientId: string): Promise<void> {
      await db
        .deleteFrom('connection_clients')
        .where('connection_id', 'in', db.selectFrom('connections').select('id').where('tenant_id', '=', tenantId).where('id', '=', connectionId))
        .where('client_id', '=', clientId)
        .execute();
    },

    async enabledClients(connectionId: string): Promise<string[]> {
      const rows = await db
        .selectFrom('connection_clients')
        .innerJoin('connections', 'connections.id', 'connection_clients.connection_id')
        .select('connection_clients.client_id')
        .where('connections.tenant_id', '=', tenantId)
        .where('connections.id', '=', connectionId)
        .orderBy('connection_clients.client_id')
        .execute();
      return rows.map((r) => r.client_id);
    },

    /**
     * Makes `clientIds` exactly the connection's enabled clients. Returns
     * 'no_connection' or the ids that are not clients of this tenant (and
     * then changes nothing). Run it in a write transaction: it reads, deletes
     * and inserts.
     */
    async replaceEnabledClients(connectionId: string, clientIds: readonly string[]): Promise<{ ok: true } | { ok: false; missing: 'no_connection' | readonly string[] }> {
      const connection = await db.selectFrom('connections').select('id').where('tenant_id', '=', tenantId).where('id', '=', connectionId).executeTakeFirst();
      if (!connection) return { ok: false, missing: 'no_connection' };
      const wanted = [...new Set(clientIds)];
      const found = wanted.length === 0 ? [] : await db.selectFrom('clients').select('client_id').where('tenant_id', '=', tenantId).where('client_id', 'in', wanted).execute();
      const known = new Set(found.map((r) => r.client_id));
      const missing = wanted.filter((id) => !known.has(id));
      if (missing.length > 0) return { ok: false, missing };
      await db.deleteFrom('connection_clients').where('connection_id', '=', connectionId).execute();
      if (wanted.length > 0) await db.insertInto('connection_clients').values(wanted.map((clientId) => ({ connection_id: connectionId, client_id: clientId }))).execute();
      return { ok: true };
    },

    async delete(id: string): Promise<boolean> {
      const result = await db.deleteFrom('connections').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}

export type ConnectionsStore = ReturnType<typeof connectionsStore>;

import type { Executor } from '../storage/transaction.js';
import { decodeBool, decodeJson, encodeJson } from '../storage/codec.js';
import { isoNow, type Runtime } from '../storage/runtime.js';
import { parseTenantSettings, type TenantSettings } from './settings.js';

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly isDefault: boolean;
  readonly settings: TenantSettings;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface TenantDomain {
  readonly domain: string;
  readonly tenantId: string;
  readonly isPrimary: boolean;
}

interface TenantRow {
  id: string;
  name: string;
  is_default: boolean | number;
  settings: unknown;
  created_at: string;
  updated_at: string;
}

function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id,
    name: row.name,
    isDefault: decodeBool(row.is_default),
    settings: parseTenantSettings(decodeJson(row.settings, {})),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const COLUMNS = ['id', 'name', 'is_default', 'settings', 'created_at', 'updated_at'] as const;

/** The registry of tenants: the one store that is not itself tenant-scoped. */
export function tenantsStore(db: Executor, runtime: Runtime) {
  return {
    /** Inserts a tenant and its domains; call inside a write transaction. */
    async insert(input: { id: string; name: string; isDefault: boolean; settings: TenantSettings; domains: readonly string[] }): Promise<Tenant> {
      const now = isoNow(runtime);
      const id = input.id;
      await db
        .insertInto('tenants')
        .values({ id, name: input.name, friendly_name: input.settings.friendly_name ?? null, is_default: input.isDefault, settings: encodeJson(input.settings), created_at: now, updated_at: now })
        .execute();
      for (const [index, domain] of input.domains.entries()) {
        await db.insertInto('tenant_domains').values({ domain, tenant_id: id, is_primary: index === 0, created_at: now }).execute();
      }
      return { id, name: input.name, isDefault: input.isDefault, settings: input.settings, createdAt: now, updatedAt: now };
    },

    async findById(id: string): Promise<Tenant | undefined> {
      const row = await db.selectFrom('tenants').select(COLUMNS).where('id', '=', id).executeTakeFirst();
      return row && toTenant(row);
    },

    async findByName(name: string): Promise<Tenant | undefined> {
      const row = await db.selectFrom('tenants').select(COLUMNS).where('name', '=', name).executeTakeFirst();
      return row && toTenant(row);
    },

    async findDefault(): Promise<Tenant | undefined> {
      const row = await db.selectFrom('tenants').select(COLUMNS).where('is_default', '=', true).executeTakeFirst();
      return row && toTenant(row);
    },

    async findByDomain(domain: string): Promise<Tenant | undefined> {
      const row = await db
        .selectFrom('tenants')
        .innerJoin('tenant_domains', 'tenant_domains.tenant_id', 'tenants.id')
        .select(COLUMNS.map((c) => `tenants.${c}` as const))
        .where('tenant_domains.domain', '=', domain)
        .executeTakeFirst();
      return row && toTenant(row);
    },

    async list(): Promise<Tenant[]> {
      const rows = await db.selectFrom('tenants').select(COLUMNS).orderBy('created_at').orderBy('name').execute();
      return rows.map(toTenant);
    },

    async listDomains(): Promise<TenantDomain[]> {
      const rows = await db.selectFrom('tenant_domains').select(['domain', 'tenant_id', 'is_primary']).orderBy('domain').execute();
      return rows.map((r) => ({ domain: r.domain, tenantId: r.tenant_id, isPrimary: decodeBool(r.is_primary) }));
    },

    /** The tenant's primary domain (or, lacking one, its first), by index. */
    async primaryDomainOf(tenantId: string): Promise<string | undefined> {
      const row = await db
        .selectFrom('tenant_domains')
        .select('domain')
        .where('tenant_id', '=', tenantId)
        .orderBy('is_primary', 'desc')
        .orderBy('domain')
        .executeTakeFirst();
      return row?.domain;
    },

    async domainTaken(domain: string): Promise<boolean> {
      const row = await db.selectFrom('tenant_domains').select('domain').where('domain', '=', domain).executeTakeFirst();
      return row !== undefined;
    },

    async addDomain(tenantId: string, domain: string): Promise<void> {
      await db.insertInto('tenant_domains').values({ domain, tenant_id: tenantId, is_primary: false, created_at: isoNow(runtime) }).execute();
    },

    /** Replaces the tenant's primary domain (the default tenant follows PUBLIC_URL). */
    async replacePrimaryDomain(tenantId: string, domain: string): Promise<void> {
      await db.deleteFrom('tenant_domains').where('tenant_id', '=', tenantId).where('domain', '=', domain).execute();
      const primary = await db.selectFrom('tenant_domains').select('domain').where('tenant_id', '=', tenantId).where('is_primary', '=', true).executeTakeFirst();
      if (primary) await db.updateTable('tenant_domains').set({ domain }).where('domain', '=', primary.domain).execute();
      else await db.insertInto('tenant_domains').values({ domain, tenant_id: tenantId, is_primary: true, created_at: isoNow(runtime) }).execute();
    },

    async updateSettings(tenantId: string, settings: TenantSettings): Promise<void> {
      await db
        .updateTable('tenants')
        .set((eb) => ({ settings: encodeJson(settings), friendly_name: settings.friendly_name ?? null, config_version: eb('config_version', '+', 1), updated_at: isoNow(runtime) }))
        .where('id', '=', tenantId)
        .execute();
    },

    /** Marks the tenant's engine configuration changed; call in the changing transaction. */
    async bumpConfigVersion(tenantId: string): Promise<void> {
      await db
        .updateTable('tenants')
        .set((eb) => ({ config_version: eb('config_version', '+', 1), updated_at: isoNow(runtime) }))
        .where('id', '=', tenantId)
        .execute();
    },

    /** Current config version of every tenant (one small read, polled by nodes). */
    async configVersions(): Promise<Map<string, number>> {
      const rows = await db.selectFrom('tenants').select(['id', 'config_version']).execute();
      return new Map(rows.map((r) => [r.id, Number(r.config_version)]));
    },

    async count(): Promise<number> {
      const row = await db.selectFrom('tenants').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}

export type TenantsStore = ReturnType<typeof tenantsStore>;

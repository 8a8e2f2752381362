import type { Config } from '../config/config.js';
import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import type { SigningAlg } from '../keys/generate.js';
import type { KeysService } from '../keys/service.js';
import { MANAGEMENT_API_NAME, MANAGEMENT_SCOPES, managementAudience } from '../management/scopes.js';
import type { Database } from '../storage/database.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { Runtime } from '../storage/runtime.js';
import { lockTenant, writeTransaction } from '../storage/transaction.js';
import { normalizeDomain, TenantInputError, validateTenantName } from './domain.js';
import { tenantIssuer } from './issuer.js';
import { parseTenantSettings } from './settings.js';
import { tenantsStore, type Tenant } from './store.js';
import { tenantStores } from './tenant-stores.js';

export const DEFAULT_TENANT_NAME = 'default';

export interface CreateTenantInput {
  readonly name: string;
  readonly domains: readonly string[];
  readonly isDefault?: boolean;
  readonly signingAlg?: SigningAlg;
  readonly friendlyName?: string;
}

export function tenantsService(config: Config, database: Database, keys: KeysService, runtime: Runtime) {
  const registry = () => tenantsStore(database.db, runtime);

  async function primaryDomain(tenantId: string): Promise<string | undefined> {
    return registry().primaryDomainOf(tenantId);
  }

  async function issuerOf(tenant: Tenant): Promise<string> {
    return tenantIssuer(config, tenant, await primaryDomain(tenant.id));
  }

  /**
   * Creates a tenant with everything it needs to serve logins: its domains,
   * current and next signing keys, the default database connection and its
   * Management API resource server — all in one transaction, so a failure
   * leaves nothing half-created.
   */
  async function create(input: CreateTenantInput): Promise<Tenant> {
    const name = validateTenantName(input.name);
    const domains = [...new Set(input.domains.map(normalizeDomain))];
    if (domains.length === 0) throw new TenantInputError('a tenant needs at least one domain (--domain <host>)');
    const store = registry();
    if (await store.findByName(name)) throw new TenantInputError(`tenant "${name}" already exists`);
    for (const domain of domains) {
      if (await store.domainTaken(domain)) throw new TenantInputError(`domain "${domain}" already belongs to another tenant`);
    }
    const id = runtime.randomId('ten_', 8);
    const alg = input.signingAlg ?? config.signingAlg;
    const settings = parseTenantSettings({ friendly_name: input.friendlyName ?? name, signing_alg: alg });
    const initialKeys = await keys.prepareInitial(id, alg);
    const isDefault = input.isDefault ?? false;
    const issuer = tenantIssuer(config, { isDefault }, domains[0]);
    try {
      return await writeTransaction(database, async (trx) => {
        const tenant = await tenantsStore(trx, runtime).insert({ id, name, isDefault, settings, domains });
        await keys.insertInitial(trx, id, initialKeys);
        const stores = tenantStores(trx, id, runtime);
        await stores.connections.insert({
          name: DEFAULT_DATABASE_CONNECTION,
          strategy: 'auth0',
          options: { password_complexity_options: { min_length: 12 }, brute_force_protection: true, disable_signup: false, requires_username: false },
        });
        await stores.resourceServers.insert({
          identifier: managementAudience(issuer),
          name: MANAGEMENT_API_NAME,
          isSystem: true,
          signingAlg: 'RS256',
          tokenLifetime: 86400,
          scopes: MANAGEMENT_SCOPES.map((value) => ({ value, description: null })),
        });
        return tenant;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new TenantInputError(`tenant "${name}" or one of its domains already exists`);
      throw error;
    }
  }

  return {
    create,
    issuerOf,
    primaryDomain,
    list: () => registry().list(),
    listDomains: () => registry().listDomains(),
    findByName: (name: string) => registry().findByName(name),

    /**
     * Returns the default tenant, creating it on first start with PUBLIC_URL's
     * host as its domain. Safe when several nodes start at once: the loser of
     * the insert race reads the winner's tenant.
     */
    async ensureDefault(): Promise<{ tenant: Tenant; created: boolean }> {
      const existing = await registry().findDefault();
      if (existing) return { tenant: existing, created: false };
      try {
        const tenant = await create({ name: DEFAULT_TENANT_NAME, domains: [config.publicHost], isDefault: true, friendlyName: 'Portcullis' });
        return { tenant, created: true };
      } catch (error) {
        const winner = await registry().findDefault();
        if (winner) return { tenant: winner, created: false };
        throw error;
      }
    },

    /**
     * Brings stored state in line with the configuration: the default tenant's
     * primary domain is PUBLIC_URL's host, and every tenant's Management API
     * identifier is `<issuer>api/v2/`. Run at start, so that changing
     * PUBLIC_URL moves the default tenant with it. Returns the tenants changed.
     */
    async syncIssuers(): Promise<string[]> {
      const changed: string[] = [];
      for (const tenant of await registry().list()) {
        // Read first: at a normal start nothing has changed, and no tenant
        // should cost a write transaction (or a row lock) for nothing.
        const current = await registry().primaryDomainOf(tenant.id);
        const domain = tenant.isDefault ? config.publicHost : current;
        const audience = managementAudience(tenantIssuer(config, tenant, domain));
        const inStep = current === domain && (await tenantStores(database.db, tenant.id, runtime).resourceServers.systemApiIdentifier()) === audience;
        if (inStep) continue;
        await writeTransaction(database, async (trx) => {
          await lockTenant(database, trx, tenant.id);
          const store = tenantsStore(trx, runtime);
          if (tenant.isDefault && (await store.primaryDomainOf(tenant.id)) !== config.publicHost) {
            const owner = await store.findByDomain(config.publicHost);
            if (owner && owner.id !== tenant.id) {
              throw new TenantInputError(`PUBLIC_URL's host "${config.publicHost}" belongs to tenant "${owner.name}", not to the default tenant`);
            }
            await store.replacePrimaryDomain(tenant.id, config.publicHost);
          }
          await tenantStores(trx, tenant.id, runtime).resourceServers.renameSystemApi(audience);
          await store.bumpConfigVersion(tenant.id);
        });
        changed.push(tenant.name);
      }
      return changed;
    },

    /** The tenant named, or the default tenant when no name is given. */
    async resolve(name: string | undefined): Promise<Tenant> {
      const tenant = name === undefined ? await registry().findDefault() : await registry().findByName(name);
      if (!tenant) throw new TenantInputError(name === undefined ? 'no default tenant exists yet (run portcullis migrate or start once)' : `tenant "${name}" does not exist`);
      return tenant;
    },
  };
}

export type TenantsService = ReturnType<typeof tenantsService>;

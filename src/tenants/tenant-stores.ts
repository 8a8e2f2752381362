import { clientGrantsStore, resourceServersStore } from '../apis/store.js';
import { clientsStore } from '../clients/store.js';
import { connectionsStore } from '../connections/store.js';
import { signingKeysStore } from '../keys/store.js';
import { logsStore } from '../logs/store.js';
import { artifactsStore } from '../oauth/artifact-store.js';
import { rolesStore } from '../roles/store.js';
import type { Runtime } from '../storage/runtime.js';
import type { Executor } from '../storage/transaction.js';
import { usersStore } from '../users/store.js';

/**
 * Every store of one tenant, bound to that tenant's id. Code that holds a
 * TenantStores can only ever read and write that tenant's rows: the filter is
 * added inside each store, not by the caller.
 */
export function tenantStores(db: Executor, tenantId: string, runtime: Runtime) {
  return {
    tenantId,
    signingKeys: signingKeysStore(db, tenantId, runtime),
    clients: clientsStore(db, tenantId, runtime),
    resourceServers: resourceServersStore(db, tenantId, runtime),
    clientGrants: clientGrantsStore(db, tenantId, runtime),
    connections: connectionsStore(db, tenantId, runtime),
    users: usersStore(db, tenantId, runtime),
    roles: rolesStore(db, tenantId, runtime),
    artifacts: artifactsStore(db, tenantId, runtime),
    logs: logsStore(db, tenantId, runtime),
  };
}

export type TenantStores = ReturnType<typeof tenantStores>;

import { randomBytes } from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.js';
import { MANAGEMENT_SCOPES } from '../management/scopes.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import { lockTenant, writeTransaction } from '../storage/transaction.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import type { StoredClient } from './store.js';

export const ADMIN_CLIENT_NAME = 'Portcullis CLI (Management API)';

/** 64 characters of base64url: 384 bits, as long as Auth0's client secrets. */
export function generateClientSecret(): string {
  return randomBytes(48).toString('base64url');
}

const secretContext = (tenantId: string, clientId: string) => `client-secret:${tenantId}:${clientId}`;

const REVEALED_CACHE_SIZE = 1000;

export function clientsService(database: Database, box: SecretBox, runtime: Runtime) {
  // Decrypting costs as much as signing a token, and the engine needs the
  // secret on every client authentication. Keyed by the sealed value itself,
  // so a rotated secret can never be served stale; bounded, in memory only.
  const revealed = new Map<string, string>();

  return {
    /** Decrypts a client's secret (for the engine's client authentication). */
    async revealSecret(tenantId: string, client: StoredClient): Promise<string | undefined> {
      if (client.secretSealed === null) return undefined;
      const key = `${tenantId}:${client.clientId}:${client.secretSealed}`;
      const cached = revealed.get(key);
      if (cached !== undefined) return cached;
      const secret = await box.open(client.secretSealed, secretContext(tenantId, client.clientId));
      if (revealed.size >= REVEALED_CACHE_SIZE) revealed.delete(revealed.keys().next().value as string);
      revealed.set(key, secret);
      return secret;
    },

    /**
     * Creates a client. Clients that authenticate with a secret get a
     * generated one, returned once in plain text and stored sealed; public
     * clients and private_key_jwt clients (which sign with their own key,
     * kept in `config.client_authentication_methods`) get none. `config`
     * carries the rest of Auth0's client object (callbacks, grant_types, …).
     */
    async create(
      tenantId: string,
      input: { name: string; appType: string; isFirstParty?: boolean; tokenEndpointAuthMethod?: string; config?: Record<string, unknown> },
    ): Promise<{ clientId: string; clientSecret: string | undefined }> {
      const clientId = runtime.randomId('', 32, 'alnum');
      const method = input.tokenEndpointAuthMethod ?? (input.appType === 'spa' || input.appType === 'native' ? 'none' : 'client_secret_post');
      const secret = method === 'none' || method === 'private_key_jwt' ? undefined : generateClientSecret();
      await writeTransaction(database, async (trx) => {
        await tenantStores(trx, tenantId, runtime).clients.insert({
          clientId,
          name: input.name,
          appType: input.appType,
          isFirstParty: input.isFirstParty ?? true,
          tokenEndpointAuthMethod: method,
          secretSealed: secret === undefined ? null : await box.seal(secret, secretContext(tenantId, clientId)),
          config: input.config ?? {},
        });
      });
      return { clientId, clientSecret: secret };
    },

    /**
     * Replaces a client's secret with a new generated one (Auth0's
     * rotate-secret); the old one stops working within the engines' client
     * cache bound (TENANT_CACHE_TTL_MS). Undefined when the client does not
     * exist or does not authenticate with a secret.
     */
    async rotateSecret(tenantId: string, clientId: string): Promise<string | undefined> {
      const secret = generateClientSecret();
      const sealed = await box.seal(secret, secretContext(tenantId, clientId));
      return writeTransaction(database, async (trx) => {
        const stores = tenantStores(trx, tenantId, runtime);
        const client = await stores.clients.findById(clientId);
        if (!client || client.tokenEndpointAuthMethod === 'none' || client.tokenEndpointAuthMethod === 'private_key_jwt') return undefined;
        return (await stores.clients.setSecret(clientId, sealed)) ? secret : undefined;
      });
    },

    /** Seals a new secret for a client (when it moves to a secret-based authentication method). */
    sealSecret: (tenantId: string, clientId: string, secret: string) => box.seal(secret, secretContext(tenantId, clientId)),

    /**
     * Creates the tenant's CLI admin client — a machine-to-machine client
     * granted every Management API scope — or, when it exists, rotates its
     * secret and brings its grant up to every scope. Returns the plain secret,
     * which is shown once and stored only sealed.
     */
    async ensureAdminClient(tenantId: string): Promise<{ clientId: string; clientSecret: string; audience: string }> {
      const secret = generateClientSecret();
      return writeTransaction(database, async (trx) => {
        // Two concurrent runs must not create two admin clients.
        await lockTenant(database, trx, tenantId);
        const stores = tenantStores(trx, tenantId, runtime);
        const audience = await stores.resourceServers.systemApiIdentifier();
        if (!audience) throw new Error('the tenant has no Management API resource server');
        let client = await stores.clients.findSystemByName(ADMIN_CLIENT_NAME);
        if (client) {
          await stores.clients.setSecret(client.clientId, await box.seal(secret, secretContext(tenantId, client.clientId)));
        } else {
          const clientId = runtime.randomId('', 32, 'alnum');
          client = await stores.clients.insert({
            clientId,
            name: ADMIN_CLIENT_NAME,
            appType: 'non_interactive',
            isFirstParty: true,
            isSystem: true,
            tokenEndpointAuthMethod: 'client_secret_post',
            secretSealed: await box.seal(secret, secretContext(tenantId, clientId)),
            config: { grant_types: ['client_credentials'] },
          });
        }
        const grant = await stores.clientGrants.find(client.clientId, audience);
        if (grant) await stores.clientGrants.updateScope(grant.id, MANAGEMENT_SCOPES);
        else await stores.clientGrants.insert({ clientId: client.clientId, audience, scope: MANAGEMENT_SCOPES });
        return { clientId: client.clientId, clientSecret: secret, audience };
      });
    },
  };
}

export type ClientsService = ReturnType<typeof clientsService>;

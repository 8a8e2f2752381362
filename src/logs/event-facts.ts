import type { Executor } from '../storage/transaction.js';

/** What a log event says about its user, when the publisher did not say it. */
export interface UserFacts {
  /** The email, else the username (Auth0's `user_name` of a successful event). */
  readonly userName: string | null;
  readonly connection: string | null;
  readonly connectionId: string | null;
  readonly strategy: string | null;
}

/**
 * A small bounded map whose entries live at most `ttlMs` (oldest evicted
 * first): names and facts that an administrator may change, served at most
 * that old into log events.
 */
class ShortCache<V> {
  readonly #entries = new Map<string, { value: V; expires: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  peek(key: string): { value: V } | undefined {
    const hit = this.#entries.get(key);
    return hit && hit.expires > this.now() ? { value: hit.value } : undefined;
  }

  set(key: string, value: V): void {
    if (this.ttlMs <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(key, { value, expires: this.now() + this.ttlMs });
  }
}

const key = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;

function groupByTenant(pairs: Iterable<readonly [string, string]>): Map<string, string[]> {
  const byTenant = new Map<string, string[]>();
  for (const [tenantId, id] of pairs) {
    const ids = byTenant.get(tenantId);
    if (!ids) byTenant.set(tenantId, [id]);
    else if (!ids.includes(id)) ids.push(id);
  }
  return byTenant;
}

/**
 * Client names and user facts for a batch of log events: one query per
 * tenant for what the cache does not hold, so a batch of logins costs at
 * most two reads however many events it has. Unknown ids are cached as
 * unknown (null) too.
 */
export class EventFacts {
  readonly #clients: ShortCache<string | null>;
  readonly #users: ShortCache<UserFacts | null>;

  constructor(
    private readonly db: Executor,
    options: { ttlMs: number; maxEntries: number; now?: () => number },
  ) {
    const now = options.now ?? Date.now;
    this.#clients = new ShortCache(options.ttlMs, options.maxEntries, now);
    this.#users = new ShortCache(options.ttlMs, options.maxEntries, now);
  }

  /** Names of the given (tenant, client id) pairs, keyed by `clientKey`. */
  async clientNames(pairs: Iterable<readonly [string, string]>): Promise<Map<string, string | null>> {
    const found = new Map<string, string | null>();
    const missing: Array<readonly [string, string]> = [];
    for (const [tenantId, clientId] of pairs) {
      const hit = this.#clients.peek(key(tenantId, clientId));
      if (hit) found.set(key(tenantId, clientId), hit.value);
      else missing.push([tenantId, clientId]);
    }
    for (const [tenantId, ids] of groupByTenant(missing)) {
      const rows = await this.db.selectFrom('clients').select(['client_id', 'name']).where('tenant_id', '=', tenantId).where('client_id', 'in', ids).execute();
      const names = new Map(rows.map((r) => [r.client_id, r.name]));
      for (const id of ids) {
        const name = names.get(id) ?? null;
        this.#clients.set(key(tenantId, id), name);
        found.set(key(tenantId, id), name);
      }
    }
    return found;
  }

  /** Facts of the given (tenant, user id) pairs, keyed by `userKey`. */
  async users(pairs: Iterable<readonly [string, string]>): Promise<Map<string, UserFacts | null>> {
    const found = new Map<string, UserFacts | null>();
    const missing: Array<readonly [string, string]> = [];
    for (const [tenantId, userId] of pairs) {
      const hit = this.#users.peek(key(tenantId, userId));
      if (hit) found.set(key(tenantId, userId), hit.value);
      else missing.push([tenantId, userId]);
    }
    for (const [tenantId, ids] of groupByTenant(missing)) {
      const rows = await this.db
        .selectFrom('users')
        .leftJoin('connections', (join) => join.onRef('connections.id', '=', 'users.connection_id').onRef('connections.tenant_id', '=', 'users.tenant_id'))
        .select(['users.user_id', 'users.email', 'users.username', 'users.connection_id', 'connections.name as connection', 'connections.strategy'])
        .where('users.tenant_id', '=', tenantId)
        .where('users.user_id', 'in', ids)
        .execute();
      const byId = new Map(rows.map((r) => [r.user_id, { userName: r.email ?? r.username, connection: r.connection, connectionId: r.connection_id, strategy: r.strategy } satisfies UserFacts]));
      for (const id of ids) {
        const facts = byId.get(id) ?? null;
        this.#users.set(key(tenantId, id), facts);
        found.set(key(tenantId, id), facts);
      }
    }
    return found;
  }
}

export const factKey = key;

import { hostWithoutPort } from './domain.js';
import type { Tenant, TenantDomain } from './store.js';

export interface TenantSnapshot {
  readonly tenants: readonly Tenant[];
  readonly domains: readonly TenantDomain[];
}

/** A tenant with its primary domain (from which its issuer is formed). */
export interface ResolvedTenant {
  readonly tenant: Tenant;
  readonly primaryDomain: string | undefined;
}

interface Index {
  readonly loadedAt: number;
  readonly byId: ReadonlyMap<string, ResolvedTenant>;
  readonly byDomain: ReadonlyMap<string, ResolvedTenant>;
  readonly defaultTenant: ResolvedTenant | undefined;
  readonly count: number;
}

export interface TenantResolverOptions {
  readonly load: () => Promise<TenantSnapshot>;
  /** PUBLIC_URL's host: always the default tenant. */
  readonly publicHost: string;
  readonly ttlMs: number;
  readonly now?: () => number;
}

/**
 * Finds a request's tenant from its Host header, without a database round
 * trip per request: the host→tenant map is cached for at most `ttlMs`, then
 * reloaded (one reload at a time), so a tenant or domain added by the CLI or
 * another node is served within that time.
 *
 * Rules: an exact domain match (with port) wins, then the domain without the
 * port; PUBLIC_URL's host is the default tenant; while there is only one
 * tenant it answers on any host; otherwise the host is unknown.
 */
export class TenantResolver {
  #index: Index | undefined;
  #reloading: Promise<Index> | undefined;
  readonly #now: () => number;

  constructor(private readonly options: TenantResolverOptions) {
    this.#now = options.now ?? Date.now;
  }

  async resolve(hostHeader: string | undefined): Promise<ResolvedTenant | undefined> {
    return this.#lookup(await this.#current(), hostHeader);
  }

  /**
   * The answer `resolve` would give, without waiting, when the cached map is
   * fresh; `null` when it is not (the caller then awaits `resolve`). Lets the
   * per-request hook stay synchronous on the hot path.
   */
  peek(hostHeader: string | undefined): ResolvedTenant | undefined | null {
    const index = this.#index;
    if (!index || this.#now() - index.loadedAt >= this.options.ttlMs) return null;
    return this.#lookup(index, hostHeader);
  }

  #lookup(index: Index, hostHeader: string | undefined): ResolvedTenant | undefined {
    const host = (hostHeader ?? '').trim().toLowerCase();
    const bare = hostWithoutPort(host);
    const match = index.byDomain.get(host) ?? index.byDomain.get(bare);
    if (match) return match;
    if (host === this.options.publicHost || bare === hostWithoutPort(this.options.publicHost)) return index.defaultTenant;
    if (index.count === 1) return index.defaultTenant ?? index.byId.values().next().value;
    return undefined;
  }

  /** Drops the cache so the next request reloads (after a local change). */
  invalidate(): void {
    this.#index = undefined;
  }

  async #current(): Promise<Index> {
    const index = this.#index;
    if (index && this.#now() - index.loadedAt < this.options.ttlMs) return index;
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = undefined;
    });
    try {
      return await this.#reloading;
    } catch (error) {
      // Database briefly gone: keep serving the last known map rather than
      // failing every request; with no map at all the error propagates.
      if (index) return index;
      throw error;
    }
  }

  async #reload(): Promise<Index> {
    const snapshot = await this.options.load();
    const primary = new Map<string, string>();
    for (const d of snapshot.domains) if (d.isPrimary || !primary.has(d.tenantId)) primary.set(d.tenantId, d.domain);
    const byId = new Map<string, ResolvedTenant>(snapshot.tenants.map((t) => [t.id, { tenant: t, primaryDomain: primary.get(t.id) }]));
    const byDomain = new Map<string, ResolvedTenant>();
    for (const d of snapshot.domains) {
      const resolved = byId.get(d.tenantId);
      if (resolved) byDomain.set(d.domain, resolved);
    }
    const defaultTenant = [...byId.values()].find((r) => r.tenant.isDefault);
    const index: Index = { loadedAt: this.#now(), byId, byDomain, defaultTenant, count: snapshot.tenants.length };
    this.#index = index;
    return index;
  }
}

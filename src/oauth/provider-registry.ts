import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import inject from 'light-my-request';
import type Provider from 'oidc-provider';
import type { Tenant } from '../tenants/store.js';

/** A response body computed once, served with an ETag. */
export interface CachedBody {
  readonly body: string;
  readonly etag: string;
}

export interface TenantEngine {
  readonly provider: Provider;
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  readonly issuer: string;
  readonly version: number;
  readonly discovery: CachedBody;
  readonly jwks: CachedBody;
  /** The published keys (next, current, previous) for verifying this tenant's own JWTs. */
  readonly verificationKeys: JWTVerifyGetKey;
}

export interface RegistryOptions {
  /** Builds a tenant's engine (loads keys, creates the provider). */
  readonly build: (tenant: Tenant, issuer: string) => Promise<{ provider: Provider; jwks: readonly object[] }>;
  /** Every tenant's current config version (one small query). */
  readonly versions: () => Promise<Map<string, number>>;
  /** How often versions are re-read: the bound on cross-node staleness. */
  readonly checkIntervalMs: number;
  readonly now?: () => number;
}

export function cachedBody(value: unknown): CachedBody {
  const body = JSON.stringify(value);
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/**
 * One engine per tenant, built on first use and cached. Every
 * `checkIntervalMs` one query reads all tenants' config versions; an engine
 * whose tenant changed (keys rotated, issuer or settings changed — by this
 * node, another node or the CLI) is rebuilt on its next request. Builds are
 * single-flight per tenant.
 */
export class ProviderRegistry {
  readonly #engines = new Map<string, Promise<TenantEngine>>();
  /** Built engines, for `peek`. */
  readonly #ready = new Map<string, TenantEngine>();
  #versions: Map<string, number> = new Map();
  #checkedAt = Number.NEGATIVE_INFINITY;
  #checking: Promise<void> | undefined;
  readonly #now: () => number;

  constructor(private readonly options: RegistryOptions) {
    this.#now = options.now ?? Date.now;
  }

  /**
   * The tenant's engine without waiting, when it is built, current and the
   * version check is not due; undefined otherwise (the caller awaits `get`).
   */
  peek(tenant: Tenant, issuer: string): TenantEngine | undefined {
    if (this.#now() - this.#checkedAt >= this.options.checkIntervalMs) return undefined;
    const engine = this.#ready.get(tenant.id);
    return engine && engine.version === (this.#versions.get(tenant.id) ?? 0) && engine.issuer === issuer ? engine : undefined;
  }

  async get(tenant: Tenant, issuer: string): Promise<TenantEngine> {
    await this.#refreshVersions();
    const wanted = this.#versions.get(tenant.id) ?? 0;
    const existing = this.#engines.get(tenant.id);
    if (existing) {
      const engine = await existing.catch(() => undefined);
      if (engine && engine.version === wanted && engine.issuer === issuer) return engine;
      if (this.#engines.get(tenant.id) !== existing) return this.get(tenant, issuer);
    }
    const building = this.#build(tenant, issuer, wanted);
    this.#engines.set(tenant.id, building);
    this.#ready.delete(tenant.id);
    building.then(
      (engine) => {
        if (this.#engines.get(tenant.id) === building) this.#ready.set(tenant.id, engine);
      },
      () => undefined,
    );
    building.catch(() => {
      if (this.#engines.get(tenant.id) === building) this.#engines.delete(tenant.id);
    });
    return building;
  }

  /** Forces a version re-read on the next request (after a local change). */
  invalidate(): void {
    this.#checkedAt = Number.NEGATIVE_INFINITY;
  }

  async #refreshVersions(): Promise<void> {
    if (this.#now() - this.#checkedAt < this.options.checkIntervalMs) return;
    this.#checking ??= this.options
      .versions()
      .then((versions) => {
        this.#versions = versions;
        this.#checkedAt = this.#now();
      })
      .catch(() => {
        // Database briefly unreachable: keep serving the engines we have.
      })
      .finally(() => {
        this.#checking = undefined;
      });
    await this.#checking;
  }

  async #build(tenant: Tenant, issuer: string, version: number): Promise<TenantEngine> {
    const { provider, jwks } = await this.options.build(tenant, issuer);
    const handle = provider.callback();
    // The engine forms endpoint URLs from the request; ask it as the issuer's host
    // and give the URLs the issuer's scheme.
    const origin = new URL(issuer);
    const discoveryResponse = await inject(handle, { method: 'GET', url: '/.well-known/openid-configuration', headers: { host: origin.host } });
    if (discoveryResponse.statusCode !== 200) throw new Error(`discovery document could not be built (${discoveryResponse.statusCode})`);
    const document = JSON.parse(discoveryResponse.body.replaceAll(`"http://${origin.host}/`, `"${origin.origin}/`)) as Record<string, unknown>;
    return {
      provider,
      handle,
      issuer,
      version,
      discovery: cachedBody(document),
      jwks: cachedBody({ keys: jwks }),
      verificationKeys: createLocalJWKSet({ keys: jwks } as JSONWebKeySet),
    };
  }
}

import type { Adapter, AdapterPayload } from 'oidc-provider';
import { artifactsStore, type ArtifactsStore } from './artifact-store.js';
import type { Executor } from '../storage/transaction.js';
import type { Runtime } from '../storage/runtime.js';

export interface AdapterOptions {
  readonly db: Executor;
  readonly tenantId: string;
  readonly runtime: Runtime;
  /** Client metadata for the engine, from our clients table. */
  readonly findClient: (clientId: string) => Promise<Record<string, unknown> | undefined>;
}

/**
 * How long a replay-detection claim holds before the engine saves the entry
 * with its real expiry (immediately after, in the same request). Should that
 * save fail, the jti stays refused for this long.
 */
const REPLAY_CLAIM_SECONDS = 60;

/**
 * oidc-provider's storage adapter for one tenant. Every model but `Client`
 * goes to the artifact store (which scopes by tenant); `Client` is read from
 * our clients table. `consumed` is reported as oidc-provider expects, an
 * epoch-seconds timestamp on the payload.
 */
export function adapterFactory(options: AdapterOptions): new (name: string) => Adapter {
  const store: ArtifactsStore = artifactsStore(options.db, options.tenantId, options.runtime);

  const toPayload = (artifact: Awaited<ReturnType<ArtifactsStore['find']>>): AdapterPayload | undefined => {
    if (!artifact) return undefined;
    const payload = { ...artifact.payload } as AdapterPayload;
    if (artifact.consumedAt !== undefined) payload.consumed = Math.floor(Date.parse(artifact.consumedAt) / 1000);
    return payload;
  };

  /**
   * Replay detection of client assertion and DPoP proof jtis (RFC 7523 §3
   * item 7, RFC 9449 §11.1). The engine's `ReplayDetection.unique` finds the
   * id and, when nothing is found, saves it: two concurrent requests with the
   * same assertion would both find nothing and both pass. So finding claims
   * the id atomically instead: the one caller whose insert wins is told
   * "not found" (its save follows and sets the real expiry); every other
   * caller is told the id is taken. The engine never finds this model for
   * any other purpose.
   */
  const claimReplayId = async (kind: string, id: string): Promise<AdapterPayload | undefined> => {
    const marker = { jti: id, kind };
    return (await store.insertIfAbsent(kind, id, marker, REPLAY_CLAIM_SECONDS)) ? undefined : marker;
  };

  return class ArtifactAdapter implements Adapter {
    constructor(private readonly name: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      await store.upsert(this.name, id, payload, expiresIn > 0 ? expiresIn : undefined);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.name === 'Client') return (await options.findClient(id)) as AdapterPayload | undefined;
      if (this.name === 'ReplayDetection') return claimReplayId(this.name, id);
      return toPayload(await store.find(this.name, id));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return toPayload(await store.findByUid(this.name, uid));
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return toPayload(await store.findByUserCode(this.name, userCode));
    }

    async consume(id: string): Promise<void> {
      await store.consume(this.name, id);
    }

    async destroy(id: string): Promise<void> {
      await store.destroy(this.name, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await store.revokeByGrantId(grantId);
    }
  };
}

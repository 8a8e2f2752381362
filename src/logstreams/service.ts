import type { SecretBox } from '../crypto/secret-box.js';
import { logsStore } from '../logs/store.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import { lockTenant, writeTransaction, type Executor } from '../storage/transaction.js';
import type { StreamFilter } from './categories.js';
import { answerSink, parseSink, StreamConfigError, type ParsedSink, type SinkSecrets } from './sink-config.js';
import { AddressPolicy } from './ssrf.js';
import { logStreamsStore, STREAM_TYPES, type StoredStream, type StreamStatus, type StreamType } from './store.js';

/** A log stream as the Management API answers it (Auth0's shape; secrets masked). */
export interface LogStreamView {
  readonly id: string;
  readonly name: string;
  readonly type: StreamType;
  readonly status: StreamStatus;
  readonly sink: Record<string, unknown>;
  readonly filters: StreamFilter[];
}

export interface CreateStreamInput {
  readonly name?: string;
  readonly type: string;
  readonly sink: unknown;
  readonly filters?: readonly StreamFilter[];
  /** ISO 8601: deliver events dated from then on (Auth0's `startFrom`); default: from now on. */
  readonly startFrom?: string;
}

export interface UpdateStreamInput {
  readonly name?: string;
  readonly status?: 'active' | 'paused';
  readonly sink?: unknown;
  readonly filters?: readonly StreamFilter[];
}

const DEFAULT_NAMES: Record<StreamType, string> = { http: 'Custom Webhook', nats: 'NATS JetStream' };

/** The sealing context binds a sealed sink to its stream (decision 002). */
const secretContext = (tenantId: string, id: string) => `log-stream:${tenantId}:${id}`;

function supportedType(type: string): StreamType {
  if ((STREAM_TYPES as readonly string[]).includes(type)) return type as StreamType;
  throw new StreamConfigError('type', `type "${type}" is not supported: Portcullis delivers to "http" (custom webhook) and "nats" (NATS JetStream) sinks`);
}

/**
 * Log stream configuration (`/api/v2/log-streams`): validation (including
 * the SSRF guard on the target as written), secrets sealed at rest, answers
 * with secrets masked. Delivery is the worker role's (delivery.ts).
 */
export function logStreamsService(database: Database, secretBox: SecretBox, runtime: Runtime, allowedCidrs: readonly string[]) {
  const policy = new AddressPolicy(allowedCidrs);
  const store = (db: Executor, tenantId: string) => logStreamsStore(db, tenantId, runtime);

  async function seal(tenantId: string, id: string, secrets: SinkSecrets): Promise<string | null> {
    return Object.keys(secrets).length === 0 ? null : secretBox.seal(JSON.stringify(secrets), secretContext(tenantId, id));
  }

  async function openSecrets(stream: Pick<StoredStream, 'tenantId' | 'id' | 'sinkSecrets'>): Promise<SinkSecrets> {
    return stream.sinkSecrets === null ? {} : (JSON.parse(await secretBox.open(stream.sinkSecrets, secretContext(stream.tenantId, stream.id))) as SinkSecrets);
  }

  async function view(stream: StoredStream): Promise<LogStreamView> {
    const secrets = await openSecrets(stream);
    return {
      id: stream.id,
      name: stream.name,
      type: stream.type,
      status: stream.status,
      sink: answerSink(stream.type, stream.sink, (name) => secrets[name] !== undefined),
      filters: [...stream.filters],
    };
  }

  return {
    policy,
    openSecrets,

    async create(tenantId: string, input: CreateStreamInput): Promise<LogStreamView> {
      const type = supportedType(input.type);
      const sink = parseSink(type, input.sink, policy);
      const id = runtime.randomId('lst_', 16, 'alnum');
      const db = database.db;
      const last = await logsStore(db, tenantId, runtime).lastSeq();
      const cursorSeq = input.startFrom === undefined ? last : Math.min(last, (await store(db, tenantId).seqBefore(new Date(input.startFrom).toISOString())) ?? last);
      const stream = await store(db, tenantId).insert({
        id,
        name: input.name ?? DEFAULT_NAMES[type],
        type,
        status: 'active',
        sink: sink.config as unknown as Record<string, unknown>,
        sinkSecrets: await seal(tenantId, id, sink.secrets),
        filters: input.filters ?? [],
        cursorSeq,
      });
      return view(stream);
    },

    async list(tenantId: string): Promise<LogStreamView[]> {
      return Promise.all((await store(database.db, tenantId).list()).map(view));
    },

    async get(tenantId: string, id: string): Promise<LogStreamView | undefined> {
      const stream = await store(database.db, tenantId).get(id);
      return stream && view(stream);
    },

    /**
     * Applies a PATCH under the tenant lock (two PATCHes of one sink cannot
     * drop each other's fields). `status: 'active'` resumes a paused or
     * suspended stream from its cursor. Undefined when it does not exist.
     */
    async update(tenantId: string, id: string, input: UpdateStreamInput): Promise<LogStreamView | undefined> {
      const updated = await writeTransaction(database, async (trx) => {
        await lockTenant(database, trx, tenantId);
        const streams = store(trx, tenantId);
        const current = await streams.get(id);
        if (!current) return undefined;
        let sink: ParsedSink | undefined;
        if (input.sink !== undefined) {
          const was: ParsedSink = { config: current.sink as unknown as ParsedSink['config'], secrets: await openSecrets(current) };
          sink = parseSink(current.type, input.sink, policy, was);
        }
        await streams.update(id, {
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.status !== undefined ? { status: input.status } : {}),
          ...(input.filters !== undefined ? { filters: input.filters } : {}),
          ...(sink ? { sink: sink.config as unknown as Record<string, unknown>, sinkSecrets: await seal(tenantId, id, sink.secrets) } : {}),
        });
        return streams.get(id);
      });
      return updated && view(updated);
    },

    async delete(tenantId: string, id: string): Promise<boolean> {
      return store(database.db, tenantId).delete(id);
    },
  };
}

export type LogStreamsService = ReturnType<typeof logStreamsService>;

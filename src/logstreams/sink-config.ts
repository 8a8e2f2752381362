import { z } from 'zod';
import type { AddressPolicy } from './ssrf.js';
import { describeRefusal } from './ssrf.js';
import type { StreamType } from './store.js';

/**
 * Sink configuration: what a caller sends (Auth0's `sink` of an `http`
 * stream; Portcullis's own `nats` sink), how it is stored (non-secret part in
 * `sink`, secrets sealed apart) and how it is answered (secrets masked).
 */

/** Answered in place of a stored secret; sent back unchanged in a PATCH, it keeps the stored value. */
export const SECRET_MASK = '********';

export const CONTENT_FORMATS = ['JSONLINES', 'JSONARRAY', 'JSONOBJECT'] as const;
export type ContentFormat = (typeof CONTENT_FORMATS)[number];

export interface HttpSinkConfig {
  readonly httpEndpoint: string;
  readonly httpContentType: string;
  readonly httpContentFormat: ContentFormat;
  /** Names only; values are secrets. */
  readonly httpCustomHeaderNames: readonly string[];
}

export interface HttpSinkSecrets {
  readonly httpAuthorization?: string;
  readonly httpCustomHeaders?: ReadonlyArray<{ readonly header: string; readonly value: string }>;
}

export interface NatsSinkConfig {
  readonly natsServers: readonly string[];
  readonly natsSubject: string;
  readonly natsStream?: string;
  readonly natsUser?: string;
}

export interface NatsSinkSecrets {
  readonly natsToken?: string;
  readonly natsPassword?: string;
}

export type SinkSecrets = HttpSinkSecrets & NatsSinkSecrets;

/** A configuration error naming the field, e.g. `sink.httpEndpoint`. */
export class StreamConfigError extends Error {
  readonly code = 'STREAM_CONFIG_INVALID';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'StreamConfigError';
  }
}

// RFC 9110 §5.6.2 token, and field values without control characters (no header injection).
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+=("[^"\r\n]*"|[!#$%&'*+.^_`|~0-9A-Za-z-]+))*$/;
/** Set by the sink itself, or would change how the request is framed or routed. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'content-type', 'authorization', 'proxy-authorization', 'proxy-connection']);
// NATS subjects: dot-separated tokens, no wildcards or whitespace (a publish subject).
const SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;
const STREAM_NAME = /^[A-Za-z0-9_-]{1,255}$/;

const fieldValue = (max: number) => z.string().max(max).regex(FIELD_VALUE, 'must not contain control characters');
const customHeader = z.strictObject({
  header: z.string().min(1).max(100).regex(TOKEN, 'must be an HTTP header name'),
  value: fieldValue(4096),
});

const httpSinkInput = z.strictObject({
  httpEndpoint: z.string().min(1).max(2048).optional(),
  httpContentType: z.string().max(200).regex(MEDIA_TYPE, 'must be a media type such as application/json').optional(),
  httpContentFormat: z.enum(CONTENT_FORMATS).optional(),
  httpAuthorization: fieldValue(4096).min(1).nullable().optional(),
  httpCustomHeaders: z.array(customHeader).max(20).nullable().optional(),
});
type HttpSinkInput = z.infer<typeof httpSinkInput>;

const natsSinkInput = z.strictObject({
  natsServers: z.array(z.string().min(1).max(2048)).min(1).max(5).optional(),
  natsSubject: z.string().min(1).max(255).regex(SUBJECT, 'must be a NATS subject without wildcards (e.g. portcullis.logs)').optional(),
  natsStream: z.string().regex(STREAM_NAME, 'must be a JetStream stream name (letters, digits, - and _)').nullable().optional(),
  natsUser: z.string().min(1).max(255).regex(FIELD_VALUE, 'must not contain control characters').nullable().optional(),
  natsPassword: z.string().min(1).max(1024).nullable().optional(),
  natsToken: z.string().min(1).max(4096).nullable().optional(),
});
type NatsSinkInput = z.infer<typeof natsSinkInput>;

function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = ['sink', ...(issue?.path ?? []).map(String)].join('.');
  const message = issue?.code === 'unrecognized_keys' ? `Additional properties not allowed: ${issue.keys.join(',')}` : (issue?.message ?? 'invalid');
  throw new StreamConfigError(path, message);
}

/** A webhook URL: http(s), no credentials in it, a host the SSRF guard allows as written. */
function checkEndpoint(raw: string, policy: AddressPolicy): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new StreamConfigError('sink.httpEndpoint', 'must be an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new StreamConfigError('sink.httpEndpoint', `scheme "${url.protocol.slice(0, -1)}" is not supported (use https)`);
  if (url.username || url.password) throw new StreamConfigError('sink.httpEndpoint', 'must not carry credentials (use httpAuthorization)');
  if (url.hash) throw new StreamConfigError('sink.httpEndpoint', 'must not have a fragment');
  const verdict = policy.judgeHost(url.hostname);
  if (!verdict.allowed) throw new StreamConfigError('sink.httpEndpoint', `host ${url.hostname} is ${describeRefusal(verdict)}`);
  return url.toString();
}

/** A NATS server URL: nats:// or tls://, host and port only, a host the SSRF guard allows as written. */
function checkNatsServer(raw: string, index: number, policy: AddressPolicy): string {
  const path = `sink.natsServers.${index}`;
  const match = /^(nats|tls):\/\/(.+)$/i.exec(raw.trim());
  if (!match?.[1] || !match[2]) throw new StreamConfigError(path, 'must be a nats:// or tls:// URL (e.g. nats://nats.example.com:4222)');
  let url: URL;
  try {
    // Parsed as http so the WHATWG parser normalises the host (2130706433 → 127.0.0.1) as it would for a socket.
    url = new URL(`http://${match[2]}`);
  } catch {
    throw new StreamConfigError(path, 'must be a nats:// or tls:// URL (e.g. nats://nats.example.com:4222)');
  }
  if (url.username || url.password) throw new StreamConfigError(path, 'must not carry credentials (use natsUser/natsPassword or natsToken)');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) throw new StreamConfigError(path, 'must be host and port only');
  const verdict = policy.judgeHost(url.hostname);
  if (!verdict.allowed) throw new StreamConfigError(path, `host ${url.hostname} is ${describeRefusal(verdict)}`);
  return `${match[1].toLowerCase()}://${url.hostname}:${url.port || '4222'}`;
}

function checkCustomHeaders(headers: ReadonlyArray<{ header: string; value: string }>, stored: HttpSinkSecrets['httpCustomHeaders']): Array<{ header: string; value: string }> {
  const seen = new Set<string>();
  return headers.map(({ header, value }, i) => {
    const name = header.toLowerCase();
    if (RESERVED_HEADERS.has(name)) throw new StreamConfigError(`sink.httpCustomHeaders.${i}.header`, `"${header}" cannot be set as a custom header${name === 'authorization' ? ' (use httpAuthorization)' : name === 'content-type' ? ' (use httpContentType)' : ''}`);
    if (seen.has(name)) throw new StreamConfigError(`sink.httpCustomHeaders.${i}.header`, `"${header}" is given twice`);
    seen.add(name);
    if (value !== SECRET_MASK) return { header, value };
    // The mask sent back keeps this header's stored value.
    const kept = stored?.find((h) => h.header.toLowerCase() === name);
    if (!kept) throw new StreamConfigError(`sink.httpCustomHeaders.${i}.value`, `"${SECRET_MASK}" keeps a stored value, and "${header}" has none`);
    return { header, value: kept.value };
  });
}

/** A secret field of a PATCH: absent or the mask keeps the stored value, null removes it. */
function secretField(input: string | null | undefined, stored: string | undefined): string | undefined {
  if (input === undefined || input === SECRET_MASK) return stored;
  return input ?? undefined;
}

export interface ParsedSink {
  readonly config: HttpSinkConfig | NatsSinkConfig;
  readonly secrets: SinkSecrets;
}

/**
 * Validates a sink for `type`, merged over the stored one when `current` is
 * given (a PATCH changes the fields it names; secrets follow secretField).
 * Throws StreamConfigError naming the field.
 */
export function parseSink(type: StreamType, input: unknown, policy: AddressPolicy, current?: ParsedSink): ParsedSink {
  if (type === 'http') {
    const given: HttpSinkInput = parseInput(httpSinkInput, input);
    const was = current?.config as HttpSinkConfig | undefined;
    const endpoint = given.httpEndpoint ?? was?.httpEndpoint;
    if (endpoint === undefined) throw new StreamConfigError('sink.httpEndpoint', 'is required');
    const headers = given.httpCustomHeaders === undefined ? current?.secrets.httpCustomHeaders : checkCustomHeaders(given.httpCustomHeaders ?? [], current?.secrets.httpCustomHeaders);
    const authorization = secretField(given.httpAuthorization, current?.secrets.httpAuthorization);
    return {
      config: {
        httpEndpoint: checkEndpoint(endpoint, policy),
        httpContentType: given.httpContentType ?? was?.httpContentType ?? 'application/json',
        httpContentFormat: given.httpContentFormat ?? was?.httpContentFormat ?? 'JSONLINES',
        httpCustomHeaderNames: (headers ?? []).map((h) => h.header),
      },
      secrets: { ...(authorization !== undefined ? { httpAuthorization: authorization } : {}), ...(headers && headers.length > 0 ? { httpCustomHeaders: headers } : {}) },
    };
  }
  const given: NatsSinkInput = parseInput(natsSinkInput, input);
  const was = current?.config as NatsSinkConfig | undefined;
  const servers = given.natsServers ?? was?.natsServers;
  if (servers === undefined) throw new StreamConfigError('sink.natsServers', 'is required');
  const subject = given.natsSubject ?? was?.natsSubject;
  if (subject === undefined) throw new StreamConfigError('sink.natsSubject', 'is required');
  const stream = given.natsStream === undefined ? was?.natsStream : (given.natsStream ?? undefined);
  const user = given.natsUser === undefined ? was?.natsUser : (given.natsUser ?? undefined);
  const token = secretField(given.natsToken, current?.secrets.natsToken);
  const password = secretField(given.natsPassword, current?.secrets.natsPassword);
  if (password !== undefined && user === undefined) throw new StreamConfigError('sink.natsUser', 'is required with natsPassword');
  if (token !== undefined && user !== undefined) throw new StreamConfigError('sink.natsToken', 'give natsToken or natsUser/natsPassword, not both');
  return {
    config: {
      natsServers: servers.map((s, i) => checkNatsServer(s, i, policy)),
      natsSubject: subject,
      ...(stream !== undefined ? { natsStream: stream } : {}),
      ...(user !== undefined ? { natsUser: user } : {}),
    },
    secrets: { ...(token !== undefined ? { natsToken: token } : {}), ...(password !== undefined ? { natsPassword: password } : {}) },
  };
}

/** The sink as answered: configuration plus the mask where a secret is stored. */
export function answerSink(type: StreamType, config: Record<string, unknown>, hasSecret: (name: keyof SinkSecrets) => boolean): Record<string, unknown> {
  if (type === 'http') {
    const { httpCustomHeaderNames, ...rest } = config as unknown as HttpSinkConfig;
    return {
      ...rest,
      ...(hasSecret('httpAuthorization') ? { httpAuthorization: SECRET_MASK } : {}),
      ...(httpCustomHeaderNames.length > 0 ? { httpCustomHeaders: httpCustomHeaderNames.map((header) => ({ header, value: SECRET_MASK })) } : {}),
    };
  }
  return {
    ...config,
    ...(hasSecret('natsToken') ? { natsToken: SECRET_MASK } : {}),
    ...(hasSecret('natsPassword') ? { natsPassword: SECRET_MASK } : {}),
  };
}

import type { ColumnType, Generated } from 'kysely';

/**
 * Row types as the application sees them. Cross-dialect conventions
 * (docs/decisions/003-storage-conventions.md):
 * - timestamps are ISO-8601 UTC strings with milliseconds (`2026-01-02T03:04:05.678Z`),
 *   which sort and compare correctly as text on both backends;
 * - JSON columns are `jsonb` on PostgreSQL and `text` on SQLite: written as JSON
 *   text, read back through `decodeJson` (pg returns parsed values, SQLite text);
 * - booleans are `boolean` on PostgreSQL and 0/1 on SQLite: read back through
 *   `decodeBool`; the SQLite driver wrapper turns bound JS booleans into 0/1.
 */
type Json = ColumnType<unknown, string, string>;
type Bool = ColumnType<boolean | number, boolean, boolean>;

export interface TenantsTable {
  id: string;
  name: string;
  friendly_name: string | null;
  is_default: Bool;
  settings: Json;
  config_version: ColumnType<number, number | undefined, number>;
  created_at: string;
  updated_at: string;
}

export interface TenantDomainsTable {
  domain: string;
  tenant_id: string;
  is_primary: Bool;
  created_at: string;
}

export interface SigningKeysTable {
  tenant_id: string;
  kid: string;
  alg: string;
  state: string;
  public_jwk: Json;
  private_jwe: string;
  created_at: string;
  activated_at: string | null;
  retired_at: string | null;
  revoked_at: string | null;
}

export interface ClientsTable {
  client_id: string;
  tenant_id: string;
  name: string;
  app_type: string | null;
  is_first_party: Bool;
  is_system: Bool;
  token_endpoint_auth_method: string;
  secret_enc: string | null;
  config: Json;
  created_at: string;
  updated_at: string;
}

export interface ResourceServersTable {
  id: string;
  tenant_id: string;
  identifier: string;
  name: string;
  is_system: Bool;
  signing_alg: string;
  token_lifetime: number;
  enforce_policies: Bool;
  token_dialect: string;
  allow_offline_access: Bool;
  skip_consent_for_verifiable_first_party_clients: Bool;
  config: Json;
  created_at: string;
  updated_at: string;
}

export interface ResourceServerScopesTable {
  resource_server_id: string;
  value: string;
  description: string | null;
}

export interface ClientGrantsTable {
  id: string;
  tenant_id: string;
  client_id: string;
  resource_server_id: string;
  audience: string;
  scope: Json;
  created_at: string;
  updated_at: string;
}

export interface ConnectionsTable {
  id: string;
  tenant_id: string;
  name: string;
  strategy: string;
  options: Json;
  created_at: string;
  updated_at: string;
}

export interface ConnectionClientsTable {
  connection_id: string;
  client_id: string;
}

/** Searchable facts of users' metadata (migration 0009, src/users/metadata-values.ts). */
export interface UserMetadataValuesTable {
  tenant_id: string;
  user_id: string;
  root: string;
  path: string;
  kind: string;
  value: string;
}

export interface UsersTable {
  tenant_id: string;
  user_id: string;
  connection_id: string;
  email: string | null;
  email_lower: string | null;
  email_verified: Bool;
  username: string | null;
  username_lower: string | null;
  phone_number: string | null;
  phone_verified: Bool;
  name: string | null;
  given_name: string | null;
  family_name: string | null;
  nickname: string | null;
  /** Lower-cased copies for case-insensitive search (migration 0003), written by the users store. */
  name_lower: string | null;
  given_name_lower: string | null;
  family_name_lower: string | null;
  nickname_lower: string | null;
  picture: string | null;
  app_metadata: Json;
  user_metadata: Json;
  blocked: Bool;
  created_at: string;
  updated_at: string;
  last_login: string | null;
  last_ip: string | null;
  logins_count: number;
}

export interface UserIdentitiesTable {
  tenant_id: string;
  user_id: string;
  connection_id: string;
  provider: string;
  external_id: string;
  is_social: Bool;
  profile_data: Json;
  created_at: string;
}

export interface PasswordCredentialsTable {
  tenant_id: string;
  user_id: string;
  hash: string;
  created_at: string;
  updated_at: string;
}

export interface RolesTable {
  id: string;
  tenant_id: string;
  name: string;
  description: string | null;
  created_at: string;
  updated_at: string;
}

export interface RolePermissionsTable {
  role_id: string;
  resource_server_id: string;
  permission_name: string;
}

export interface UserRolesTable {
  tenant_id: string;
  user_id: string;
  role_id: string;
  created_at: string;
}

export interface UserPermissionsTable {
  tenant_id: string;
  user_id: string;
  resource_server_id: string;
  permission_name: string;
  created_at: string;
}

export interface OidcArtifactsTable {
  tenant_id: string;
  kind: string;
  id: string;
  payload: Json;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  expires_at: string | null;
  consumed_at: string | null;
  /** The engine's `accountId` (migration 0004). */
  account_id: string | null;
}

export interface LogEventsTable {
  seq: Generated<number>;
  tenant_id: string;
  log_id: string;
  date: string;
  type: string;
  description: string | null;
  ip: string | null;
  user_agent: string | null;
  client_id: string | null;
  client_name: string | null;
  user_id: string | null;
  user_name: string | null;
  connection: string | null;
  connection_id: string | null;
  audience: string | null;
  scope: string | null;
  strategy: string | null;
  details: Json;
  /** Per-tenant sequence in commit order (migration 0005). */
  tenant_seq: number;
}

/** The last tenant_seq handed out per tenant (migration 0005). */
export interface LogSequencesTable {
  tenant_id: string;
  last_seq: number;
}

/** Log streams and their delivery state (migration 0006). */
export interface LogStreamsTable {
  id: string;
  tenant_id: string;
  name: string;
  type: string;
  status: string;
  sink: Json;
  sink_secrets: string | null;
  filters: ColumnType<unknown, string | undefined, string>;
  cursor_seq: ColumnType<number, number | undefined, number>;
  lease_owner: string | null;
  lease_until: string | null;
  retry_at: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  failing_since: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

/** Password-change and email-verification tickets, by hash (migration 0007). */
export interface UserTicketsTable {
  tenant_id: string;
  token_hash: string;
  kind: string;
  user_id: string;
  email: string | null;
  client_id: string | null;
  result_url: string | null;
  include_email: ColumnType<boolean | number, boolean | undefined, boolean>;
  mark_email_verified: ColumnType<boolean | number, boolean | undefined, boolean>;
  created_at: string;
  expires_at: string;
  consumed_at: string | null;
}

export interface SystemMetaTable {
  key: string;
  value: string;
}

export interface Schema {
  tenants: TenantsTable;
  tenant_domains: TenantDomainsTable;
  signing_keys: SigningKeysTable;
  clients: ClientsTable;
  resource_servers: ResourceServersTable;
  resource_server_scopes: ResourceServerScopesTable;
  client_grants: ClientGrantsTable;
  connections: ConnectionsTable;
  connection_clients: ConnectionClientsTable;
  users: UsersTable;
  user_metadata_values: UserMetadataValuesTable;
  user_identities: UserIdentitiesTable;
  password_credentials: PasswordCredentialsTable;
  roles: RolesTable;
  role_permissions: RolePermissionsTable;
  user_roles: UserRolesTable;
  user_permissions: UserPermissionsTable;
  oidc_artifacts: OidcArtifactsTable;
  log_events: LogEventsTable;
  log_sequences: LogSequencesTable;
  log_streams: LogStreamsTable;
  user_tickets: UserTicketsTable;
  system_meta: SystemMetaTable;
}

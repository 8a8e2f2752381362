import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../database.js';

/**
 * The foundation schema. Every tenant-owned table carries tenant_id and every
 * lookup index starts with it, so tenant scoping is both enforced and cheap.
 */
export function initialMigration(caps: DialectCapabilities): Migration {
  const json = caps.jsonType;
  const bool = caps.boolType;
  const falsy = caps.name === 'postgres' ? sql`false` : sql`0`;
  const emptyObject = caps.name === 'postgres' ? sql`'{}'::jsonb` : sql`'{}'`;
  const emptyArray = caps.name === 'postgres' ? sql`'[]'::jsonb` : sql`'[]'`;

  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('system_meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('tenants')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('friendly_name', 'text')
        .addColumn('is_default', bool, (c) => c.notNull().defaultTo(falsy))
        .addColumn('settings', json, (c) => c.notNull().defaultTo(emptyObject))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('tenant_domains')
        .addColumn('domain', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('is_primary', bool, (c) => c.notNull().defaultTo(falsy))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('tenant_domains_tenant').on('tenant_domains').column('tenant_id').execute();

      await db.schema
        .createTable('signing_keys')
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('kid', 'text', (c) => c.notNull())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('public_jwk', json, (c) => c.notNull())
        .addColumn('private_jwe', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('activated_at', 'text')
        .addColumn('retired_at', 'text')
        .addColumn('revoked_at', 'text')
        .addPrimaryKeyConstraint('signing_keys_pk', ['tenant_id', 'kid'])
        .execute();
      await db.schema.createIndex('signing_keys_state').on('signing_keys').columns(['tenant_id', 'state']).execute();

      await db.schema
        .createTable('clients')
        .addColumn('client_id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('app_type', 'text')
        .addColumn('is_first_party', bool, (c) => c.notNull())
        .addColumn('is_system', bool, (c) => c.notNull().defaultTo(falsy))
        .addColumn('token_endpoint_auth_method', 'text', (c) => c.notNull())
        .addColumn('secret_enc', 'text')
        .addColumn('config', json, (c) => c.notNull().defaultTo(emptyObject))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('clients_tenant_client', ['tenant_id', 'client_id'])
        .execute();
      await db.schema.createIndex('clients_tenant_name').on('clients').columns(['tenant_id', 'name']).execute();

      await db.schema
        .createTable('resource_servers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('identifier', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('is_system', bool, (c) => c.notNull().defaultTo(falsy))
        .addColumn('signing_alg', 'text', (c) => c.notNull())
        .addColumn('token_lifetime', 'integer', (c) => c.notNull())
        .addColumn('enforce_policies', bool, (c) => c.notNull().defaultTo(falsy))
        .addColumn('token_dialect', 'text', (c) => c.notNull())
        .addColumn('allow_offline_access', bool, (c) => c.notNull().defaultTo(falsy))
        .addColumn('skip_consent_for_verifiable_first_party_clients', bool, (c) => c.notNull().defaultTo(falsy))
        .addColumn('config', json, (c) => c.notNull().defaultTo(emptyObject))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('resource_servers_identifier', ['tenant_id', 'identifier'])
        .execute();

      await db.schema
        .createTable('resource_server_scopes')
        .addColumn('resource_server_id', 'text', (c) => c.notNull().references('resource_servers.id').onDelete('cascade'))
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addPrimaryKeyConstraint('resource_server_scopes_pk', ['resource_server_id', 'value'])
        .execute();

      await db.schema
        .createTable('client_grants')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('client_id', 'text', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
        .addColumn('resource_server_id', 'text', (c) => c.notNull().references('resource_servers.id').onDelete('cascade'))
        .addColumn('audience', 'text', (c) => c.notNull())
        .addColumn('scope', json, (c) => c.notNull().defaultTo(emptyArray))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('client_grants_client_audience', ['tenant_id', 'client_id', 'audience'])
        .execute();
      await db.schema.createIndex('client_grants_audience').on('client_grants').columns(['tenant_id', 'audience']).execute();

      await db.schema
        .createTable('connections')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('strategy', 'text', (c) => c.notNull())
        .addColumn('options', json, (c) => c.notNull().defaultTo(emptyObject))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('connections_name', ['tenant_id', 'name'])
        .execute();

      await db.schema
        .createTable('connection_clients')
        .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id').onDelete('cascade'))
        .addColumn('client_id', 'text', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
        .addPrimaryKeyConstraint('connection_clients_pk', ['connection_id', 'client_id'])
        .execute();
      await db.schema.createIndex('connection_clients_client').on('connection_clients').column('client_id').execute();

      await db.schema
        .createTable('users')
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull())
        // Deleting a connection deletes its users, as in Auth0.
        .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id').onDelete('cascade'))
        .addColumn('email', 'text')
        .addColumn('email_lower', 'text')
        .addColumn('email_verified', bool, (c) => c.notNull().defaultTo(falsy))
        .addColumn('username', 'text')
        .addColumn('username_lower', 'text')
        .addColumn('phone_number', 'text')
        .addColumn('phone_verified', bool, (c) => c.notNull().defaultTo(falsy))
        .addColumn('name', 'text')
        .addColumn('given_name', 'text')
        .addColumn('family_name', 'text')
        .addColumn('nickname', 'text')
        .addColumn('picture', 'text')
        .addColumn('app_metadata', json, (c) => c.notNull().defaultTo(emptyObject))
        .addColumn('user_metadata', json, (c) => c.notNull().defaultTo(emptyObject))
        .addColumn('blocked', bool, (c) => c.notNull().defaultTo(falsy))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('last_login', 'text')
        .addColumn('last_ip', 'text')
        .addColumn('logins_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('users_pk', ['tenant_id', 'user_id'])
        .execute();
      // One account per email / username within a connection (Auth0 semantics);
      // NULLs never collide in a unique index on either backend.
      await db.schema.createIndex('users_connection_email').unique().on('users').columns(['tenant_id', 'connection_id', 'email_lower']).execute();
      await db.schema.createIndex('users_connection_username').unique().on('users').columns(['tenant_id', 'connection_id', 'username_lower']).execute();
      await db.schema.createIndex('users_email').on('users').columns(['tenant_id', 'email_lower']).execute();
      await db.schema.createIndex('users_created_at').on('users').columns(['tenant_id', 'created_at']).execute();

      await db.schema
        .createTable('user_identities')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id').onDelete('cascade'))
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('external_id', 'text', (c) => c.notNull())
        .addColumn('is_social', bool, (c) => c.notNull().defaultTo(falsy))
        .addColumn('profile_data', json, (c) => c.notNull().defaultTo(emptyObject))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('user_identities_pk', ['tenant_id', 'connection_id', 'external_id'])
        .addForeignKeyConstraint('user_identities_user', ['tenant_id', 'user_id'], 'users', ['tenant_id', 'user_id'], (fk) => fk.onDelete('cascade'))
        .execute();
      await db.schema.createIndex('user_identities_user').on('user_identities').columns(['tenant_id', 'user_id']).execute();

      await db.schema
        .createTable('password_credentials')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('password_credentials_pk', ['tenant_id', 'user_id'])
        .addForeignKeyConstraint('password_credentials_user', ['tenant_id', 'user_id'], 'users', ['tenant_id', 'user_id'], (fk) => fk.onDelete('cascade'))
        .execute();

      await db.schema
        .createTable('roles')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('roles_name', ['tenant_id', 'name'])
        .execute();

      await db.schema
        .createTable('role_permissions')
        .addColumn('role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
        .addColumn('resource_server_id', 'text', (c) => c.notNull().references('resource_servers.id').onDelete('cascade'))
        .addColumn('permission_name', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('role_permissions_pk', ['role_id', 'resource_server_id', 'permission_name'])
        .execute();

      await db.schema
        .createTable('user_roles')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('user_roles_pk', ['tenant_id', 'user_id', 'role_id'])
        .addForeignKeyConstraint('user_roles_user', ['tenant_id', 'user_id'], 'users', ['tenant_id', 'user_id'], (fk) => fk.onDelete('cascade'))
        .execute();
      await db.schema.createIndex('user_roles_role').on('user_roles').column('role_id').execute();

      await db.schema
        .createTable('user_permissions')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('resource_server_id', 'text', (c) => c.notNull().references('resource_servers.id').onDelete('cascade'))
        .addColumn('permission_name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('user_permissions_pk', ['tenant_id', 'user_id', 'resource_server_id', 'permission_name'])
        .addForeignKeyConstraint('user_permissions_user', ['tenant_id', 'user_id'], 'users', ['tenant_id', 'user_id'], (fk) => fk.onDelete('cascade'))
        .execute();

      await db.schema
        .createTable('oidc_artifacts')
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('payload', json, (c) => c.notNull())
        .addColumn('grant_id', 'text')
        .addColumn('uid', 'text')
        .addColumn('user_code', 'text')
        .addColumn('expires_at', 'text')
        .addColumn('consumed_at', 'text')
        .addPrimaryKeyConstraint('oidc_artifacts_pk', ['tenant_id', 'kind', 'id'])
        .execute();
      await db.schema.createIndex('oidc_artifacts_grant').on('oidc_artifacts').columns(['tenant_id', 'grant_id']).where(sql.ref('grant_id'), 'is not', null).execute();
      await db.schema.createIndex('oidc_artifacts_uid').on('oidc_artifacts').columns(['tenant_id', 'kind', 'uid']).where(sql.ref('uid'), 'is not', null).execute();
      await db.schema.createIndex('oidc_artifacts_user_code').on('oidc_artifacts').columns(['tenant_id', 'kind', 'user_code']).where(sql.ref('user_code'), 'is not', null).execute();
      await db.schema.createIndex('oidc_artifacts_expiry').on('oidc_artifacts').column('expires_at').where(sql.ref('expires_at'), 'is not', null).execute();

      const seq = db.schema.createTable('log_events');
      await (caps.name === 'postgres'
        ? seq.addColumn('seq', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
        : seq.addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
      )
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('log_id', 'text', (c) => c.notNull().unique())
        .addColumn('date', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('ip', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('client_id', 'text')
        .addColumn('client_name', 'text')
        .addColumn('user_id', 'text')
        .addColumn('user_name', 'text')
        .addColumn('connection', 'text')
        .addColumn('connection_id', 'text')
        .addColumn('audience', 'text')
        .addColumn('scope', 'text')
        .addColumn('strategy', 'text')
        .addColumn('details', json, (c) => c.notNull().defaultTo(emptyObject))
        .execute();
      await db.schema.createIndex('log_events_tenant_seq').on('log_events').columns(['tenant_id', 'seq']).execute();
      await db.schema.createIndex('log_events_tenant_date').on('log_events').columns(['tenant_id', 'date']).execute();
      await db.schema.createIndex('log_events_user').on('log_events').columns(['tenant_id', 'user_id', 'seq']).execute();
      await db.schema.createIndex('log_events_type').on('log_events').columns(['tenant_id', 'type', 'seq']).execute();
    },
  };
}

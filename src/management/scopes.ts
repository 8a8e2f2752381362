/**
 * Management API v2 scopes, named as Auth0 names them. The CLI's admin client
 * is granted all of them; each Management API route requires its own.
 */
export const MANAGEMENT_SCOPES = [
  'read:users', 'create:users', 'update:users', 'delete:users',
  'read:users_app_metadata', 'create:users_app_metadata', 'update:users_app_metadata', 'delete:users_app_metadata',
  'read:user_idp_tokens', 'create:user_tickets', 'read:user_custom_blocks', 'delete:user_custom_blocks',
  'read:clients', 'create:clients', 'update:clients', 'delete:clients',
  'read:client_keys', 'create:client_keys', 'update:client_keys', 'delete:client_keys',
  'read:client_grants', 'create:client_grants', 'update:client_grants', 'delete:client_grants',
  'read:connections', 'create:connections', 'update:connections', 'delete:connections',
  'read:resource_servers', 'create:resource_servers', 'update:resource_servers', 'delete:resource_servers',
  'read:roles', 'create:roles', 'update:roles', 'delete:roles',
  'read:role_members', 'create:role_members', 'delete:role_members',
  'read:logs', 'read:logs_users',
  'read:log_streams', 'create:log_streams', 'update:log_streams', 'delete:log_streams',
  'read:tenant_settings', 'update:tenant_settings',
  'read:signing_keys', 'create:signing_keys', 'update:signing_keys',
  'read:grants', 'delete:grants',
  'read:stats',
  'read:attack_protection', 'update:attack_protection',
  'read:anomaly_blocks', 'delete:anomaly_blocks',
  'read:actions', 'create:actions', 'update:actions', 'delete:actions',
  'read:email_templates', 'create:email_templates', 'update:email_templates',
  'read:email_provider', 'create:email_provider', 'update:email_provider', 'delete:email_provider',
  'read:jobs', 'create:jobs',
] as const;

export const MANAGEMENT_API_NAME = 'Portcullis Management API';

/** The Management API's audience for a tenant issuer (`https://host/` → `https://host/api/v2/`). */
export function managementAudience(issuer: string): string {
  return `${issuer}api/v2/`;
}

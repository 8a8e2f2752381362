import { hash as argon2Hash } from '@node-rs/argon2';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { connectionsStore, DEFAULT_DATABASE_CONNECTION, type Connection } from '../connections/store.js';
import { artifactsStore } from '../oauth/artifact-store.js';
import type { Tenant } from '../tenants/store.js';
import { UserError, type UserErrorCode } from './errors.js';
import { PasswordHashError, passwordHasher, type PasswordHasher } from './password-hasher.js';
import { mergeMetadata, usersService, type SignupInput, type UsersService } from './service.js';
import { usersStore } from './store.js';

const PHC_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';
const PASSWORD = 'correct horse battery staple';

/** The real hasher behind spies, so a test can see which operation ran. */
function spyHasher() {
  const real = passwordHasher();
  return {
    hash: vi.fn((password: string) => real.hash(password)),
    verify: vi.fn((hash: string, password: string) => real.verify(hash, password)),
    verifyDummy: vi.fn((password: string) => real.verifyDummy(password)),
    needsRehash: vi.fn((hash: string) => real.needsRehash(hash)),
  } satisfies PasswordHasher;
}

async function refusal(promise: Promise<unknown>): Promise<{ code: UserErrorCode; message: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof UserError)) throw new Error(`expected a UserError, got ${String(error)}`);
  return { code: error.code, message: error.message };
}

describeEachBackend('users service (database connections)', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let tenant: Tenant;
  let other: Tenant;
  let database: Connection;
  let withUsernames: Connection;
  let social: Connection;
  const clock = testRuntime();
  const hasher = spyHasher();
  let service: UsersService;
  const store = (tenantId = tenant.id) => usersStore(ctx.database.db, tenantId, clock);
  const signup = (input: Partial<SignupInput>) => service.signup({ tenantId: tenant.id, connectionName: DEFAULT_DATABASE_CONNECTION, email: 'x@example.com', password: PASSWORD, ...input });
  /** What the caller may be told: the log-only facts (connection; the account a refusal is about) are asserted on their own below. */
  const login = async (identifier: string, password: string, connectionName = DEFAULT_DATABASE_CONNECTION, tenantId = tenant.id) => {
    const result = await service.authenticate({ tenantId, connectionName, identifier, password, ip: '203.0.113.7' });
    return result.ok ? { ok: true as const, user: result.user } : { ok: false as const, reason: result.reason };
  };

  async function rowCounts(): Promise<{ users: number; identities: number; credentials: number }> {
    const db = ctx.database.db;
    const count = async (table: 'users' | 'user_identities' | 'password_credentials') =>
      Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('tenant_id', '=', tenant.id).executeTakeFirstOrThrow()).n);
    return { users: await count('users'), identities: await count('user_identities'), credentials: await count('password_credentials') };
  }

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    tenant = await createTenant(ctx.database, 'acme');
    other = await createTenant(ctx.database, 'globex');
    service = usersService(ctx.database, clock, hasher);
    const connections = connectionsStore(ctx.database.db, tenant.id, clock);
    database = (await connections.findByName(DEFAULT_DATABASE_CONNECTION))!;
    withUsernames = await connections.insert({ name: 'with-usernames', strategy: 'auth0', options: { requires_username: true, password_complexity_options: { min_length: 15 } } });
    await connections.insert({ name: 'closed', strategy: 'auth0', options: { disable_signup: true } });
    social = await connections.insert({ name: 'github', strategy: 'github' });
  });
  afterAll(async () => ctx?.cleanup());
  beforeEach(() => vi.clearAllMocks());

  it('signs a user up and logs them in by email, any case, counting each login', async () => {
    const user = await signup({ email: 'Jane.Doe@Example.com', userMetadata: { theme: 'dark' } });
    expect(user.user_id).toMatch(/^auth0\|[0-9a-f]{24}$/);
    expect(user).toMatchObject({ connection_id: database.id, email: 'Jane.Doe@Example.com', email_verified: false, username: null, user_metadata: { theme: 'dark' }, blocked: false, logins_count: 0, last_login: null });
    expect(await store().identities(user.user_id)).toEqual([{ connection_id: database.id, provider: 'auth0', user_id: user.user_id.slice('auth0|'.length), isSocial: false }]);
    expect((await store().passwordHash(user.user_id))?.startsWith(PHC_PREFIX)).toBe(true);

    clock.advance(60_000);
    const first = await login(' jane.doe@EXAMPLE.com ', PASSWORD);
    expect(first).toEqual({ ok: true, user: { ...user, logins_count: 1, last_login: clock.now().toISOString(), last_ip: '203.0.113.7', updated_at: clock.now().toISOString() } });
    clock.advance(60_000);
    const second = await login('jane.doe@example.com', PASSWORD);
    expect(second.ok && second.user.logins_count).toBe(2);
    expect(await store().findById(user.user_id)).toMatchObject({ logins_count: 2, last_login: clock.now().toISOString() });
  });

  it('refuses a wrong password as wrong_credentials, without counting a login', async () => {
    const user = await signup({ email: 'wrong-password@example.com' });
    vi.clearAllMocks();
    expect(await login('wrong-password@example.com', `${PASSWORD}!`)).toEqual({ ok: false, reason: 'wrong_credentials' });
    expect(hasher.verify).toHaveBeenCalledTimes(1);
    expect(hasher.verifyDummy).not.toHaveBeenCalled();
    expect((await store().findById(user.user_id))?.logins_count).toBe(0);
  });

  it('answers an unknown user exactly like a wrong password, after verifying against the dummy hash', async () => {
    expect(await login('nobody@example.com', PASSWORD)).toEqual({ ok: false, reason: 'wrong_credentials' });
    expect(hasher.verifyDummy).toHaveBeenCalledTimes(1);
    expect(hasher.verifyDummy).toHaveBeenCalledWith(PASSWORD);
    expect(hasher.verify).not.toHaveBeenCalled();
  });

  it('treats a user without a password like an unknown user', async () => {
    await store().insert({ connectionId: database.id, provider: 'auth0', email: 'no-password@example.com' });
    expect(await login('no-password@example.com', PASSWORD)).toEqual({ ok: false, reason: 'wrong_credentials' });
    expect(hasher.verifyDummy).toHaveBeenCalledTimes(1);
    expect(hasher.verify).not.toHaveBeenCalled();
  });

  it('finds users only in the named connection and tenant', async () => {
    await signup({ email: 'scoped@example.com' });
    await service.signup({ tenantId: tenant.id, connectionName: 'with-usernames', email: 'other-connection@example.com', username: 'elsewhere', password: PASSWORD });
    expect(await login('other-connection@example.com', PASSWORD)).toEqual({ ok: false, reason: 'wrong_credentials' });
    expect(await login('scoped@example.com', PASSWORD, 'with-usernames')).toEqual({ ok: false, reason: 'wrong_credentials' });
    expect(await login('scoped@example.com', PASSWORD, DEFAULT_DATABASE_CONNECTION, other.id)).toEqual({ ok: false, reason: 'wrong_credentials' });
    expect(hasher.verifyDummy).toHaveBeenCalledTimes(3);
  });

  it('tells a blocked user so only once the password is right, and never counts the login', async () => {
    const user = await signup({ email: 'blocked@example.com' });
    await store().update(user.user_id, { blocked: true });
    expect(await login('blocked@example.com', `${PASSWORD}?`)).toEqual({ ok: false, reason: 'wrong_credentials' });
    expect(await login('blocked@example.com', PASSWORD)).toEqual({ ok: false, reason: 'blocked' });
    expect(await store().findById(user.user_id)).toMatchObject({ logins_count: 0, last_login: null });
    await store().update(user.user_id, { blocked: false });
    expect((await login('blocked@example.com', PASSWORD)).ok).toBe(true);
  });

  it('refuses a duplicate email in the connection, case-insensitively, with nothing half-written', async () => {
    await signup({ email: 'taken@example.com' });
    const before = await rowCounts();
    expect(await refusal(signup({ email: 'TAKEN@example.com', password: 'a different passphrase' }))).toEqual({ code: 'user_exists', message: 'The user already exists.' });
    expect(await rowCounts()).toEqual(before);
    // The first user's password still works; the second one's never existed.
    expect((await login('taken@example.com', PASSWORD)).ok).toBe(true);
    expect(await login('taken@example.com', 'a different passphrase')).toEqual({ ok: false, reason: 'wrong_credentials' });
  });

  it('writes user, identity and credential in one transaction: a failing credential insert leaves no user behind', async () => {
    // A trigger makes the last of the three inserts fail, after the users row was written.
    const db = ctx.database.db;
    const statements =
      backend === 'sqlite'
        ? { create: [`create trigger refuse_credentials before insert on password_credentials begin select raise(abort, 'refused by test'); end`], drop: ['drop trigger refuse_credentials'] }
        : {
            create: [
              `create function refuse_credentials() returns trigger language plpgsql as $$ begin raise exception 'refused by test'; end $$`,
              `create trigger refuse_credentials before insert on password_credentials for each row execute function refuse_credentials()`,
            ],
            drop: ['drop trigger refuse_credentials on password_credentials', 'drop function refuse_credentials()'],
          };
    const before = await rowCounts();
    for (const statement of statements.create) await sql.raw(statement).execute(db);
    try {
      const error = await signup({ email: 'half-written@example.com' }).catch((e: unknown) => e);
      expect(String(error)).toContain('refused by test');
    } finally {
      for (const statement of statements.drop) await sql.raw(statement).execute(db);
    }
    expect(await rowCounts()).toEqual(before);
    expect(await store().findByEmail('half-written@example.com')).toEqual([]);
  });

  it('allows the same email in another tenant', async () => {
    await signup({ email: 'twin@example.com' });
    const twin = await service.signup({ tenantId: other.id, connectionName: DEFAULT_DATABASE_CONNECTION, email: 'twin@example.com', password: 'another tenant passphrase' });
    expect((await login('twin@example.com', 'another tenant passphrase', DEFAULT_DATABASE_CONNECTION, other.id)).ok).toBe(true);
    expect(await login('twin@example.com', 'another tenant passphrase')).toEqual({ ok: false, reason: 'wrong_credentials' });
    expect(await store().findById(twin.user_id)).toBeUndefined();
  });

  it('refuses signup on a connection with disable_signup, writing and hashing nothing', async () => {
    const before = await rowCounts();
    expect(await refusal(signup({ connectionName: 'closed', email: 'closed@example.com' }))).toEqual({ code: 'signup_disabled', message: 'Public signup is disabled for this connection.' });
    expect(await rowCounts()).toEqual(before);
    expect(hasher.hash).not.toHaveBeenCalled();
  });

  it('refuses unknown and non-database connections', async () => {
    for (const connectionName of ['nope', 'github']) {
      expect((await refusal(signup({ connectionName }))).code).toBe('connection_not_found');
      expect((await refusal(login('x@example.com', PASSWORD, connectionName))).code).toBe('connection_not_found');
    }
    // Connection names are per tenant.
    expect((await refusal(signup({ connectionName: 'with-usernames', tenantId: other.id }))).code).toBe('connection_not_found');
    expect(hasher.hash).not.toHaveBeenCalled();
  });

  it('refuses invalid emails', async () => {
    for (const email of ['', 'plain', '@example.com', 'a@b', 'a@@example.com', 'a b@example.com', 'a@exa mple.com', 'a@example..com', 'a@.example.com', `${'l'.repeat(65)}@example.com`, `a@${'d'.repeat(250)}.com`, 'tab\t@example.com']) {
      expect(await refusal(signup({ email })), email).toEqual({ code: 'invalid_email', message: 'The email address is not valid.' });
    }
    const trimmed = await signup({ email: '  spaced@example.com ' });
    expect(trimmed.email).toBe('spaced@example.com');
  });

  it('applies the connection’s password policy before hashing', async () => {
    const before = await rowCounts();
    expect(await refusal(signup({ email: 'short@example.com', password: 'short' }))).toEqual({ code: 'password_too_short', message: 'Password is too short: use at least 12 characters.' });
    expect((await refusal(signup({ email: 'common@example.com', password: 'Password1234' }))).code).toBe('password_common');
    expect((await refusal(signup({ email: 'long@example.com', password: 'z'.repeat(257) }))).code).toBe('password_too_long');
    // 14 characters pass the default connection but not the one asking for 15.
    expect((await refusal(service.signup({ tenantId: tenant.id, connectionName: 'with-usernames', email: 'fourteen@example.com', username: 'fourteen', password: 'fourteen chars' }))).code).toBe('password_too_short');
    expect(await rowCounts()).toEqual(before);
    expect(hasher.hash).not.toHaveBeenCalled();
  });

  it('requires a username where the connection does, logs in with it, and refuses it elsewhere', async () => {
    const named = (input: Partial<SignupInput>) => signup({ connectionName: 'with-usernames', ...input });
    expect(await refusal(named({ email: 'nameless@example.com' }))).toEqual({ code: 'invalid_username', message: 'A username is required.' });
    for (const username of ['has space', 'has@at', 'sixteen-chars-xx', 'ünïcode']) expect((await refusal(named({ email: 'bad-name@example.com', username }))).code, username).toBe('invalid_username');
    expect(await refusal(signup({ email: 'unexpected@example.com', username: 'unexpected' }))).toEqual({ code: 'invalid_username', message: 'This connection does not use usernames.' });

    const user = await named({ email: 'ada@example.com', username: 'Ada.L' });
    expect(user.username).toBe('Ada.L');
    expect((await login('ada.l', PASSWORD, 'with-usernames')).ok).toBe(true);
    expect((await login('ADA@example.com', PASSWORD, 'with-usernames')).ok).toBe(true);
    expect((await refusal(named({ email: 'ada-two@example.com', username: 'ADA.l' }))).code).toBe('user_exists');
    expect(withUsernames.options.requires_username).toBe(true);
  });

  it('accepts user_metadata within Auth0’s signup limits only', async () => {
    const tooMany = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v']));
    for (const userMetadata of [tooMany, { ['k'.repeat(101)]: 'v' }, { k: 'v'.repeat(501) }, { k: 1 }, { k: { nested: 'no' } }, [] as unknown as Record<string, unknown>]) {
      expect((await refusal(signup({ email: 'meta@example.com', userMetadata }))).code).toBe('invalid_user_metadata');
    }
    const ten = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'v'.repeat(500)]));
    expect((await signup({ email: 'meta@example.com', userMetadata: ten })).user_metadata).toEqual(ten);
  });

  it('tells the log, and only the log, which account a refused identifier names and on which connection (fp against fu)', async () => {
    const known = await signup({ email: 'named@example.com' });
    const facts = (identifier: string, password: string) => service.authenticate({ tenantId: tenant.id, connectionName: DEFAULT_DATABASE_CONNECTION, identifier, password, ip: null });
    const wrong = await facts('named@example.com', 'not the password');
    expect(wrong).toMatchObject({ ok: false, reason: 'wrong_credentials', connection: { id: database.id, name: DEFAULT_DATABASE_CONNECTION }, user: { user_id: known.user_id } });
    const unknown = await facts('unnamed@example.com', PASSWORD);
    expect(unknown).toMatchObject({ ok: false, reason: 'wrong_credentials', connection: { id: database.id } });
    expect(unknown).not.toHaveProperty('user');
    expect(await facts('named@example.com', 'p'.repeat(10_000))).toMatchObject({ ok: false, user: { user_id: known.user_id } });
    expect(await facts('named@example.com', PASSWORD)).toMatchObject({ ok: true, connection: { id: database.id } });
  });

  it('answers a password longer than any account can have at once, without hashing', async () => {
    await signup({ email: 'huge@example.com' });
    expect(await login('huge@example.com', 'p'.repeat(10_000))).toEqual({ ok: false, reason: 'wrong_credentials' });
    expect(await login('unknown-huge@example.com', 'p'.repeat(10_000))).toEqual({ ok: false, reason: 'wrong_credentials' });
    expect(hasher.verify).not.toHaveBeenCalled();
    expect(hasher.verifyDummy).not.toHaveBeenCalled();
  });

  it('upgrades a hash made with older parameters at the next successful login', async () => {
    const old = await argon2Hash(PASSWORD, { algorithm: 2, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    const user = (await store().insert({ connectionId: database.id, provider: 'auth0', email: 'legacy@example.com', passwordHash: old }))!;
    expect(await login('legacy@example.com', 'not the password')).toEqual({ ok: false, reason: 'wrong_credentials' });
    expect(await store().passwordHash(user.user_id)).toBe(old);
    expect((await login('legacy@example.com', PASSWORD)).ok).toBe(true);
    const upgraded = await store().passwordHash(user.user_id);
    expect(upgraded?.startsWith(PHC_PREFIX)).toBe(true);
    expect((await login('legacy@example.com', PASSWORD)).ok).toBe(true);
    expect(hasher.hash).toHaveBeenCalledTimes(1);
  });

  it('fails loudly on a corrupt stored hash instead of reading it as a wrong password', async () => {
    await store().insert({ connectionId: database.id, provider: 'auth0', email: 'corrupt@example.com', passwordHash: 'not-a-hash' });
    await expect(login('corrupt@example.com', PASSWORD)).rejects.toBeInstanceOf(PasswordHashError);
  });

  it('changes a password under the connection’s policy', async () => {
    const user = await signup({ email: 'changer@example.com' });
    expect(await refusal(service.changePassword(tenant.id, user.user_id, 'qwerty123456'))).toMatchObject({ code: 'password_common' });
    expect(await refusal(service.changePassword(tenant.id, user.user_id, 'tiny'))).toMatchObject({ code: 'password_too_short' });
    expect((await login('changer@example.com', PASSWORD)).ok).toBe(true);

    await service.changePassword(tenant.id, user.user_id, 'a brand new passphrase');
    expect(await login('changer@example.com', PASSWORD)).toEqual({ ok: false, reason: 'wrong_credentials' });
    expect((await login('changer@example.com', 'a brand new passphrase')).ok).toBe(true);
  });

  it('gives a password to a database user that had none, and refuses unknown, foreign and social users', async () => {
    const imported = (await store().insert({ connectionId: database.id, provider: 'auth0', email: 'imported@example.com' }))!;
    await service.changePassword(tenant.id, imported.user_id, 'first password ever');
    expect((await login('imported@example.com', 'first password ever')).ok).toBe(true);

    expect(await refusal(service.changePassword(tenant.id, 'auth0|unknown', 'whatever passphrase'))).toEqual({ code: 'user_not_found', message: 'The user does not exist.' });
    expect((await refusal(service.changePassword(other.id, imported.user_id, 'whatever passphrase'))).code).toBe('user_not_found');
    const githubUser = (await store().insert({ connectionId: social.id, provider: 'github', email: 'octo@example.com' }))!;
    expect((await refusal(service.changePassword(tenant.id, githubUser.user_id, 'whatever passphrase'))).code).toBe('not_database_user');
    expect(await store().passwordHash(githubUser.user_id)).toBeUndefined();
  });

  it('revokes the account’s stored tokens and codes on a password change, keeping its session, grants and other accounts’ tokens', async () => {
    const user = await signup({ email: 'revoked@example.com' });
    const other = await signup({ email: 'kept@example.com' });
    const artifacts = artifactsStore(ctx.database.db, tenant.id, clock);
    for (const kind of ['RefreshToken', 'AccessToken', 'AuthorizationCode', 'Session', 'Grant']) await artifacts.upsert(kind, `pw-${kind}`, { accountId: user.user_id }, 3600);
    await artifacts.upsert('RefreshToken', 'pw-other', { accountId: other.user_id }, 3600);
    // A refused password revokes nothing.
    await refusal(service.changePassword(tenant.id, user.user_id, 'tiny'));
    expect(await artifacts.find('RefreshToken', 'pw-RefreshToken')).toBeDefined();

    await service.changePassword(tenant.id, user.user_id, 'a brand new passphrase');
    for (const kind of ['RefreshToken', 'AccessToken', 'AuthorizationCode']) expect(await artifacts.find(kind, `pw-${kind}`), kind).toBeUndefined();
    for (const kind of ['Session', 'Grant']) expect(await artifacts.find(kind, `pw-${kind}`), kind).toBeDefined();
    expect(await artifacts.find('RefreshToken', 'pw-other')).toBeDefined();
  });

  it('creates a user as an administrator: profile fields, metadata, no signup switch, same policy and duplicate rules', async () => {
    const created = await service.create({
      tenantId: tenant.id,
      connectionName: 'closed',
      email: 'Admin.Made@example.com',
      password: PASSWORD,
      emailVerified: true,
      name: 'Admin Made',
      givenName: 'Admin',
      familyName: 'Made',
      nickname: 'am',
      picture: 'https://example.com/am.png',
      userMetadata: { nested: { deep: [1, 2] } },
      appMetadata: { plan: 'gold' },
      blocked: true,
    });
    expect(created).toMatchObject({ email: 'Admin.Made@example.com', email_verified: true, name: 'Admin Made', given_name: 'Admin', family_name: 'Made', nickname: 'am', blocked: true, app_metadata: { plan: 'gold' }, user_metadata: { nested: { deep: [1, 2] } } });
    expect(await hasher.verify((await store().passwordHash(created.user_id))!, PASSWORD)).toBe(true);
    const create = (input: Partial<Parameters<UsersService['create']>[0]>) => service.create({ tenantId: tenant.id, connectionName: DEFAULT_DATABASE_CONNECTION, email: 'admin2@example.com', password: PASSWORD, ...input });
    expect((await refusal(create({ password: 'tiny' }))).code).toBe('password_too_short');
    expect((await refusal(create({ connectionName: 'github' }))).code).toBe('connection_not_found');
    expect((await refusal(create({ connectionName: 'with-usernames', password: 'a very long passphrase indeed' }))).code).toBe('invalid_username');
    expect((await refusal(create({ email: 'not an email' }))).code).toBe('invalid_email');
    await create({});
    expect(await refusal(create({ email: 'ADMIN2@example.com' }))).toEqual({ code: 'user_exists', message: 'The user already exists.' });
  });

  it('merges metadata at the first level only: null removes a key, nested objects are replaced, {} clears', () => {
    const stored = { keep: 1, drop: 'x', nested: { a: 1, b: 2 } };
    expect(mergeMetadata(stored, { drop: null, nested: { c: 3 }, added: [1] })).toEqual({ keep: 1, nested: { c: 3 }, added: [1] });
    expect(mergeMetadata(stored, {})).toEqual({});
    expect(stored).toEqual({ keep: 1, drop: 'x', nested: { a: 1, b: 2 } });
  });

  it('updates profile, metadata and password together, or nothing at all when one part is refused', async () => {
    const user = await signup({ email: 'patched@example.com', userMetadata: { color: 'red', size: 'm' } });
    const artifacts = artifactsStore(ctx.database.db, tenant.id, clock);
    await artifacts.upsert('RefreshToken', 'patch-rt', { accountId: user.user_id }, 3600);

    // A weak password refuses the whole change: profile and metadata stay, the token lives.
    expect((await refusal(service.update(tenant.id, user.user_id, { name: 'Changed', userMetadata: { color: null }, password: 'tiny' }))).code).toBe('password_too_short');
    expect(await store().findById(user.user_id)).toMatchObject({ name: 'patched@example.com', user_metadata: { color: 'red', size: 'm' } });
    expect(await artifacts.find('RefreshToken', 'patch-rt')).toBeDefined();

    const updated = await service.update(tenant.id, user.user_id, { name: 'Patched', blocked: true, userMetadata: { color: null, shape: { round: true } }, appMetadata: { plan: 'pro' }, password: 'another fine passphrase' });
    expect(updated).toMatchObject({ name: 'Patched', blocked: true, user_metadata: { size: 'm', shape: { round: true } }, app_metadata: { plan: 'pro' } });
    expect(await hasher.verify((await store().passwordHash(user.user_id))!, 'another fine passphrase')).toBe(true);
    expect(await artifacts.find('RefreshToken', 'patch-rt')).toBeUndefined();

    // A new email is unverified unless said otherwise; the same address in another case keeps the flag.
    expect((await service.update(tenant.id, user.user_id, { emailVerified: true })).email_verified).toBe(true);
    expect((await service.update(tenant.id, user.user_id, { email: 'PATCHED@example.com' })).email_verified).toBe(true);
    expect(await service.update(tenant.id, user.user_id, { email: 'moved@example.com' })).toMatchObject({ email: 'moved@example.com', email_verified: false });
    expect((await service.update(tenant.id, user.user_id, { email: 'again@example.com', emailVerified: true })).email_verified).toBe(true);

    // A taken email: Auth0's message, nothing written.
    await signup({ email: 'already-taken@example.com' });
    expect(await refusal(service.update(tenant.id, user.user_id, { email: 'ALREADY-taken@example.com', name: 'Not saved' }))).toEqual({ code: 'user_exists', message: 'The specified new email already exists' });
    expect((await store().findById(user.user_id))?.name).toBe('Patched');
    expect((await refusal(service.update(tenant.id, 'auth0|unknown', { name: 'x' }))).code).toBe('user_not_found');
    expect((await refusal(service.update(other.id, user.user_id, { name: 'x' }))).code).toBe('user_not_found');
  });

  it('keeps every key of two concurrent metadata patches', async () => {
    const user = await signup({ email: 'concurrent@example.com' });
    await Promise.all(['a', 'b', 'c', 'd'].map((key) => service.update(tenant.id, user.user_id, { appMetadata: { [key]: true } })));
    expect((await store().findById(user.user_id))?.app_metadata).toEqual({ a: true, b: true, c: true, d: true });
  });

  it('deletes a user with every artifact of the account, and nothing of other accounts or tenants', async () => {
    const user = await signup({ email: 'deleted@example.com' });
    const kept = await signup({ email: 'survivor@example.com' });
    const artifacts = artifactsStore(ctx.database.db, tenant.id, clock);
    for (const kind of ['Session', 'Grant', 'RefreshToken', 'AccessToken', 'AuthorizationCode']) await artifacts.upsert(kind, `del-${kind}`, { accountId: user.user_id }, 3600);
    await artifacts.upsert('Session', 'del-kept', { accountId: kept.user_id }, 3600);
    expect(await service.delete(other.id, user.user_id)).toBe(false);
    expect(await artifacts.find('Session', 'del-Session')).toBeDefined();

    expect(await service.delete(tenant.id, user.user_id)).toBe(true);
    expect(await store().findById(user.user_id)).toBeUndefined();
    for (const kind of ['Session', 'Grant', 'RefreshToken', 'AccessToken', 'AuthorizationCode']) expect(await artifacts.find(kind, `del-${kind}`), kind).toBeUndefined();
    expect(await artifacts.find('Session', 'del-kept')).toBeDefined();
    expect(await service.delete(tenant.id, user.user_id)).toBe(false);
  });
});

// The generated users of the bench's `users` section: a deterministic
// population (the same seed gives the same users, so every run searches the
// same data) with a realistic spread, and the constants the searches use.
//
// - names from a list of given and family names in many languages (accents,
//   ß, ł, İ, ø: their `*_lower` copies are JavaScript's toLowerCase, as the
//   users store writes them, so a search folds them alike); 8 % of users
//   have no given or family name, and then `name` is their email and
//   `nickname` its local part (what the store fills in when none is given);
// - unique emails built from the names (ASCII-folded), 10 % stored with
//   capitals (email_lower folds them), on RFC 2606 `.example` domains;
// - 12 % with a username, 4 % with a phone number, 60 % with a picture;
// - created_at over the two years before the seeding, in insertion order
//   (accounts are created over time); logins_count 0 for 15 %, otherwise a
//   long tail (median 3, 1 % over 1,000); last_login and last_ip when logged in;
// - app_metadata.plan: free 55 %, starter 25 %, pro 14 %, business 5.5 %,
//   enterprise 0.5 % (RARE_PLAN), sometimes with a customer id or roles;
// - user_metadata for 45 % (locale, theme, newsletter), `{}` otherwise.
//
// `name:ing*` (NAME_PREFIX, the given name Ingrid) matches about 0.4 % of
// users: a few hundred at 100,000.

/** The search prefix of the `name` query and the rare plan of the metadata query. */
export const NAME_PREFIX = 'ing';
export const RARE_PLAN = 'enterprise';
export const PLANS = Object.freeze([
  ['free', 0.55],
  ['starter', 0.25],
  ['pro', 0.14],
  ['business', 0.055],
  [RARE_PLAN, 0.005],
]);
/** One password for every seeded user (the seed stores a single precomputed argon2id hash of it). */
export const SEEDED_PASSWORD = 'bench seeded password 0123';

const GIVEN = [
  'Aarav', 'Abigail', 'Adam', 'Adèle', 'Ahmed', 'Aiko', 'Alejandro', 'Aleksander', 'Alice', 'Amara', 'Amelia', 'Ana', 'Anders', 'Andrés', 'Anja', 'Antoine', 'Arjun', 'Astrid',
  'Ayşe', 'Beatriz', 'Benjamin', 'Bjørn', 'Bruno', 'Camila', 'Carlos', 'Charlotte', 'Chen', 'Chiara', 'Chloé', 'Chloe', 'Clara', 'Daniel', 'Dávid', 'Diego', 'Dmitri', 'Eduardo',
  'Elena', 'Elif', 'Eliška', 'Emil', 'Emily', 'Emma', 'Émile', 'Erik', 'Esther', 'Ethan', 'Eva', 'Fatima', 'Felipe', 'Finn', 'Florian', 'Francesca', 'François', 'Freya',
  'Gabriel', 'Giulia', 'Grace', 'Gustavo', 'Hana', 'Hannah', 'Hans', 'Haruto', 'Hélène', 'Henrik', 'Hiroshi', 'Hugo', 'Ibrahim', 'İlkay', 'Ingrid', 'Isabel', 'Isaac', 'Ivan',
  'Jakub', 'James', 'Jan', 'Javier', 'Jessica', 'Joaquín', 'João', 'Jonas', 'José', 'Julia', 'Jürgen', 'Kai', 'Karin', 'Katarzyna', 'Kenji', 'Kwame', 'Lars', 'Laura',
  'Léa', 'Leon', 'Liam', 'Lina', 'Lucas', 'Lucía', 'Ludmila', 'Luis', 'Łukasz', 'Maja', 'Malik', 'Marco', 'Margit', 'María', 'Marie', 'Mark', 'Marta', 'Mateo', 'Matteo',
  'Mei', 'Mia', 'Mikael', 'Miguel', 'Mohammed', 'Nadia', 'Naomi', 'Nikolai', 'Noah', 'Nora', 'Olivia', 'Omar', 'Oscar', 'Pablo', 'Paula', 'Pedro', 'Pierre', 'Priya',
  'Rafael', 'Rahul', 'Raquel', 'Rosa', 'Ruth', 'Sakura', 'Samuel', 'Sara', 'Sebastián', 'Siobhán', 'Sofia', 'Søren', 'Stefan', 'Sven', 'Tariq', 'Thomas', 'Tomás', 'Ulrike',
  'Valentina', 'Victor', 'Wei', 'William', 'Xavier', 'Yara', 'Yusuf', 'Zainab', 'Zoë', 'Zoltán', 'Agnieszka', 'Björk', 'Dagný', 'Ōta', 'Renée', 'Yūki', 'Thảo', 'Ngozi',
  'Oluwaseun', 'Chidi', 'Amani', 'Keanu', 'Leilani', 'Mateus', 'Vítor', 'Inês', 'Gonçalo', 'Małgorzata', 'Štěpán', 'Ferenc', 'Dorottya', 'Ioana', 'Răzvan', 'Goran', 'Jelena',
  'Teodor', 'Fredrik', 'Sigrún', 'Aurélie', 'Maël', 'Noémie', 'Kübra', 'Emre', 'Hüseyin', 'Saoirse', 'Cian', 'Rhys', 'Ffion', 'Ewan', 'Isla', 'Callum', 'Aoife', 'Declan',
];
const FAMILY = [
  'Abe', 'Adeyemi', 'Alves', 'Andersen', 'Bakker', 'Becker', 'Bianchi', 'Brown', 'Castro', 'Chen', 'Costa', 'Cruz', 'da Silva', 'Dąbrowski', 'de Jong', 'Dubois', 'Dvořák',
  'Eriksson', 'Fernández', 'Fischer', 'García', 'Gómez', 'González', 'Gruber', 'Gupta', 'Hansen', 'Hernández', 'Hoffmann', 'Horváth', 'Huang', 'Ivanova', 'Jansen',
  'Jensen', 'Johansson', 'Johnson', 'Jones', 'Kaya', 'Kim', 'Kobayashi', 'Kowalski', 'Kumar', 'Lambert', 'Larsen', 'Laurent', 'Lee', 'Lefèvre', 'Li', 'Lindqvist', 'López',
  'Lund', 'Martin', 'Martínez', 'Meier', 'Mendes', 'Moreau', 'Müller', 'Murphy', 'Nagy', 'Nakamura', 'Nielsen', 'Novák', 'Nowak', "O'Brien", 'Okafor', 'Olsen', 'Öztürk',
  'Patel', 'Pereira', 'Petrov', 'Popescu', 'Quispe', 'Ramírez', 'Reyes', 'Ricci', 'Rodríguez', 'Romano', 'Rossi', 'Russo', 'Sánchez', 'Santos', 'Sato', 'Schmidt',
  'Schneider', 'Schulz', 'Shah', 'Silva', 'Singh', 'Smith', 'Sørensen', 'Suzuki', 'Svensson', 'Szabó', 'Takahashi', 'Tanaka', 'Taylor', 'Thomas', 'Torres', 'Tran',
  'Van der Berg', 'Vargas', 'Wagner', 'Wang', 'Watanabe', 'Weber', 'Williams', 'Wilson', 'Wójcik', 'Wong', 'Wu', 'Yamamoto', 'Yılmaz', 'Zhang', 'Zimmermann', 'Żukowski',
  'Nguyễn', 'Phạm', 'Mensah', 'Owusu', 'Achebe', 'Eze', 'Haddad', 'Khoury', 'Mansour', 'Rahman', 'Hossain', 'Iyer', 'Nair', 'Reddy', 'Bose', 'Kapoor', 'Fitzgerald',
  'MacLeod', 'Llewellyn', 'Ó Súilleabháin', 'Strauß', 'Weiß', 'Groß', 'Åberg', 'Ekström', 'Virtanen', 'Korhonen', 'Mäkinen', 'Papadopoulos', 'Georgiou', 'Kovačević',
];
const DOMAINS = [
  ['mail.example', 0.3], ['inbox.example', 0.15], ['post.example', 0.12], ['webmail.example', 0.08], ['icloud.example', 0.05], ['proton.example', 0.03],
  ['acme-corp.example', 0.07], ['globex.example', 0.05], ['initech.example', 0.05], ['umbrella.example', 0.04], ['uni-campus.example', 0.04], ['school.example', 0.02],
];
/** Local parts of email addresses, from folded given name, family name and a unique suffix. */
const EMAIL_SHAPES = [(g, f, n) => `${g}.${f}${n}`, (g, f, n) => `${g}${f}${n}`, (g, f, n) => `${g[0]}${f}.${n}`, (g, f, n) => `${f}.${g}.${n}`, (g, f, n) => `${g}_${n}`];
const EMAIL_SHAPE_WEIGHTS = [[0, 0.45], [1, 0.2], [2, 0.15], [3, 0.1], [4, 0.1]];
const LOCALES = ['en-US', 'en-GB', 'fr-FR', 'de-DE', 'es-ES', 'pt-BR', 'it-IT', 'ja-JP', 'nl-NL', 'pl-PL', 'tr-TR', 'sv-SE'];
const DAY_MS = 86_400_000;

/** sfc32: a small, fast PRNG with 128 bits of state (deterministic for a seed), floats in [0, 1). */
function sfc32(a, b, c, d) {
  return () => {
    a |= 0;
    b |= 0;
    c |= 0;
    d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

export function prng(seed) {
  const random = sfc32(0x9e3779b9, 0x243f6a88, 0xb7e15162, seed >>> 0);
  for (let i = 0; i < 20; i++) random();
  return random;
}

const pick = (random, list) => list[Math.floor(random() * list.length)];
function weighted(random, pairs) {
  let r = random();
  for (const [value, weight] of pairs) {
    r -= weight;
    if (r < 0) return value;
  }
  return pairs[pairs.length - 1][0];
}
/** `words` × 8 hex digits. */
const hex = (random, words) => {
  let out = '';
  for (let i = 0; i < words; i++) out += (Math.floor(random() * 0x100000000) + 0x100000000).toString(16).slice(1);
  return out;
};
const alnum = (random, length) => {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < length; i++) out += chars[Math.floor(random() * chars.length)];
  return out;
};

/** A bijection of 32-bit integers (odd multiplier, xor-shifts): unique, random-looking id prefixes. */
function scramble(i) {
  let x = Math.imul(i ^ 0x5bd1e995, 0x2c1b3c6d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x297a2d39) >>> 0;
  x ^= x >>> 13;
  return x >>> 0;
}

/** Letters of a name as they may appear in an email address (memoized: the lists are short). */
const folded = new Map();
function asciiFold(value) {
  let out = folded.get(value);
  if (out === undefined) folded.set(value, (out = foldOnce(value)));
  return out;
}

function foldOnce(value) {
  const special = { ł: 'l', Ł: 'L', ø: 'o', Ø: 'O', ß: 'ss', æ: 'ae', Æ: 'AE', đ: 'd', Đ: 'D', ı: 'i', İ: 'I', œ: 'oe' };
  return value
    .replace(/[łŁøØßæÆđĐıİœ]/g, (c) => special[c])
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9]/g, '')
    .toLowerCase();
}

const lower = (value) => (value === null ? null : value.toLowerCase());

/**
 * User `index` (0-based) of a population of `total` created over the two
 * years before `endMs`. `random` is the population's PRNG, called in index
 * order. Returns the row the users store would write (plus the identity's
 * local id), every column filled.
 */
export function generateUser(random, index, total, endMs) {
  const localId = scramble(index).toString(16).padStart(8, '0') + hex(random, 2);
  const userId = `auth0|${localId}`;
  const given = pick(random, GIVEN);
  const family = pick(random, FAMILY);
  const g = asciiFold(given);
  const f = asciiFold(family);
  const n = index.toString(36);
  const local = EMAIL_SHAPES[weighted(random, EMAIL_SHAPE_WEIGHTS)](g, f, n);
  const domain = weighted(random, DOMAINS);
  const capitalized = random() < 0.1;
  const email = capitalized ? `${local[0].toUpperCase()}${local.slice(1)}@${domain[0].toUpperCase()}${domain.slice(1)}` : `${local}@${domain}`;
  const named = random() >= 0.08;
  const givenName = named ? given : null;
  const familyName = named ? family : null;
  const name = named ? `${given} ${family}` : email;
  const customNickname = named && random() < 0.3;
  const nickname = customNickname ? (random() < 0.5 ? given : `${g}${Math.floor(random() * 100)}`) : email.split('@')[0];
  const username = random() < 0.12 ? `${g}_${f}_${n}` : null;
  const phone = random() < 0.04 ? `+1555${String(Math.floor(random() * 1e7)).padStart(7, '0')}` : null;
  const picture = random() < 0.6 ? `https://avatars.example/${hex(random, 4)}.png` : null;

  // Created in index order, spread evenly over two years, with jitter within a slot.
  const spanMs = 730 * DAY_MS;
  const createdMs = endMs - spanMs + ((index + random()) / total) * spanMs;
  const loginsCount = random() < 0.15 ? 0 : Math.min(5000, Math.floor(Math.exp(random() * random() * 8.5)));
  const lastLoginMs = loginsCount > 0 ? createdMs + random() * (endMs - createdMs) : null;
  const updatedMs = Math.max(createdMs, lastLoginMs ?? createdMs);
  const lastIp = loginsCount > 0 ? `${pick(random, ['192.0.2', '198.51.100', '203.0.113'])}.${1 + Math.floor(random() * 254)}` : null;

  const appMetadata = { plan: weighted(random, PLANS) };
  if (random() < 0.3) appMetadata.customer_id = `cus_${alnum(random, 14)}`;
  if (random() < 0.05) appMetadata.roles = [pick(random, ['admin', 'support', 'billing'])];
  const userMetadata = {};
  if (random() < 0.45) {
    userMetadata.locale = pick(random, LOCALES);
    if (random() < 0.3) userMetadata.theme = pick(random, ['dark', 'light']);
    if (random() < 0.5) userMetadata.newsletter = random() < 0.4;
  }

  const createdAt = new Date(createdMs).toISOString();
  return {
    localId,
    user_id: userId,
    email,
    email_lower: lower(email),
    email_verified: random() < 0.75,
    username,
    username_lower: lower(username),
    phone_number: phone,
    phone_verified: false,
    name,
    given_name: givenName,
    family_name: familyName,
    nickname,
    name_lower: lower(name),
    given_name_lower: lower(givenName),
    family_name_lower: lower(familyName),
    nickname_lower: lower(nickname),
    picture,
    app_metadata: JSON.stringify(appMetadata),
    user_metadata: JSON.stringify(userMetadata),
    blocked: random() < 0.008,
    created_at: createdAt,
    updated_at: new Date(updatedMs).toISOString(),
    last_login: lastLoginMs === null ? null : new Date(lastLoginMs).toISOString(),
    last_ip: lastIp,
    logins_count: loginsCount,
    plan: appMetadata.plan,
  };
}

// A tiny relying party for trying Portcullis: authorization code + PKCE with
// openid-client, the way any app would talk to Auth0. Not production code:
// sessions live in memory and the cookie is not signed.
//
//   ISSUER=http://localhost:3000/ CLIENT_ID=… CLIENT_SECRET=… node examples/sample-app/server.mjs
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import * as oidc from 'openid-client';

const issuer = new URL(process.env.ISSUER ?? 'http://localhost:3000/');
const port = Number(process.env.PORT ?? 4000);
const base = `http://localhost:${port}`;
const { CLIENT_ID: clientId, CLIENT_SECRET: clientSecret } = process.env;
if (!clientId) {
  console.error('Set CLIENT_ID (and CLIENT_SECRET) — see the README: npx portcullis client create …');
  process.exit(1);
}

const insecure = issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined;
const config = await oidc.discovery(issuer, clientId, clientSecret, undefined, insecure);
const sessions = new Map(); // cookie value → { verifier, state, claims, idToken }

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// Cookies are shared by all ports of a host (RFC 6265 §8.5): one name per
// port keeps two copies on localhost (two apps, for SSO) from logging each other out.
const cookieName = `sample_sid_${port}`;
const sessionOf = (req) => sessions.get(new RegExp(`(?:^|;\\s*)${cookieName}=([\\w-]+)`).exec(req.headers.cookie ?? '')?.[1]);

function page(res, body) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'" });
  res.end(`<!doctype html><meta charset="utf-8"><title>Sample app</title><h1>Sample app</h1>${body}`);
}

createServer(async (req, res) => {
  const url = new URL(req.url, base);
  try {
    if (url.pathname === '/') {
      const session = sessionOf(req);
      if (!session?.claims) return page(res, `<p>You are not logged in.</p><p><a href="/login">Log in with Portcullis</a></p>`);
      return page(res, `<p>Logged in as <strong>${escape(session.claims.email ?? session.claims.sub)}</strong>.</p><pre>${escape(JSON.stringify(session.claims, null, 2))}</pre><p><a href="/logout">Log out</a></p>`);
    }
    if (url.pathname === '/login') {
      const sid = randomBytes(16).toString('base64url');
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      sessions.set(sid, { verifier, state });
      const target = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `${base}/callback`,
        scope: 'openid profile email',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
      });
      res.writeHead(302, { location: target.href, 'set-cookie': `${cookieName}=${sid}; HttpOnly; SameSite=Lax; Path=/` });
      return res.end();
    }
    if (url.pathname === '/callback') {
      const session = sessionOf(req);
      if (!session) throw new Error('no login in progress in this browser');
      const tokens = await oidc.authorizationCodeGrant(config, url, { pkceCodeVerifier: session.verifier, expectedState: session.state });
      Object.assign(session, { claims: tokens.claims(), idToken: tokens.id_token });
      res.writeHead(302, { location: '/' });
      return res.end();
    }
    if (url.pathname === '/logout') {
      const session = sessionOf(req);
      const target = session?.idToken ? oidc.buildEndSessionUrl(config, { id_token_hint: session.idToken, post_logout_redirect_uri: `${base}/` }) : new URL('/', base);
      for (const [sid, value] of sessions) if (value === session) sessions.delete(sid);
      res.writeHead(302, { location: target.href });
      return res.end();
    }
    res.writeHead(404).end('not found');
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(`Login failed: ${error.message}`);
  }
}).listen(port, () => console.log(`Sample app on ${base} (issuer ${issuer.href})`));

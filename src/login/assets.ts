import { createHash } from 'node:crypto';

/**
 * The login pages' stylesheet. Served under a content-hashed name with
 * immutable caching (CDN-friendly); the pages link the hashed name.
 */
const CSS = `
:root { --primary: #3d5afe; }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #f4f5f7; color: #1d1f24; }
main { width: 100%; max-width: 400px; margin: 1rem; padding: 2rem; background: #fff; border-radius: 8px;
  box-shadow: 0 1px 3px rgba(0,0,0,.12); }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
p.lead { margin: 0 0 1.5rem; color: #555; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input[type=text], input[type=email], input[type=password] { width: 100%; padding: .6rem .75rem; font: inherit;
  border: 1px solid #b8bcc6; border-radius: 4px; }
input:focus, button:focus, a:focus { outline: 3px solid var(--primary); outline-offset: 2px; }
button { width: 100%; margin-top: 1.5rem; padding: .7rem; font: inherit; font-weight: 600; color: #fff;
  background: var(--primary); border: 0; border-radius: 4px; cursor: pointer; }
button.secondary { color: var(--primary); background: #fff; border: 1px solid var(--primary); }
h2 { font-size: 1rem; margin: 1.25rem 0 .5rem; overflow-wrap: anywhere; }
ul.scopes { margin: 0; padding-left: 1.25rem; }
ul.scopes li { margin: .35rem 0; }
.scope { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
.scope-description { display: block; color: #555; }
.actions { display: flex; gap: .75rem; }
.error { margin: 0 0 1rem; padding: .6rem .75rem; border-radius: 4px; background: #fdecea; color: #8a1c14; }
.logo { display: block; max-height: 48px; margin: 0 auto 1rem; }
.alt { margin-top: 1rem; text-align: center; }
@media (max-width: 480px) { main { margin: 0; min-height: 100vh; border-radius: 0; box-shadow: none; } }
`;

const hash = createHash('sha256').update(CSS).digest('hex').slice(0, 16);

export const LOGIN_CSS = Object.freeze({ path: `/u/assets/login.${hash}.css`, body: CSS });

import { LOGIN_CSS } from './assets.js';
import { html, trusted, type SafeHtml } from './html.js';

export interface Branding {
  readonly tenantName: string;
  readonly logoUrl: string | undefined;
  readonly primaryColor: string | undefined;
}

/** The page frame: language, viewport, hashed stylesheet, tenant colour via a nonce'd style. Shared by the ticket pages (src/tickets/views.ts). */
export function layout(branding: Branding, nonce: string, title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title} · ${branding.tenantName}</title>
<link rel="stylesheet" href="${LOGIN_CSS.path}">
${branding.primaryColor ? html`<style nonce="${nonce}">:root { --primary: ${branding.primaryColor}; }</style>` : ''}
</head>
<body>
<main>
${branding.logoUrl ? html`<img class="logo" src="${branding.logoUrl}" alt="${branding.tenantName}">` : ''}
${body}
</main>
</body>
</html>`.value;
}

export interface LoginView {
  readonly action: string;
  readonly csrf: string;
  readonly clientName: string;
  readonly username: string;
  readonly error: string | undefined;
  /** Link to the signup page, when the connection allows signup. */
  readonly signupUrl?: string | undefined;
}

export function loginPage(branding: Branding, nonce: string, view: LoginView): string {
  // After a failed attempt: both fields point at the message, and focus goes
  // to the password (the email is kept), so keyboard users retype only it.
  const invalid = view.error ? html` aria-invalid="true" aria-describedby="form-error"` : '';
  return layout(
    branding,
    nonce,
    view.error ? 'Error: log in' : 'Log in',
    html`<h1>Welcome</h1>
<p class="lead">Log in to ${branding.tenantName} to continue to ${view.clientName}.</p>
${view.error ? html`<p class="error" role="alert" id="form-error">${view.error}</p>` : ''}
<form method="post" action="${view.action}" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
<label for="username">Email address</label>
<input id="username" name="username" type="text" inputmode="email" autocomplete="username" autocapitalize="none" spellcheck="false" required${view.username ? '' : html` autofocus`} value="${view.username}"${invalid}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${view.username ? html` autofocus` : ''}${invalid}>
<button type="submit">Continue</button>
</form>
${view.signupUrl ? html`<p class="alt">Don't have an account? <a href="${view.signupUrl}">Sign up</a></p>` : ''}`,
  );
}

/** One API the application asks access to, with the scopes asked. */
export interface ConsentApi {
  /** The API's name, or its identifier when its name is not known. */
  readonly name: string;
  readonly scopes: readonly { readonly value: string; readonly description: string | null }[];
}

export interface ConsentView {
  readonly action: string;
  readonly csrf: string;
  readonly clientName: string;
  /** What it asks of the user's account (OpenID scopes), already worded for people. */
  readonly account: readonly string[];
  readonly apis: readonly ConsentApi[];
}

/**
 * Consent for a third-party application: who asks, for what, and two
 * buttons. Neither is focused on load, so a stray Enter accepts nothing.
 */
export function consentPage(branding: Branding, nonce: string, view: ConsentView): string {
  return layout(
    branding,
    nonce,
    'Authorize application',
    html`<h1>Authorize ${view.clientName}</h1>
<p class="lead">${view.clientName} is asking for access to your ${branding.tenantName} account.</p>
${view.account.length > 0 ? html`<h2 id="consent-account">Your account</h2>
<ul class="scopes" aria-labelledby="consent-account">${view.account.map((line) => html`<li>${line}</li>`)}</ul>` : ''}
${view.apis.map(
  (api, i) => html`<h2 id="consent-api-${i}">${api.name}</h2>
<ul class="scopes" aria-labelledby="consent-api-${i}">${api.scopes.map((scope) => html`<li><span class="scope">${scope.value}</span>${scope.description ? html`<span class="scope-description">${scope.description}</span>` : ''}</li>`)}</ul>`,
)}
<form method="post" action="${view.action}">
<input type="hidden" name="csrf" value="${view.csrf}">
<div class="actions">
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
<button type="submit" name="decision" value="accept">Accept</button>
</div>
</form>`,
  );
}

export function errorPage(branding: Branding, nonce: string, title: string, message: string): string {
  return layout(branding, nonce, title, html`<h1>${title}</h1>
<p class="lead" role="alert">${message}</p>`);
}

/**
 * RP-initiated logout confirmation. `engineForm` is the engine's own hidden
 * form (action and xsrf token), markup the engine generated, not user input.
 * Without `logout=yes` the engine keeps the SSO session but ends the asking
 * application's authorization (its grant is revoked): the second button says
 * so rather than "stay logged in".
 */
export function logoutConfirmPage(branding: Branding, nonce: string, engineForm: string): string {
  return layout(branding, nonce, 'Log out', html`<h1>Log out?</h1>
<p class="lead">Do you want to log out of ${branding.tenantName}, in every application?</p>
${trusted(engineForm)}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, log me out</button>
<p class="alt"><button type="submit" form="op.logoutForm">Only leave this application</button></p>`);
}

export function loggedOutPage(branding: Branding, nonce: string): string {
  return layout(branding, nonce, 'Logged out', html`<h1>You are logged out</h1>
<p class="lead">You have been logged out of ${branding.tenantName}. You can close this window.</p>`);
}

export interface SignupView {
  readonly action: string;
  readonly csrf: string;
  readonly clientName: string;
  readonly email: string;
  /** A refusal and the field it is about (marked invalid and described by the alert). */
  readonly error: { readonly message: string; readonly field: 'email' | 'password' } | undefined;
  readonly loginUrl: string;
  readonly minLength: number;
}

export function signupPage(branding: Branding, nonce: string, view: SignupView): string {
  const field = view.error?.field;
  const emailInvalid = field === 'email' ? html` aria-invalid="true" aria-describedby="form-error"` : '';
  const passwordDescribedBy = field === 'password' ? 'form-error password-rule' : 'password-rule';
  return layout(
    branding,
    nonce,
    view.error ? 'Error: sign up' : 'Sign up',
    html`<h1>Create your account</h1>
<p class="lead">Sign up to ${branding.tenantName} to continue to ${view.clientName}.</p>
${view.error ? html`<p class="error" role="alert" id="form-error">${view.error.message}</p>` : ''}
<form method="post" action="${view.action}" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="email" autocapitalize="none" spellcheck="false" required${view.email && field !== 'email' ? '' : html` autofocus`} value="${view.email}"${emailInvalid}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="${view.minLength}" aria-describedby="${passwordDescribedBy}"${view.email && field !== 'email' ? html` autofocus` : ''}${field === 'password' ? html` aria-invalid="true"` : ''}>
<p id="password-rule" class="lead">At least ${view.minLength} characters. Long passphrases are welcome.</p>
<button type="submit">Sign up</button>
</form>
<p class="alt">Already have an account? <a href="${view.loginUrl}">Log in</a></p>`,
  );
}

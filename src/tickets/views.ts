import { html } from '../login/html.js';
import { layout, type Branding } from '../login/views.js';

export interface ResetPasswordView {
  readonly action: string;
  readonly csrf: string;
  /** The link's token, posted back with the form (kept out of the form's URL). */
  readonly ticket: string;
  /** Whose password this is (shown, and offered to password managers). */
  readonly account: string;
  readonly minLength: number;
  readonly error: string | undefined;
}

/**
 * The password-reset form: the new password twice. A refusal is announced
 * (role=alert), both fields point at it and focus returns to the first one.
 */
export function resetPasswordPage(branding: Branding, nonce: string, view: ResetPasswordView): string {
  const invalid = view.error ? html` aria-invalid="true" aria-describedby="form-error password-rule"` : html` aria-describedby="password-rule"`;
  return layout(
    branding,
    nonce,
    view.error ? 'Error: change your password' : 'Change your password',
    html`<h1>Change your password</h1>
<p class="lead">Choose a new password for ${view.account} at ${branding.tenantName}.</p>
${view.error ? html`<p class="error" role="alert" id="form-error">${view.error}</p>` : ''}
<form method="post" action="${view.action}" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="ticket" value="${view.ticket}">
<input type="text" name="username" autocomplete="username" value="${view.account}" hidden readonly>
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="${view.minLength}" autofocus${invalid}>
<p id="password-rule" class="lead">At least ${view.minLength} characters. Long passphrases are welcome.</p>
<label for="confirm">Repeat the new password</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" required minlength="${view.minLength}"${view.error ? html` aria-invalid="true" aria-describedby="form-error"` : ''}>
<button type="submit">Change password</button>
</form>`,
  );
}

/** The end of a ticket's flow when no result_url was given: what happened, announced. */
export function ticketDonePage(branding: Branding, nonce: string, title: string, message: string): string {
  return layout(branding, nonce, title, html`<h1>${title}</h1>
<p class="lead" role="status">${message}</p>`);
}

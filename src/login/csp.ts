/**
 * Content-Security-Policy of the login pages: nothing but our stylesheet,
 * one nonce'd style block (the tenant colour) and images; no scripts at all;
 * never framed. `form-action` is left out on purpose: browsers apply it to the
 * redirects that follow a form POST, and the login POST ends in a redirect to
 * the application's callback on another origin.
 */
export function pageCsp(nonce: string): string {
  return `default-src 'none'; style-src 'self' 'nonce-${nonce}'; img-src 'self' https: data:; base-uri 'none'; frame-ancestors 'none'`;
}

/**
 * A minimal browser over fetch for protocol tests: keeps cookies (one host,
 * paths ignored), follows redirects by hand so a test can stop at the
 * relying party's callback, and submits forms. The real-browser tests use
 * Chromium; this one runs everywhere, fast.
 */
export class HttpBrowser {
  readonly cookies = new Map<string, string>();

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || /max-age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /**
   * GETs `url` and follows redirects until a response is not a redirect, or
   * the next location starts with `stopAt` (returned without fetching it).
   */
  async follow(url: string, stopAt?: string, maxHops = 10): Promise<{ response?: Response; url: string }> {
    let current = url;
    for (let hop = 0; hop < maxHops; hop++) {
      if (stopAt && current.startsWith(stopAt)) return { url: current };
      const res = await this.fetch(current);
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return { response: res, url: current };
      current = new URL(location, current).toString();
    }
    throw new Error(`too many redirects from ${url}`);
  }

  /** POSTs a form; returns the response (not followed). */
  async submit(url: string, fields: Record<string, string>): Promise<Response> {
    return this.fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  }
}

/** Reads the login form's action and CSRF token from the page. */
export function loginForm(page: string, base: string): { action: string; csrf: string } {
  const action = /<form method="post" action="([^"]+)"/.exec(page)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  if (!action || !csrf) throw new Error('no login form on the page');
  return { action: new URL(action.replaceAll('&amp;', '&'), base).toString(), csrf };
}

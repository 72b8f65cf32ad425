/**
 * The small HTML pages the proxy answers itself with when it cannot forward a request. Every
 * value that came from the request or the cluster is escaped.
 * @module
 */

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML element content and quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** A page the proxy sends: status, the HTML, and extra headers. */
export interface Page {
  status: number;
  html: string;
  headers?: Record<string, string>;
}

function page(status: number, title: string, lines: string[]): string {
  const body = lines.map((l) => `<p>${l}</p>`).join("\n");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${status} ${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}</style>
</head><body><h1>${escapeHtml(title)}</h1>
${body}
<hr><p><small>fossora proxy</small></p></body></html>
`;
}

/** 404 for a Host that names no service. */
export function unknownHostPage(host: string, domain: string): Page {
  return {
    status: 404,
    html: page(404, "No such service", [
      `No service answers to <code>${escapeHtml(host)}</code>.`,
      `Services are reached as <code>NAME.${escapeHtml(domain)}</code>. ` +
      `Run <code>fossora services</code> to see the services of this cluster.`,
    ]),
  };
}

/** 404 for a service that exists but publishes no HTTP port. */
export function noHttpPortPage(name: string): Page {
  return {
    status: 404,
    html: page(404, "No HTTP port", [
      `The service <code>${escapeHtml(name)}</code> exists but has no HTTP port.`,
      `Mark one of its ports with <code>http: true</code> and deploy it again.`,
    ]),
  };
}

/** 503 for a service with no ready replica, saying why in words without internals. */
export function unavailablePage(name: string, summary: string): Page {
  return {
    status: 503,
    headers: { "retry-after": "5" },
    html: page(503, "Service unavailable", [
      `The service <code>${escapeHtml(name)}</code> cannot answer right now: ` +
      `${escapeHtml(summary)}.`,
      `Try again in a minute. If it stays like this, whoever runs this cluster can see why ` +
      `with <code>fossora services</code> and <code>fossora logs ${escapeHtml(name)}</code>.`,
    ]),
  };
}

/** 502 for a backend that failed and could not be retried; the details go to the log. */
export function badGatewayPage(name: string): Page {
  return {
    status: 502,
    html: page(502, "Bad gateway", [
      `The service <code>${escapeHtml(name)}</code> did not give a proper answer.`,
      `Try again in a moment. If it keeps failing, whoever runs this cluster can see why ` +
      `with <code>fossora logs ${escapeHtml(name)}</code>.`,
    ]),
  };
}

/** 504 for a backend that did not answer in time. */
export function gatewayTimeoutPage(name: string): Page {
  return {
    status: 504,
    html: page(504, "Gateway timeout", [
      `The service <code>${escapeHtml(name)}</code> took too long to answer.`,
      `Try again in a moment. If it keeps happening, whoever runs this cluster can see why ` +
      `with <code>fossora logs ${escapeHtml(name)}</code>.`,
    ]),
  };
}

/** The body of a redirect to https://, for clients that do not follow it by themselves. */
export function redirectPage(location: string): string {
  return page(307, "Moved to HTTPS", [
    `This service is served over HTTPS: <a href="${escapeHtml(location)}">` +
    `${escapeHtml(location)}</a>.`,
  ]);
}

/**
 * The API's one error type: it carries the HTTP status and the machine-readable code, and becomes
 * the JSON error body every route answers with (modelled on hono's `HTTPException`).
 * @module
 */

/** The body of every error answer: `{ "error": { "code", "message", "details" } }`. */
export interface ErrorBody {
  error: { code: string; message: string; details: unknown[] };
}

/** An error a route throws on purpose; the app's error handler turns it into its response. */
export class ApiError extends Error {
  /** HTTP status of the answer (4xx or 5xx). */
  readonly status: number;
  /** Stable, machine-readable code such as `not_found` or `invalid_spec`. */
  readonly code: string;
  /** Items that explain the error, e.g. every problem of an invalid spec. */
  readonly details: unknown[];
  /** Extra response headers, e.g. `WWW-Authenticate` on a 401. */
  readonly headers: HeadersInit;

  /** Creates an error that answers with `status` and `{error: {code, message, details}}`. */
  constructor(
    status: number,
    code: string,
    message: string,
    details: unknown[] = [],
    headers: HeadersInit = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  /** The JSON body of this error. */
  body(): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }

  /** The response this error becomes. */
  toResponse(): Response {
    const headers = new Headers(this.headers);
    headers.set("content-type", "application/json; charset=utf-8");
    return new Response(JSON.stringify(this.body()), { status: this.status, headers });
  }
}

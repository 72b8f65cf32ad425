/**
 * HTTP requests with a chosen Host header: Deno's fetch replaces Host with the URL's, so tests
 * that reach a service by name through the proxy use node:http.
 */
import http from "node:http";

/** The answer to {@link httpRequest}. */
export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Sends one request to address:port (default 127.0.0.1) with `Host: host`. */
export function httpRequest(
  port: number,
  host: string,
  path = "/",
  method = "GET",
  address = "127.0.0.1",
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: address, port, path, method, headers: { host }, agent: false, timeout: 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** Calls an agent's API at `api` with its admin token. */
export function apiFetch(
  api: string,
  token: string,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
  return fetch(`${api}${path}`, { ...init, headers });
}

/** Calls the API and parses the JSON answer; an HTTP error throws, prefixed with `who`. */
export async function apiJson<T>(
  api: string,
  token: string,
  path: string,
  init: RequestInit = {},
  who = "",
): Promise<T> {
  const res = await apiFetch(api, token, path, init);
  const body = await res.json();
  if (!res.ok) throw new Error(`${who}${path}: ${res.status} ${JSON.stringify(body)}`);
  return body as T;
}

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

/** Sends one request to 127.0.0.1:port with `Host: host`. */
export function httpRequest(
  port: number,
  host: string,
  path = "/",
  method = "GET",
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method, headers: { host }, agent: false, timeout: 5000 },
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

/**
 * The web UI's pages, rendered on the server (hono/jsx): plain HTML forms that work without
 * JavaScript, labelled fields, and one small stylesheet inline, so the first page is a few KB and
 * needs nothing from the internet.
 * @module
 */
import { Layout, Problem } from "./layout.tsx";

/** The warning before a password is sent in clear over the LAN, with the HTTPS address. */
function PlainHttp(props: { safer?: string }) {
  if (!props.safer) return null;
  return (
    <p class="notice" role="note">
      <strong>This page is not encrypted.</strong>{" "}
      Anyone on your network could read the password you send from it. Use{" "}
      <a href={props.safer}>{props.safer}</a> instead; your browser trusts it once you{" "}
      <a href="/trust">install the cluster's certificate</a>.
    </p>
  );
}

/** How to trust the cluster's certificate on a phone, a tablet or a computer. */
export function TrustPage(props: { csrf?: string }) {
  return (
    <Layout title="Trust the cluster" csrf={props.csrf}>
      <h1>Trust this cluster's certificate</h1>
      <p>
        fossora's HTTPS (this UI on port 7443, and https://NAME.DOMAIN/ for your services) uses
        certificates from the cluster's own authority. Install its certificate once on each device
        and the browser trusts them all, with no warning.
      </p>
      <p>
        Over the tailnet, with HTTPS on in its DNS settings, the node's MagicDNS name
        (https://NODE.TAILNET.ts.net:7443/) has a certificate every device trusts already.
      </p>
      <p>
        <a class="button" href="/api/v1/ca.crt" download="fossora-ca.crt">
          Download the certificate (fossora-ca.crt)
        </a>
      </p>
      <h2>iPhone and iPad</h2>
      <ol>
        <li>Open this page in Safari and download the certificate; allow the profile.</li>
        <li>Settings, General, VPN and Device Management: install the fossora profile.</li>
        <li>
          Settings, General, About, Certificate Trust Settings: turn on full trust for it.
        </li>
      </ol>
      <h2>Android</h2>
      <ol>
        <li>Download the certificate.</li>
        <li>
          Settings, Security, More security settings, Encryption and credentials, Install a
          certificate, CA certificate: pick fossora-ca.crt.
        </li>
      </ol>
      <h2>Computers</h2>
      <ul>
        <li>
          Windows: open the file, Install Certificate, Local Machine, Trusted Root Certification
          Authorities.
        </li>
        <li>macOS: open the file in Keychain Access, then set it to Always Trust.</li>
        <li>
          Debian and Ubuntu: copy it to /usr/local/share/ca-certificates/ and run
          update-ca-certificates.
        </li>
        <li>Firefox keeps its own list: Settings, Certificates, View Certificates, Import.</li>
      </ul>
    </Layout>
  );
}

/** First run: the setup code from the agent's log, and the admin password to set. */
export function SetupPage(props: { csrf: string; problem?: string; safer?: string }) {
  const described = props.problem ? "problem" : undefined;
  return (
    <Layout title="Set up">
      <h1>Welcome to fossora</h1>
      <p>
        This cluster has no admin password yet. To show it is yours, type the setup code: it is in
        the agent's log, and <code>fossora ui setup-code</code> prints it on any node.
      </p>
      <PlainHttp safer={props.safer} />
      <Problem text={props.problem} />
      <form method="post" action="/setup">
        <input type="hidden" name="csrf" value={props.csrf} />
        <label for="code">Setup code</label>
        <input
          id="code"
          name="code"
          autocomplete="off"
          autocapitalize="characters"
          required
          aria-describedby={described}
        />
        <label for="password">Admin password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="new-password"
          minlength={10}
          required
        />
        <label for="again">The same password again</label>
        <input
          id="again"
          name="again"
          type="password"
          autocomplete="new-password"
          minlength={10}
          required
        />
        <p class="hint">At least 10 characters. Every node of the cluster takes this password.</p>
        <button type="submit">Set the password</button>
      </form>
    </Layout>
  );
}

/** Login with the admin password. */
export function LoginPage(props: { csrf: string; problem?: string; safer?: string }) {
  return (
    <Layout title="Log in">
      <h1>Log in</h1>
      <PlainHttp safer={props.safer} />
      <Problem text={props.problem} />
      <form method="post" action="/login">
        <input type="hidden" name="csrf" value={props.csrf} />
        <label for="password">Admin password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
          autofocus
        />
        <button type="submit">Log in</button>
      </form>
    </Layout>
  );
}

/** A page that says why the UI cannot serve yet, and what to do. */
export function MessagePage(props: { title: string; text: string }) {
  return (
    <Layout title={props.title}>
      <h1>{props.title}</h1>
      <p>{props.text}</p>
    </Layout>
  );
}

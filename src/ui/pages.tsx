/**
 * The web UI's pages, rendered on the server (hono/jsx): plain HTML forms that work without
 * JavaScript, labelled fields, and one small stylesheet inline, so the first page is a few KB and
 * needs nothing from the internet.
 * @module
 */
import { Layout, Problem } from "./layout.tsx";

/** First run: the setup code from the agent's log, and the admin password to set. */
export function SetupPage(props: { csrf: string; problem?: string }) {
  const described = props.problem ? "problem" : undefined;
  return (
    <Layout title="Set up">
      <h1>Welcome to fossora</h1>
      <p>
        This cluster has no admin password yet. To show it is yours, type the setup code: it is in
        the agent's log, and <code>fossora ui setup-code</code> prints it on any node.
      </p>
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
export function LoginPage(props: { csrf: string; problem?: string }) {
  return (
    <Layout title="Log in">
      <h1>Log in</h1>
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

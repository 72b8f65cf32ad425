/**
 * A real browser for the web UI's tests: Debian's chromium (scripts/test installs it) driven by
 * playwright-core, with axe-core's accessibility checks and screenshots at phone and desktop
 * width. Screenshots go to `FOSSORA_SCREENSHOTS` (default `dist/screenshots/`).
 * @module
 */
import { type Browser, chromium, type Page } from "playwright-core";

const AXE = new URL("../../node_modules/axe-core/axe.min.js", import.meta.url);
/** Where the screenshots go. */
export const SCREENSHOTS = Deno.env.get("FOSSORA_SCREENSHOTS") ??
  new URL("../../dist/screenshots/", import.meta.url).pathname;

/** Phone and desktop, the widths the UI must work at. */
export const VIEWPORTS = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1280, height: 800 },
} as const;

/**
 * Starts headless chromium; dispose it to close it. `resolve` maps host names to addresses
 * (`{"*.fossora.home.arpa": "10.0.0.2"}`), as a LAN's DNS would.
 */
export async function launchBrowser(
  resolve: Record<string, string> = {},
): Promise<Browser & AsyncDisposable> {
  const rules = Object.entries(resolve).map(([name, address]) => `MAP ${name} ${address}`);
  const browser = await chromium.launch({
    executablePath: Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium",
    // Root in a container: chromium's sandbox needs user namespaces it may not have.
    args: [
      "--no-sandbox",
      "--disable-dev-shm-usage",
      ...(rules.length ? [`--host-resolver-rules=${rules.join(",")}`] : []),
    ],
  });
  return Object.assign(browser, { [Symbol.asyncDispose]: () => browser.close() });
}

/** The axe-core violations of serious or critical impact on the page, as lines. */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: await Deno.readTextFile(AXE) });
  const found = await page.evaluate(async () => {
    // In the page, not in Deno: axe and document are the browser's.
    // deno-lint-ignore no-explicit-any
    const page = globalThis as any;
    const result = await page.axe.run(page.document);
    return result.violations.map((
      v: { id: string; impact: string; help: string; nodes: unknown[] },
    ) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      count: v.nodes.length,
    }));
  });
  return (found as { id: string; impact: string; help: string; count: number }[])
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.count})`);
}

/** Screenshots of the page as it is, at phone and at desktop width: `NAME-phone.png`… */
export async function screenshots(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  const before = page.viewportSize();
  for (const [width, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: `${SCREENSHOTS}/${name}-${width}.png`, fullPage: true });
  }
  if (before) await page.setViewportSize(before);
}

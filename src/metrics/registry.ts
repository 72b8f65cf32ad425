/**
 * A small Prometheus registry: counters with labels, and gauges read when scraped. Rendered in the
 * text exposition format (version 0.0.4).
 * @module
 */

type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** Label sets used again and again (the proxy's per-request ones) are formatted once. */
const formatted = new WeakMap<Labels, string>();

function labelText(labels: Labels): string {
  let text = formatted.get(labels);
  if (text === undefined) {
    const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    text = parts.length ? `{${parts.join(",")}}` : "";
    if (Object.isFrozen(labels)) formatted.set(labels, text);
  }
  return text;
}

/** A monotonically increasing count, one series per label set. */
export class Counter {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  /** Adds `by` (default 1) to the series with these labels. */
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const entry = this.#values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.#values.set(key, entry);
  }

  /** The current value of one series (0 when never incremented). */
  get(labels: Labels = {}): number {
    return this.#values.get(labelText(labels))?.value ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.#values.values()) {
      lines.push(`${this.name}${labelText(labels)} ${value}`);
    }
    return lines.join("\n");
  }
}

/** A value computed at scrape time: `collect` returns one sample per label set. */
export class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly collect: () => { labels?: Labels; value: number }[],
  ) {}

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const { labels, value } of this.collect()) {
      lines.push(`${this.name}${labelText(labels ?? {})} ${value}`);
    }
    return lines.join("\n");
  }
}

/** Holds every metric of the agent; `render()` is the body of `GET /metrics`. */
export class Registry {
  readonly #metrics = new Map<string, Counter | Gauge>();

  /** Returns the counter of this name, creating it on first use. */
  counter(name: string, help: string): Counter {
    const existing = this.#metrics.get(name);
    if (existing instanceof Counter) return existing;
    const c = new Counter(name, help);
    this.#metrics.set(name, c);
    return c;
  }

  /** Registers a gauge, replacing one of the same name. */
  gauge(name: string, help: string, collect: Gauge["collect"]): Gauge {
    const g = new Gauge(name, help, collect);
    this.#metrics.set(name, g);
    return g;
  }

  render(): string {
    return [...this.#metrics.values()].map((m) => m.render()).join("\n") + "\n";
  }
}

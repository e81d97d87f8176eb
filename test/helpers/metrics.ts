import type { TestServer } from "./server.js";

/** A metric's value on the test server, summed over its series (those with `labels`, if given). */
export async function metricValue(
  t: Pick<TestServer, "server">,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = t.server.ctx.metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((sum, v) => sum + v.value, 0);
}

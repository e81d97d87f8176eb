// Summarises a V8 CPU profile (node --cpu-prof): self time by function and by file.
//   npx tsx bench/lib/profile.ts FILE.cpuprofile [top=25]
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time not idle (everything but "(idle)"). */
  busyMs: number;
  functions: SelfTime[];
  files: SelfTime[];
}

function shortUrl(url: string, root: string): string {
  if (!url) return "";
  if (url.startsWith("node:")) return url;
  try {
    const path = url.startsWith("file://") ? fileURLToPath(url) : url;
    const rel = relative(root, path);
    return rel.startsWith("..") ? path : rel;
  } catch {
    return url;
  }
}

export function summarizeProfile(file: string, root: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const files = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    total += us;
    const name = cf.functionName || "(anonymous)";
    if (name === "(idle)") {
      idle += us;
      continue;
    }
    const url = shortUrl(cf.url, root);
    const where = url ? `${url}:${cf.lineNumber + 1}` : "";
    const key = `${name}@${where}`;
    const e = fn.get(key) ?? { name, where, us: 0 };
    e.us += us;
    fn.set(key, e);
    const fileKey = url
      ? url.replace(/^node_modules\/([^/]+(?:\/[^/]+)?)\/.*$/, "node_modules/$1")
      : name;
    files.set(fileKey, (files.get(fileKey) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => Math.round((us / busy) * 1000) / 10;
  return {
    totalMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    functions: [...fn.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({
        name: e.name,
        where: e.where,
        ms: Math.round(e.us / 1000),
        percent: pct(e.us),
      })),
    files: [...files.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([where, us]) => ({ name: where, where, ms: Math.round(us / 1000), percent: pct(us) })),
  };
}

export function profileText(s: ProfileSummary): string {
  const lines = [
    `profile: ${s.totalMs} ms sampled, ${s.busyMs} ms busy (not idle); self time as % of busy:`,
    "",
    "  top functions (self time):",
    ...s.functions.map(
      (f) =>
        `  ${f.percent.toFixed(1).padStart(5)}%  ${String(f.ms).padStart(6)} ms  ${f.name}  ${f.where}`,
    ),
    "",
    "  by file / package (self time):",
    ...s.files.map(
      (f) => `  ${f.percent.toFixed(1).padStart(5)}%  ${String(f.ms).padStart(6)} ms  ${f.name}`,
    ),
  ];
  return lines.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: npx tsx bench/lib/profile.ts FILE.cpuprofile [top]");
    process.exit(2);
  }
  console.log(profileText(summarizeProfile(file, process.cwd(), Number(process.argv[3] ?? 25))));
}

// The proxy's rows of the bench: capacity (wrk on GET /kyc/status, this build side by side with a
// baseline build, alternating, in one run) and held requests (bench/hold.mjs: 10,000 at once,
// memory per held request, wake-ups). bench/run.mjs uses it for its sections 6 and 8; on its own
// it measures only these and rewrites them in bench/results/report.md:
//
//   ulimit -n 20000      (bench/hold.mjs holds 10,000 sockets, in its process and the proxy's)
//   cargo build --release -p gu1-kyc-proxy
//   node bench/proxy.mjs [--port 28000] [--rounds 2] [--baseline BINARY] [--hold 10000]
//
// The baseline is the release build of commit 7a572f9 (the proxy before the operators' work of
// issue 28, 20,145-21,629 req/s on the issue's machine): built once into target/bench/baseline/
// from `git archive` unless --baseline names a binary. Ports: --port and the next five, loopback.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { cpus, loadavg } from "node:os";

const ROOT = new URL("..", import.meta.url).pathname;
export const BASELINE_COMMIT = "7a572f9";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The release build of BASELINE_COMMIT's proxy, built the first time (a few minutes). */
export function baselineBinary() {
  const dir = `${ROOT}target/bench/baseline`;
  const bin = `${dir}/target/release/gu1-kyc-proxy`;
  if (existsSync(bin)) return bin;
  mkdirSync(`${dir}/src`, { recursive: true });
  const tar = spawnSync("sh", ["-c", `git -C "${ROOT}" archive ${BASELINE_COMMIT} | tar -x -C "${dir}/src"`], { stdio: "inherit" });
  if (tar.status !== 0) throw new Error(`git archive ${BASELINE_COMMIT} failed`);
  const build = spawnSync("cargo", ["build", "--release", "-p", "gu1-kyc-proxy", "--quiet"], {
    cwd: `${dir}/src`,
    env: { ...process.env, CARGO_TARGET_DIR: `${dir}/target` },
    stdio: "inherit",
  });
  if (build.status !== 0) throw new Error(`the build of ${BASELINE_COMMIT} failed`);
  return bin;
}

/**
 * One request on a connection of its own, closed after the answer: {status, body}. (fetch keeps
 * its connection open, and wrk's 64 with it would pass the per-client cap of 64: wrk's 65th
 * would be refused and reopened in a loop, its 503s counted as requests.)
 */
function once(url, method = "GET", body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers: body ? { "Content-Type": "application/json" } : {} }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A simulate-mode proxy from `binary` on `port` (hosted pages on port + 1), once it answers. */
async function simulator(binary, port, extra = []) {
  const base = `127.0.0.1:${port}`;
  const p = spawn(binary, ["simulate", "--listen", base, "--hosted-listen", `127.0.0.1:${port + 1}`, ...extra], { stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await once(`http://${base}/health`)).status === 200) return { p, base };
    } catch {}
    await sleep(100);
  }
  p.kill();
  throw new Error(`${binary} did not answer on ${base}`);
}

/**
 * wrk -t2 -c64 -d10s on one session's GET /kyc/status: 2xx answers per second (any other answer
 * is counted apart, not as capacity), p50, p99 (ms).
 */
async function wrkStatus(base) {
  const s = JSON.parse((await once(`http://${base}/__control/sessions`, "POST", "{}")).body);
  await sleep(200); // the proxy counts that connection out before wrk's 64 come
  const out = spawnSync("wrk", ["-t2", "-c64", "-d10s", "--latency", "-H", `Authorization: Bearer ${s.token}`, s.statusUrl], { encoding: "utf8" });
  if (out.status !== 0) throw new Error(out.stderr || "wrk failed");
  const msOf = (v) => (v.endsWith("us") ? parseFloat(v) / 1000 : v.endsWith("ms") ? parseFloat(v) : parseFloat(v) * 1000);
  const non2xx = Number((out.stdout.match(/Non-2xx or 3xx responses:\s+(\d+)/) || [0, 0])[1]);
  const [, requests, secs] = out.stdout.match(/(\d+) requests in ([\d.]+)s/);
  return {
    rps: (Number(requests) - non2xx) / Number(secs),
    p50: msOf(out.stdout.match(/50%\s+([\d.]+\w+)/)[1]),
    p99: msOf(out.stdout.match(/99%\s+([\d.]+\w+)/)[1]),
    non2xx,
  };
}

/**
 * Capacity of each build, `rounds` times in alternating order (A B, B A, ...) so a drift of the
 * machine's load falls on both: [{ name, runs: [{ rps, p50, p99, non2xx }] }]. Each run has a
 * fresh simulate-mode proxy with its defaults (every defence on: the per-client cap of 64 fits
 * wrk's 64 connections).
 */
export async function capacity(builds, { rounds = 2, port = 28000 } = {}) {
  const rows = builds.map((b) => ({ name: b.name, runs: [] }));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...rows.keys()].reverse() : [...rows.keys()];
    for (const i of order) {
      const { p, base } = await simulator(builds[i].binary, port, builds[i].args || []);
      try {
        rows[i].runs.push(await wrkStatus(base));
      } finally {
        p.kill();
        await new Promise((res) => p.once("exit", res));
      }
    }
  }
  return rows;
}

/** bench/hold.mjs against a release proxy of `binary` on `port`: its JSON line. */
export async function held(binary, { port = 28002, waiters = 10000 } = {}) {
  const secret = "bench-hold-secret";
  const { p, base } = await simulator(binary, port, ["--webhook-secret", secret, "--max-connections", "12000", "--max-wait-secs", "300", "--webhook-concurrency", "64", "--sim-webhooks", "off", "--max-connections-per-client", "0"]);
  try {
    const out = spawnSync("node", [`${ROOT}bench/hold.mjs`, "--proxy", `http://${base}`, "--pid", String(p.pid), "--webhook-secret", secret, "--waiters", String(waiters)], { encoding: "utf8", timeout: 600_000 });
    const line = (out.stdout || "").trim().split("\n").pop();
    try {
      return JSON.parse(line);
    } catch {
      return { error: (out.stderr || out.stdout || "no output").slice(-400) };
    }
  } finally {
    p.kill();
  }
}

const range = (xs, f) => {
  const lo = Math.min(...xs), hi = Math.max(...xs);
  return lo === hi ? f(lo) : `${f(lo)}–${f(hi)}`;
};

/**
 * Section 5 of the report, from capacity()'s rows (the first is this build); `load`: the
 * machine's 1-minute load average when the runs began (others' work shares the cores).
 */
export function capacitySection(rows, load) {
  if (rows.error) return `## 6. Proxy capacity\n\nnot measured: ${rows.error}\n`;
  const mean = (row) => row.runs.reduce((s, r) => s + r.rps, 0) / row.runs.length;
  const ours = rows[0];
  const table = rows
    .map((row) => `| ${row.name} | ${row.runs.map((r) => r.rps.toFixed(0)).join(", ")} | ${range(row.runs.map((r) => r.p50), (v) => v.toFixed(2))} ms | ${range(row.runs.map((r) => r.p99), (v) => v.toFixed(2))} ms | ${row.runs.reduce((s, r) => s + r.non2xx, 0)} | ${(mean(row) / mean(ours)).toFixed(2)}× |`)
    .join("\n");
  const base = rows[1];
  return `## 6. Proxy capacity (gu1-kyc-proxy simulate, release builds, wrk -t2 -c64 -d10s on GET /kyc/status, loopback)

| build | requests/s, each run | p50 | p99 | non-2xx | requests/s against this build |
|---|---|---|---|---|---|
${table}
${base ? `\nThis build is compared with the release build of commit ${BASELINE_COMMIT}, measured in the same run, the two
alternating (${ours.runs.length} runs each): ${(mean(ours) / mean(base)).toFixed(2)}× its requests per second (issue 28 asks for at least
1.2×). Each run starts a fresh proxy with its defaults; this build's per-client connection cap (64)
and every other limit stay on.${load === undefined ? "" : ` Measured ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, load average ${load.toFixed(2)}
when the runs began: compare the builds within the run, not with other runs.`}\n` : ""}`;
}

/** The budget row and section 8 of the report, from held()'s line. */
export function heldBudget(hold) {
  return ["One proxy instance holds ≥ 10,000 waiting requests", hold.error ? "not measured" : `${hold.held} held, ${hold.failed} failed`, !hold.error && hold.held >= 10_000 && hold.failed === 0];
}
export function heldSection(hold) {
  return `## 8. Held requests (one gu1-kyc-proxy instance, release build, simulate mode, raw sockets)

${hold.error ? `not measured: ${hold.error}` : `| waiting requests held at once | proxy RSS before → while held | per waiting request | wake-up after the webhook, p50 / p99 / max | answered 200 | gu1 reads per verification |
|---|---|---|---|---|---|
| ${hold.held} of ${hold.waiters} | ${(hold.rssBeforeKiB / 1024).toFixed(1)} → ${(hold.rssHeldKiB / 1024).toFixed(1)} MiB | ${(hold.bytesPerWaiter / 1024).toFixed(1)} KiB | ${hold.wakeP50Ms} / ${hold.wakeP99Ms} / ${hold.wakeMaxMs} ms | ${hold.answered200} | ${hold.gu1ReadsPerVerification} |

Per waiting request includes its TCP connection and HTTP/1.1 state in the proxy. Wake-up is from
the moment bench/hold.mjs posts a session's signed webhook to the first byte of that session's
answer, with all ${hold.held} requests held and the webhooks posted 64 at a time.`}
`;
}

// On its own: measure, print, and rewrite the proxy's parts of the report.
if (process.argv[1] === new URL(import.meta.url).pathname) {
  const args = Object.fromEntries(
    process.argv.slice(2).reduce((pairs, a, i, all) => {
      if (a.startsWith("--")) pairs.push([a.slice(2), all[i + 1]]);
      return pairs;
    }, []),
  );
  const port = Number(args.port || 28000);
  const ours = `${ROOT}target/release/gu1-kyc-proxy`;
  const builds = [{ name: "this build", binary: ours }, { name: `${BASELINE_COMMIT}`, binary: args.baseline || baselineBinary() }];
  const load = loadavg()[0];
  const rows = await capacity(builds, { rounds: Number(args.rounds || 2), port });
  console.log(JSON.stringify(rows));
  const hold = await held(ours, { port: port + 2, waiters: Number(args.hold || 10000) });
  console.log(JSON.stringify(hold));
  const report = `${ROOT}bench/results/report.md`;
  let md = readFileSync(report, "utf8");
  const [budget, measured, met] = heldBudget(hold);
  md = md
    .replace(/^\| One proxy instance holds .*$/m, `| ${budget} | ${measured} | ${met ? "yes" : "**no**"} |`)
    .replace(/## 6\. Proxy capacity[\s\S]*?(?=## 7\.)/, `${capacitySection(rows, load)}\n`)
    .replace(/## 8\. Held requests[\s\S]*?(?=\n## |$)/, heldSection(hold))
    .replace(/^(Measured on .*)\n(Sections 6 and 8 .*\n)?/m, `$1\nSections 6 and 8 (the proxy) measured again on ${new Date().toISOString().slice(0, 10)} by bench/proxy.mjs.\n`);
  writeFileSync(report, md);
  console.log(capacitySection(rows, load));
  console.log(heldSection(hold));
}

// The dashboard in a real browser: starts paystat-publish, -compute, -ingest
// and -gateway on free loopback ports, loads the article's dataset with
// `paystat send`, opens the page in headless Debian Chromium (playwright-core)
// and checks the article's figures, the filters, the charts and a live update.
//
// Environment: PAYSTAT_BIN_DIR (build directory, default <repo>/build),
// PAYSTAT_BROWSER_OUT (where logs and the screenshot go, default a new
// temporary directory), CHROMIUM (default /usr/bin/chromium).
// Run through tests/browser/run.sh.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const SOURCE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN_DIR = process.env.PAYSTAT_BIN_DIR || path.join(SOURCE_DIR, "build");
const OUT_DIR = process.env.PAYSTAT_BROWSER_OUT || fs.mkdtempSync(path.join(os.tmpdir(), "paystat-browser-"));
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const START_MS = 10000;
// Per-test limit (node:test's `timeout` option, which Node 18 has; run.sh
// does not pass --test-timeout, a Node >= 20.11 flag).
const TEST_MS = 180000;
const LIMIT = { timeout: TEST_MS };
// The acceptance figure: a report sent with `paystat send` shows on
// the open page within 2 s, without a reload.
const LIVE_UPDATE_MS = 2000;
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const services = []; // started in order, stopped in reverse
let endpoints;
let context;
let page;

function freePorts(n) {
  const servers = [];
  return new Promise((resolve, reject) => {
    const next = () => {
      if (servers.length === n) {
        const ports = servers.map((s) => s.address().port);
        let closed = 0;
        servers.forEach((s) => s.close(() => ++closed === n && resolve(ports)));
        return;
      }
      const server = net.createServer();
      server.on("error", reject);
      server.listen(0, "127.0.0.1", () => {
        servers.push(server);
        next();
      });
    };
    next();
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    socket.on("connect", () => socket.end(() => resolve(true)));
    socket.on("error", () => resolve(false));
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function start(name, exe, args, ports) {
  const workdir = path.join(OUT_DIR, name);
  fs.mkdirSync(workdir, { recursive: true });
  const log = fs.openSync(path.join(OUT_DIR, name + ".log"), "a");
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PAYSTAT_")));
  const child = spawn(path.join(BIN_DIR, exe), args, { cwd: workdir, env, stdio: ["ignore", log, log] });
  const service = { name, child, exited: null };
  child.on("exit", (code, signal) => (service.exited = { code, signal }));
  services.push(service);
  const deadline = Date.now() + START_MS;
  for (const port of ports) {
    while (!(await portOpen(port))) {
      assert.equal(service.exited, null, `${name} exited during start-up (see ${OUT_DIR}/${name}.log)`);
      assert.ok(Date.now() < deadline, `${name} did not open port ${port} (see ${OUT_DIR}/${name}.log)`);
      await sleep(20);
    }
  }
}

async function stop(service) {
  if (service.exited) return service.exited;
  service.child.kill("SIGTERM");
  const deadline = Date.now() + 10000;
  while (!service.exited && Date.now() < deadline) await sleep(20);
  if (!service.exited) service.child.kill("SIGKILL");
  return service.exited;
}

function send(file) {
  const result = spawnSync(path.join(BIN_DIR, "tools/paystat"), ["send", file], {
    env: { ...process.env, PAYSTAT_INGEST: endpoints.ingest },
    encoding: "utf8",
    timeout: 60000,
  });
  assert.equal(result.status, 0, `paystat send ${file}: ${result.stdout}${result.stderr}`);
}

async function getJson(urlPath) {
  const response = await fetch(endpoints.http + urlPath);
  return { status: response.status, body: await response.json() };
}

before(async () => {
  const [ingest, compute, publish, feed, snapshot, http] = await freePorts(6);
  const tcp = (port) => `tcp://127.0.0.1:${port}`;
  endpoints = { ingest: tcp(ingest), http: `http://127.0.0.1:${http}` };
  await start("publish", "services/publish/paystat-publish",
    ["--bind", tcp(publish), "--feed", tcp(feed), "--snapshot", tcp(snapshot)], [publish, feed, snapshot]);
  await start("compute", "services/compute/paystat-compute",
    ["--bind", tcp(compute), "--publish", tcp(publish), "--ratios", path.join(SOURCE_DIR, "data/ratios.conf")],
    [compute]);
  await start("ingest", "services/ingest/paystat-ingest", ["--bind", tcp(ingest), "--compute", tcp(compute)], [ingest]);
  await start("gateway", "services/gateway/paystat-gateway",
    ["--feed", tcp(feed), "--snapshot", tcp(snapshot), "--listen", `127.0.0.1:${http}`], [http]);
  send(path.join(SOURCE_DIR, "data/morocco-2011-2012.csv"));
  // The data has been acknowledged; wait until the gateway shows it.
  const topic = "CMI/2012/activity=ecommerce,card=*";
  for (let i = 0; ; i++) {
    const { body } = await getJson("/api/v1/indicators?prefix=" + encodeURIComponent(topic));
    if (body.ready && body.count === 1 && body.indicators[0].yoy_amount_pct !== undefined) break;
    assert.ok(i < 500, "the gateway never showed " + topic);
    await sleep(20);
  }
  context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(OUT_DIR, "chromium-")), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (error) => console.error("page error:", error));
  await page.goto(endpoints.http + "/");
  await page.waitForSelector("body[data-loaded=true]");
}, LIMIT);

after(async () => {
  if (page) await page.screenshot({ path: path.join(OUT_DIR, "dashboard.png"), fullPage: true });
  if (context) await context.close();
  const problems = [];
  for (const service of services.reverse()) {
    const how = await stop(service);
    if (how.code !== 0) problems.push(`${service.name} exited ${JSON.stringify(how)} (see ${OUT_DIR}/${service.name}.log)`);
  }
  console.log(`screenshot and logs: ${OUT_DIR}`);
  assert.deepEqual(problems, []);
}, LIMIT);

const row = (topic) => page.locator(`#indicators tr[data-topic="${topic}"]`);

test("the table shows the article's figures", LIMIT, async () => {
  const cmi = row("CMI/2012/activity=ecommerce,card=*");
  assert.equal(await cmi.locator("td.yoy-amount").textContent(), "+48.3 %");
  assert.equal(await cmi.locator("td.amount").textContent(), "752,300,000.00 MAD");
  const domestic = row("CMI/2012/activity=ecommerce,card=domestic");
  assert.equal(await domestic.locator("td.yoy-amount").textContent(), "+46.4 %");
  assert.match(await domestic.locator("td.share").textContent(), /card 94\.6 %/);
  const mtc = row("MTC/2012/channel=online");
  assert.equal(await mtc.locator("td.count").textContent(), "1,250,000");
  assert.equal(await mtc.locator("td.avg-ticket").textContent(), "594.40 MAD");
  const ratio = page.locator('#ratios tr[data-topic="$ratio/abroad_vs_domestic/2012"] td.value');
  assert.equal(await ratio.textContent(), "9.30");
  assert.equal(await page.locator("#status").getAttribute("data-state"), "live");
});

// Shows the rows that FILTERS (select id -> value) leave, then clears them.
async function filtered(filters, column) {
  try {
    for (const [id, value] of Object.entries(filters)) await page.selectOption(id, value);
    return await page.locator(`#indicators tbody td.${column}`).allTextContents();
  } finally {
    for (const id of Object.keys(filters)) await page.selectOption(id, "");
  }
}

test("filters narrow the table", LIMIT, async () => {
  const total = await page.locator("#indicators tbody tr").count();
  const sources = await filtered({ "#filter-source": "OC" }, "source");
  assert.ok(sources.length > 0 && sources.length < total);
  assert.ok(sources.every((s) => s === "OC"), sources.join());
  const dims = await filtered({ "#filter-dim": "card=domestic" }, "dims");
  assert.ok(dims.length > 0 && dims.every((d) => d.includes("card=domestic")), dims.join());
  const periods = await filtered({ "#filter-period": "2011" }, "period");
  assert.ok(periods.length > 0 && periods.every((p) => p === "2011"), periods.join());
  const both = await filtered({ "#filter-source": "CMI", "#filter-period": "2012" }, "period");
  assert.ok(both.length > 0 && both.length < total - periods.length, both.join());
  assert.equal(await page.locator("#indicators tbody tr").count(), total);
});

test("the chart, growth bars and shares render for a chosen series", LIMIT, async () => {
  await page.selectOption("#series-select", "CMI/activity=ecommerce,card=*");
  await page.waitForFunction(() => document.querySelectorAll("#line-chart circle.amount").length === 2);
  const periods = await page.locator("#line-chart text").allTextContents();
  assert.ok(periods.includes("2011") && periods.includes("2012"), periods.join());
  const bar = page.locator("#yoy-chart rect.bar.amount");
  assert.equal(await bar.count(), 1);
  assert.match(await bar.locator("title").textContent(), /2012 amount: \+48\.3 %/);
  await page.selectOption("#share-period", "2012");
  const segments = await page.locator("#shares .segment").allTextContents();
  assert.ok(segments.includes("domestic 94.6 %"), segments.join(" | "));
  assert.ok(segments.includes("foreign 5.4 %"), segments.join(" | "));
});

test("a new report shows without reloading the page", LIMIT, async () => {
  await page.evaluate(() => (window.paystatSamePage = true));
  const file = path.join(OUT_DIR, "correction.csv");
  fs.writeFileSync(file,
    "source,period,card,activity,channel,count,amount,currency,op\n" +
    "CMI,2012,domestic,ecommerce,,,800000000.00,MAD,set\n");
  send(file);
  // 800.00 + 40.47 MDH; growth against 507.40 MDH.
  const amount = 'tr[data-topic="CMI/2012/activity=ecommerce,card=*"] td.amount';
  await page.waitForFunction(
    (selector) => document.querySelector(selector)?.textContent === "840,470,000.00 MAD",
    amount, { timeout: LIVE_UPDATE_MS });
  assert.equal(await row("CMI/2012/activity=ecommerce,card=*").locator("td.yoy-amount").textContent(), "+65.6 %");
  await page.waitForFunction(() => /\+65\.6 %/.test(document.querySelector("#yoy-chart rect.bar.amount title")?.textContent));
  assert.equal(await page.evaluate(() => window.paystatSamePage), true);
});

/**
 * The dashboard (`GET /`) in a real browser: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) opens the page of a server started with `--http 127.0.0.1:0`, sees the client
 * count change live as test clients connect and leave, sees a message-rate point after a burst of
 * SAYs, the clients, rooms and disconnects tables, a phone-width layout and dark mode, and saves a
 * screenshot in its temporary folder (and at `$SWITCHBOARD_SCREENSHOT` when that is set, which is
 * how docs/dashboard.png is made). Without a browser it says so and is ignored.
 */

import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { type RawClient, rawClient } from "./helpers/raw_client.ts";
import { ROOT, startTestServer } from "./helpers/servers.ts";
import { within } from "./helpers/wait.ts";

/** Where Debian installs it; `SWITCHBOARD_CHROMIUM` names another. */
function findChromium(): string | null {
  const candidates = [Deno.env.get("SWITCHBOARD_CHROMIUM"), "/usr/bin/chromium"];
  for (const path of candidates) {
    if (path === undefined || path === "") continue;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Not there.
    }
  }
  return null;
}

const CHROMIUM = findChromium();
if (CHROMIUM === null) {
  console.log(
    "dashboard_browser_test: skipped: no Chromium at /usr/bin/chromium or $SWITCHBOARD_CHROMIUM " +
      "(.ci/run installs Debian's chromium with apt-get when it can)",
  );
}

/** Every wait of the test is bounded by this (milliseconds). */
const WAIT = 10_000;

/** The pids of the processes whose name starts with `chrom` below `root` (Linux `/proc`). */
function chromiumBelow(root: number): number[] {
  const parent = new Map<number, number>();
  const name = new Map<number, string>();
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
        // pid (comm) state ppid ...: comm may hold spaces and parentheses.
        const close = stat.lastIndexOf(")");
        const ppid = Number(stat.slice(close + 2).split(" ")[1]);
        parent.set(Number(entry.name), ppid);
        name.set(Number(entry.name), stat.slice(stat.indexOf("(") + 1, close));
      } catch {
        // Gone meanwhile.
      }
    }
  } catch {
    return []; // No /proc: not Linux.
  }
  const below = (pid: number): boolean => {
    for (let p = parent.get(pid), hops = 0; p !== undefined && hops < 64; hops++) {
      if (p === root) return true;
      p = parent.get(p);
    }
    return false;
  };
  return [...name].filter(([pid, comm]) => comm.startsWith("chrom") && below(pid)).map(([p]) => p);
}

/** Whether a process still runs (a zombie does not count). */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Reads frames until `count` of them matched `pattern` (others, such as JOINED, are skipped). */
async function until(c: RawClient, pattern: RegExp, count: number): Promise<void> {
  for (let seen = 0; seen < count;) if (pattern.test(await c.next(WAIT))) seen++;
}

/** What the page-side functions use of an element (this module is checked without DOM types). */
interface PageElement {
  scrollWidth: number;
  clientWidth: number;
  ownerDocument: {
    defaultView: { getComputedStyle(el: PageElement): { backgroundColor: string } };
  };
}

async function text(page: Page, selector: string): Promise<string> {
  return (await page.textContent(selector, { timeout: WAIT }))?.trim() ?? "";
}

/** Waits until the element's text is `want`, and says what it was instead. */
async function untilText(page: Page, selector: string, want: string): Promise<void> {
  try {
    // A locator, not a function run in the page: the page's CSP forbids eval.
    const exact = new RegExp(`^\\s*${want.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*$`);
    await page.locator(selector).filter({ hasText: exact }).waitFor({ timeout: WAIT });
  } catch (e) {
    throw new Error(
      `${selector} did not show "${want}" (it shows "${await text(page, selector)}")`,
      {
        cause: e,
      },
    );
  }
}

Deno.test({
  name: "the dashboard follows clients and messages live in headless Chromium",
  ignore: CHROMIUM === null,
  // playwright-core keeps the browser's pipes and timers in its own bookkeeping.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sb-dashboard-" });
    await using server = await startTestServer({ http: "127.0.0.1:0" });
    assert.ok(server.httpAddr !== null, "the server has an HTTP endpoint");
    const url = `http://127.0.0.1:${server.httpAddr.port}/`;
    const clients: RawClient[] = [];
    let browser: Browser | null = null;
    const seen = new Set<number>();
    let passed = false;
    let page: Page | null = null;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM!,
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        timeout: 30_000,
      });
      for (const pid of chromiumBelow(Deno.pid)) seen.add(pid);
      const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => {
        // Failed loads are told by the response listener, with their address.
        if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
          errors.push(m.text());
        }
      });
      page.on("response", (r) => {
        if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) {
          errors.push(`${r.status()} from ${r.url()}`);
        }
      });
      page.on("request", (r) => {
        if (!r.url().startsWith(url)) errors.push(`fetched from elsewhere: ${r.url()}`);
      });

      await page.goto(url, { timeout: WAIT });
      await untilText(page, "#state", "live");
      await untilText(page, "#connections", "0");

      // Clients connect: the count follows without a reload.
      clients.push(await rawClient(server.port, { nick: "alice", room: "dev" }));
      clients.push(await rawClient(server.port, { nick: "bob", room: "dev" }));
      clients.push(await rawClient(server.port, { nick: "carol", room: "ops" }));
      await untilText(page, "#connections", "3");
      await page.waitForSelector("#clients td:text-is('carol')", { timeout: WAIT });
      await page.waitForSelector("#rooms td:text-is('dev')", { timeout: WAIT });

      // A burst: 200 messages to dev, delivered to bob: a point above zero on the rate chart.
      const [alice, bob] = clients as [RawClient, RawClient];
      const burst = 200;
      let lines = "";
      for (let i = 0; i < burst; i++) lines += `SAY dev :burst ${i}\r\n`;
      await alice.send(lines);
      await until(alice, /^OK 1 \d+$/, burst);
      await until(bob, /^MSG dev alice id \d+ burst /, burst);
      await page.locator('#rate-chart:not([data-max="0"])').waitFor({ timeout: WAIT });
      assert.ok(
        Number(await page.getAttribute("#conn-chart", "data-points", { timeout: WAIT })) >= 2,
        "the connections chart has a point per second",
      );

      // One leaves: the count drops and the disconnect shows with its reason.
      const carol = clients.pop()!;
      await carol.line("QUIT");
      await carol.closed();
      carol.close();
      await untilText(page, "#connections", "2");
      await page.waitForSelector("#disconnects td:text-is('carol')", { timeout: WAIT });
      const reason = await text(page, "#disconnects td.reason");
      assert.notEqual(reason, "", "the disconnect has a reason");
      assert.notEqual(reason, "-", "the disconnect has a reason");

      const shot = `${dir}/dashboard.png`;
      await page.screenshot({ path: shot, fullPage: true, timeout: WAIT });
      assert.ok((await Deno.stat(shot)).size > 1000, "the screenshot was written");
      const keep = Deno.env.get("SWITCHBOARD_SCREENSHOT");
      if (keep !== undefined && keep !== "") {
        const target = keep.startsWith("/") ? keep : `${ROOT}${keep}`;
        await Deno.copyFile(shot, target);
        console.log(`dashboard_browser_test: screenshot saved as ${target}`);
      }

      // A phone: nothing wider than the screen.
      await page.setViewportSize({ width: 375, height: 812 });
      const overflow = await page.locator("html").evaluate((el: PageElement) =>
        el.scrollWidth - el.clientWidth
      );
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 375px screen`);

      // Dark mode: a dark background.
      await page.emulateMedia({ colorScheme: "dark" });
      const background = await page.locator("body").evaluate((el: PageElement) =>
        el.ownerDocument.defaultView.getComputedStyle(el).backgroundColor
      );
      const [r = 255, g = 255, b = 255] = (background.match(/\d+/g) ?? []).map(Number);
      assert.ok(r + g + b < 150, `the background in dark mode is ${background}`);

      assert.deepEqual(errors, [], "no script errors and nothing fetched from elsewhere");
      for (const pid of chromiumBelow(Deno.pid)) seen.add(pid);
      await context.close();
      passed = true;
    } finally {
      if (!passed && page !== null) {
        await page.screenshot({ path: `${dir}/failed.png`, fullPage: true, timeout: 5000 })
          .then(() =>
            console.log(`dashboard_browser_test: the page when it failed: ${dir}/failed.png`)
          )
          .catch(() => {});
      }
      for (const c of clients) c.close();
      if (browser !== null) {
        await within(WAIT, "closing Chromium", browser.close()).catch((e) => {
          for (const pid of chromiumBelow(Deno.pid)) {
            try {
              Deno.kill(pid, "SIGKILL");
            } catch {
              // Gone.
            }
          }
          throw e;
        });
      }
      if (passed) await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    // Nothing left behind: every Chromium process seen while it ran has ended.
    const deadline = Date.now() + WAIT;
    while ([...seen].some(alive) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual([...seen].filter(alive), [], "Chromium processes left behind");
  },
});

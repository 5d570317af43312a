/**
 * The floor of any Deno TCP server: greets like Switchboard (`HELLO`), then answers each line that
 * arrives with one reply line (`PONG`, or `TIME ...` for `TIME`): one read, one write, nothing
 * else. `deno task bench` runs it in the latency workload to show how much of Switchboard's round
 * trip is the runtime's and how much is its own.
 *
 * Usage: `deno run --allow-net bench/echo_floor.ts PORT`
 *
 * @module
 */

const port = Number(Deno.args[0]);
const enc = new TextEncoder();
const PONG = enc.encode("PONG\r\n");
const listener = Deno.listen({ hostname: "127.0.0.1", port });

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buf = new Uint8Array(1024);
  try {
    await conn.write(enc.encode('HELLO {"server":"echo-floor"}\r\n'));
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      // One reply per line; lines here are whole commands of a few bytes.
      for (let i = 0; i < n; i++) {
        if (buf[i] !== 10) continue;
        if (buf[0] === 84) { // TIME
          const now = Date.now();
          await conn.write(enc.encode(`TIME ${new Date(now).toISOString()} ${now}\r\n`));
        } else await conn.write(PONG);
      }
    }
  } catch {
    // The client went away.
  } finally {
    try {
      conn.close();
    } catch {
      // Closed.
    }
  }
}

for await (const conn of listener) void serve(conn);

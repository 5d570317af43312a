import assert from "node:assert/strict";
import { describeIoError } from "./errors.ts";

Deno.test("describeIoError() names the problem without the server's paths", () => {
  const denied = new Deno.errors.PermissionDenied(
    "Permission denied (os error 13): open '/srv/share/x'",
  );
  assert.equal(describeIoError(denied), "permission denied on the server");
  const full = Object.assign(new Error("No space left on device (os error 28): write '/srv/x'"), {
    code: "ENOSPC",
  });
  assert.equal(describeIoError(full), "no space left on the server's disk");
  assert.equal(
    describeIoError(new Error("Something odd (os error 99): '/secret/path'")),
    "something odd",
  );
});

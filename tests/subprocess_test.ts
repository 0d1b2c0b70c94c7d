import { assertEquals } from "@std/assert";
import { outputOrKill } from "../_tools/subprocess.ts";

function shell(script: string): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("outputOrKill() kills a subprocess still running after the timeout and returns what it printed", async () => {
  const output = await outputOrKill(shell("echo started; exec sleep 60"), 200);
  assertEquals(output.signal, "SIGKILL");
  assertEquals(new TextDecoder().decode(output.stdout), "started\n");
});

// The op sanitizer fails this test if the kill timer outlives the call.
Deno.test("outputOrKill() returns the output of a subprocess that exits in time, and leaves no timer", async () => {
  const output = await outputOrKill(shell("echo done; exit 3"), 60_000);
  assertEquals(output.code, 3);
  assertEquals(output.signal, null);
  assertEquals(new TextDecoder().decode(output.stdout), "done\n");
});

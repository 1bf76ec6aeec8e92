// Drives State Backed's published client (@statebacked/client, pinned in package-lock.json)
// against a tokensmith server, as an app would use it: the client is given the identity
// provider's token and exchanges it at `${apiHost}/tokens` for a token of `service`.
//
// Input, one JSON object on stdin (a token never goes on a command line):
//   {"apiHost", "orgId", "service", "identityProviderToken", "actAs"?}
// Output, one JSON line on stdout:
//   {"ok": true, "token": "<the issued JWT>"}
//   {"ok": false, "name", "status", "code", "message"}: the client's error, as a user sees it
import { StateBackedClient } from "@statebacked/client";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const client = new StateBackedClient(
  {
    identityProviderToken: input.identityProviderToken,
    orgId: input.orgId,
    tokenProviderService: input.service,
  },
  { apiHost: input.apiHost, orgId: input.orgId, actAs: input.actAs },
);

try {
  const token = await client.token();
  console.log(JSON.stringify({ ok: true, token }));
} catch (err) {
  console.log(JSON.stringify({
    ok: false, name: err.name, status: err.status, code: err.code, message: err.message,
  }));
}

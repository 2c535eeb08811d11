// Sends one call of every type through @segment/analytics-node, unchanged, to HOST with WRITE_KEY,
// then prints a JSON report on stdout: the HTTP responses the library received, any error it emitted,
// and the messageId/timestamp it gave each event (so the test can match stored rows to them).
// Exit status 0 only when every call was delivered without an error event.
"use strict";

const { Analytics } = require("@segment/analytics-node");

const host = process.env.HOST;
const writeKey = process.env.WRITE_KEY;
const prefix = process.env.PREFIX || "node";

async function main() {
  const analytics = new Analytics({ writeKey, host, flushInterval: 200, maxRetries: 1 });
  const report = { responses: [], errors: [], messages: {} };
  analytics.on("http_response", (r) => report.responses.push({ status: r.status, url: r.url }));
  analytics.on("error", (e) => report.errors.push({ code: e.code, reason: String(e.reason) }));
  for (const type of ["identify", "track", "page", "screen", "group", "alias"]) {
    analytics.on(type, (ctx) => {
      report.messages[type] = { messageId: ctx.event.messageId, timestamp: ctx.event.timestamp };
    });
  }

  const userId = `${prefix}-u1`;
  analytics.identify({ userId, traits: { email: "ada@example.com", plan: "pro" } });
  analytics.track({ userId, event: "Order Completed", properties: { total: 42.5, currency: "EUR" } });
  analytics.page({ userId, category: "Docs", name: "Quickstart", properties: { path: "/docs/quickstart" } });
  analytics.screen({ userId, name: "Settings", properties: { tab: "billing" } });
  analytics.group({ userId, groupId: "acme", traits: { name: "Acme Inc", employees: 12 } });
  analytics.alias({ previousId: `${prefix}-anon`, userId });
  await analytics.closeAndFlush({ timeout: 10000 });

  process.stdout.write(JSON.stringify(report));
  process.exitCode = report.errors.length === 0 ? 0 : 1;
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exitCode = 2;
});

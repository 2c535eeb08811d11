// Sends one call of every type through @rudderstack/rudder-sdk-node, unchanged, to HOST with WRITE_KEY
// (plus a track with an explicit historical timestamp), then prints a JSON report on stdout: the HTTP
// responses the library received, the errors its errorHandler was given, and the messageId /
// originalTimestamp the library gave each call (read from the requests it sent).
// Exit status 0 only when every request was answered 2xx and no error was reported.
"use strict";

const axios = require("axios");
const zlib = require("zlib");
const Analytics = require("@rudderstack/rudder-sdk-node");

const host = process.env.HOST;
const writeKey = process.env.WRITE_KEY;
const prefix = process.env.PREFIX || "rudder";
const HISTORICAL = "2024-01-02T03:04:05.678Z";

async function main() {
  const report = { responses: [], errors: [], messages: {} };
  // The library's own axios instance, with interceptors that record what it sent and what came back.
  const client = axios.create();
  client.interceptors.request.use((config) => {
    const raw = Buffer.isBuffer(config.data) ? zlib.gunzipSync(config.data).toString() : JSON.stringify(config.data);
    for (const message of JSON.parse(raw).batch) {
      const key = message.event === "Historical Import" ? "historical" : message.type;
      report.messages[key] = { messageId: message.messageId, originalTimestamp: message.originalTimestamp,
                               timestamp: message.timestamp };
    }
    return config;
  });
  client.interceptors.response.use(
    (r) => { report.responses.push({ status: r.status, url: r.config.url }); return r; },
    (e) => { report.responses.push({ status: e.response ? e.response.status : null, url: e.config.url });
             return Promise.reject(e); },
  );
  const analytics = new Analytics(writeKey, {
    dataPlaneUrl: host, flushAt: 20, flushInterval: 200, retryCount: 0, axiosInstance: client, logLevel: "error",
    errorHandler: (err) => report.errors.push({ status: err.response ? err.response.status : null,
                                                reason: String(err.message) }),
  });

  const userId = `${prefix}-u1`;
  analytics.identify({ userId, traits: { email: "ada@example.com", plan: "pro" } });
  analytics.track({ userId, event: "Order Completed", properties: { total: 42.5, currency: "EUR" } });
  analytics.track({ userId, event: "Historical Import", properties: { batch: 7 }, timestamp: new Date(HISTORICAL) });
  analytics.page({ userId, category: "Docs", name: "Quickstart", properties: { path: "/docs/quickstart" } });
  analytics.screen({ userId, name: "Settings", properties: { tab: "billing" } });
  analytics.group({ userId, groupId: "acme", traits: { name: "Acme Inc", employees: 12 } });
  analytics.alias({ previousId: `${prefix}-anon`, userId });
  for (let i = 0; i < 5 && (analytics.queue.length || analytics.pendingFlush); i++) {
    try { await analytics.flush(); } catch (e) { /* reported through errorHandler */ }
    if (!analytics.queue.length) break;
  }

  process.stdout.write(JSON.stringify(report));
  const ok = report.errors.length === 0 && report.responses.every((r) => r.status >= 200 && r.status < 300);
  process.exitCode = ok ? 0 : 1;
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exitCode = 2;
});

// Calls every method of customerio-node's TrackClient (against HOST/api/v1, SITE_ID + API_KEY) and of its
// PipelinesClient (against HOST/v1, WRITE_KEY), unchanged, one after the other, then prints a JSON report
// on stdout: for each call its name and either the parsed response or the error (status, message).
"use strict";

const { TrackClient, PipelinesClient } = require("customerio-node");

const host = process.env.HOST;
const ULID = "01HZY3N4M5P6Q7R8S9T0V1W2X3";
const DELIVERY = "RPILAgUBcRhIBqSfeiIwdIYJKxTY";

async function run(report, name, fn) {
  try {
    report.push({ name, ok: true, body: (await fn()) ?? null });
  } catch (e) {
    report.push({ name, ok: false, status: e.statusCode ?? null, message: String(e.message) });
  }
}

async function main() {
  const retry = { maxRetries: 0 };
  const cio = new TrackClient(process.env.SITE_ID, process.env.API_KEY, { url: `${host}/api/v1`, retry });
  const cdp = new PipelinesClient(process.env.WRITE_KEY, { url: `${host}/v1`, retry });
  const report = [];
  const track = [
    ["getAccountRegion", () => cio.getAccountRegion()],
    ["identify", () => cio.identify("cn-u1", { email: "ann@example.com", plan: "pro", created_at: 1700000000 })],
    ["track", () => cio.track("cn-u1", { name: "purchased", data: { total: 12 }, id: ULID, timestamp: 1700000000 })],
    ["trackAnonymous", () => cio.trackAnonymous("anon-1", { name: "viewed", data: { page: "/pricing" } })],
    ["trackPageView", () => cio.trackPageView("cn-u1", "https://example.com/docs")],
    ["addDevice", () => cio.addDevice("cn-u1", "device-token-1", "ios", { last_used: 1700000000, app_version: "2.1" })],
    ["deleteDevice", () => cio.deleteDevice("cn-u1", "device-token-1")],
    ["trackPush", () => cio.trackPush({ delivery_id: DELIVERY, event: "opened", device_id: "device-token-1",
                                        timestamp: 1613063089 })],
    ["reportMetric", () => cio.reportMetric({ delivery_id: DELIVERY, metric: "clicked", href: "https://example.com/x",
                                              recipient: "ann@example.com" })],
    ["addCustomersToSegment", () => cio.addCustomersToSegment(12, ["cn-u1", "cn-u2"])],
    ["removeCustomersFromSegment", () => cio.removeCustomersFromSegment(12, ["ann@example.com"], "email")],
    ["submitForm", () => cio.submitForm("newsletter", { email: "form@example.com", first_name: "Fo" })],
    ["mergeCustomers", () => cio.mergeCustomers("id", "cn-u1", "email", "old@example.com")],
    ["suppress", () => cio.suppress("cn-u9")],
    ["unsuppress", () => cio.unsuppress("cn-u9")],
    ["destroy", () => cio.destroy("cn-u9")],
    ["entity", () => cio.entity({ type: "person", identifiers: { id: "cn-u2" }, action: "identify",
                                  attributes: { plan: "team" } })],
    ["batch", () => cio.batch([
      { type: "person", identifiers: { id: "cn-u3" }, action: "event", name: "signed_up", attributes: { a: 1 } },
      { type: "object", identifiers: { object_type_id: "1", object_id: "acme" }, action: "identify",
        attributes: { name: "Acme" } },
    ])],
    ["unsubscribe", () => cio.unsubscribe(DELIVERY)],
    // Errors as the client shows them.
    ["badMetric", () => cio.reportMetric({ delivery_id: DELIVERY, metric: "read" })],
    ["badSegment", () => cio.addCustomersToSegment("not-a-number", ["u1"])],
  ];
  for (const [name, fn] of track) await run(report, `track.${name}`, fn);

  const pipelines = [
    ["identify", () => cdp.identify({ userId: "cp-u1", traits: { email: "cp@example.com" } })],
    ["track", () => cdp.track({ userId: "cp-u1", event: "Order Completed", properties: { total: 3 } })],
    ["track historical", () => cdp.track({ userId: "cp-u1", event: "Historical Import",
                                            timestamp: "2024-01-02T03:04:05.678Z" })],
    ["page", () => cdp.page({ userId: "cp-u1", name: "Home", properties: { path: "/" } })],
    ["screen", () => cdp.screen({ userId: "cp-u1", name: "Settings" })],
    ["group", () => cdp.group({ userId: "cp-u1", groupId: "acme", traits: { name: "Acme" } })],
    ["alias", () => cdp.alias({ userId: "cp-u1", previousId: "cp-anon" })],
    ["batch", () => cdp.batch([{ type: "track", userId: "cp-u1", event: "Batched" },
                               { type: "identify", userId: "cp-u2", traits: { plan: "pro" } }])],
  ];
  for (const [name, fn] of pipelines) await run(report, `pipelines.${name}`, fn);
  process.stdout.write(JSON.stringify(report));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exitCode = 2;
});

import assert from "node:assert/strict";
import { test } from "node:test";

import { pullProgressText, pullStatus } from "../static/js/api.js";
import { pollPullStatus } from "../static/js/runner.js";
import { createStatus } from "../static/js/status.js";

test("pull progress text per source", () => {
  const text = pullProgressText({ sources: [
    { source: "erp", state: "running", pages: 3, records: 1500 },
    { source: "crm", state: "done", pages: 10, records: 5000 },
    { source: "qms", state: "failed", pages: 0, records: 0 }] });
  assert.equal(text, "erp 3p/1500 · crm done · qms failed");
});

test("pull status is fetched with the token and polled until stopped", async () => {
  const calls = [];
  const reply = { state: "running", sources: [{ source: "erp", state: "running", pages: 2, records: 1000 }] };
  const fetchImpl = async (url) => {
    calls.push(url);
    return { status: 200, json: async () => reply, text: async () => JSON.stringify(reply) };
  };
  const request = { base: "https://kpi.example.com", token: "kpb_x", fetchImpl };
  const got = await pullStatus("2026-10", request);
  assert.equal(got.state, "running");
  assert.equal(calls[0], "https://kpi.example.com/api/v1/periods/2026-10/pull-status");
  const status = createStatus();
  const stop = pollPullStatus("2026-10", status, request, 5);
  await new Promise((resolve) => setTimeout(resolve, 40));
  stop();
  const seen = calls.length;
  assert.ok(seen >= 2);
  assert.equal(status.state.progress, "erp 2p/1000");
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(calls.length, seen);
});

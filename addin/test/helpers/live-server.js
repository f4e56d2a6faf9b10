/**
 * The real kpibook server the pytest wrapper (tests/addin/test_node_suite.py) starts on
 * 127.0.0.1 with a seeded world, described by environment variables. Run outside that wrapper
 * (`npm test` alone) the tests that need it are skipped; the wrapper fails when any test is
 * skipped, so under pytest they always run.
 */
const base = process.env.KPIBOOK_TEST_SERVER ?? "";

/** {base, tokens: {hr_admin, executive, dept_head, employee, auditor, other_employee}, world} */
export const server = base
  ? { base, tokens: JSON.parse(process.env.KPIBOOK_TEST_TOKENS ?? "{}"), world: JSON.parse(process.env.KPIBOOK_TEST_WORLD ?? "{}") }
  : null;

/** Options for node:test: skip (with the reason) when no server was started. */
export const needsServer = server ? {} : { skip: "no kpibook server: run through pytest tests/addin" };

/** RequestOptions for api.js as `role`. */
export const as = (role) => ({ base: server.base, token: server.tokens[role] });

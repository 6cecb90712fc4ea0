/**
 * The integration and browser projects' default test timeout (jest.config.js `setupFilesAfterEnv`): jest's 5 s is too
 * short for a test's first calls on a loaded 2-CPU machine (cold function environments; CI timed key-only's first
 * test out at load 16). `testTimeout` in a project's config is ignored (jest reads it from the top level only), so the
 * projects set it here. Tests that need more say so themselves.
 */
jest.setTimeout(30_000);

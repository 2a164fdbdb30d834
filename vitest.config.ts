import { defineConfig } from 'vitest/config';

/**
 * One config for unit and end-to-end tests.
 *
 * Files run one at a time (fileParallelism: false). The machines have 2
 * cores; an e2e file spawns hundreds of short processes (ip, nsenter, ping,
 * hostnic itself) and several tests are timing-sensitive (signals at step
 * boundaries, SIGKILL + recover, eight concurrent attaches), so two e2e files
 * competing for the CPU make them flaky rather than fast. Shared machine-wide
 * services a suite may start (dockerd, NetworkManager, udev) are also one per
 * machine. Unit files are quick enough that running them serially costs
 * seconds: test/unit took as long with --fileParallelism as without (about
 * 15 s either way on 2 cores, mostly transform and import; measured twice),
 * so there is no separate parallel project for them. Tests inside one file
 * run sequentially as always.
 *
 * pool 'forks': each file runs in a child process, so process.on('exit')
 * cleanup in test/helpers/lab.ts runs, signals and process.getuid behave as in
 * a plain Node process, and a crashing native call cannot take the runner down.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,

    // One-time setup/teardown for the whole run (start dockerd, build the
    // busybox image, start NetworkManager, ...): add modules here, each
    // exporting `setup`/`teardown` (or a default function returning teardown).
    globalSetup: [],

    // The default reporter, plus a JSON report (numPassedTests,
    // numFailedTests, ...) from which .ci/run prints its count line.
    // HOSTNIC_TEST_JSON moves it elsewhere.
    reporters: ['default', ['json', { outputFile: process.env.HOSTNIC_TEST_JSON || 'test-results/vitest.json' }]],
  },
});

// Package crash holds the crash-proof end-to-end test: it builds the real
// compliance-connect binary, runs it against the fake Compliance API on a
// large backfill into a file output, kills it with SIGKILL at random points,
// restarts it each time and then checks that nothing is missing, that the
// checkpoint is readable and that each kill re-delivers no more than the
// look-ahead bound (max_open_slices × target_per_slice).
package crash

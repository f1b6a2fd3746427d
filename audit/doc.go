// Package audit proves, or disproves, that a destination holds every activity
// of a time window: it lists the window's activity ids from the Compliance API
// (the same filters as the pipeline's anthropic_compliance input), reads the
// ids the destination holds for the window, and compares the two.
//
// Both sides are streamed into external sorts (sorted runs on disk, merged),
// then compared in one merge-join pass, so memory stays flat whatever the
// size of the window. Destinations implement Destination; the sub-packages
// file, s3, es and kafka read what this project's outputs write, and against
// turns an --against spec or a pipeline's output into one.
package audit

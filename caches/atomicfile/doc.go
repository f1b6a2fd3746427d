// Package atomicfile is a crash-safe key/value store on a local directory: one
// file per key, every write an atomic replace (temp file, fsync, rename, fsync
// of the directory), so a reader sees the old value or the new one, never a torn
// mix. Store is plain Go for the input's checkpoint; cache_atomic_file.go also
// registers it as the Benthos cache `atomic_file`. Stable API, beta plugin.
package atomicfile

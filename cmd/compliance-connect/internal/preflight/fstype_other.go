//go:build !linux

package preflight

// fsType cannot tell the file system outside Linux.
func fsType(string) (string, error) { return "", nil }

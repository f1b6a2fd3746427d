package preflight

import (
	"fmt"
	"syscall"
)

// fsNames are the statfs(2) magic numbers of the file systems the checks
// talk about.
var fsNames = map[int64]string{
	0x01021994: "tmpfs",
	0x858458f6: "ramfs",
	0x794c7630: "overlay",
	0xef53:     "ext4",
	0x58465342: "xfs",
	0x9123683e: "btrfs",
	0x6969:     "nfs",
	0x2fc12fc1: "zfs",
}

// fsType names the file system holding path ("" when it is none of
// fsNames).
func fsType(path string) (string, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return "", fmt.Errorf("statfs %s: %w", path, err)
	}
	return fsNames[int64(st.Type)], nil //nolint:unconvert // Type is int32 on some platforms
}

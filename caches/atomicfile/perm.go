package atomicfile

import (
	"fmt"
	"os"
	"syscall"
)

// CheckPermissions describes how dir exposes the values it holds to other
// users: "" when it is safe, otherwise a warning to show the operator. A
// directory that is group- or world-writable, or owned by another user, lets
// that user replace a value (rewind a checkpoint, or make it skip data).
func CheckPermissions(dir string) string {
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Sprintf("cannot check the permissions of %s: %v", dir, err)
	}
	var problems []string
	if mode := info.Mode().Perm(); mode&0o022 != 0 {
		who := "group"
		if mode&0o002 != 0 {
			who = "world"
		}
		problems = append(problems, fmt.Sprintf("is %s-writable (mode %04o)", who, mode))
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		problems = append(problems, fmt.Sprintf("is owned by uid %d, not by this process's uid %d", st.Uid, os.Geteuid()))
	}
	if len(problems) == 0 {
		return ""
	}
	msg := fmt.Sprintf("directory %s", dir)
	for i, p := range problems {
		if i > 0 {
			msg += " and"
		}
		msg += " " + p
	}
	return msg + ": other users can rewrite the checkpoints in it (rewind or skip collection); " +
		"make it owned by the user that runs compliance-connect, mode 0700 (chmod 700)"
}

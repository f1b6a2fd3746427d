package main

import (
	"runtime/debug"
)

// Build stamps, set with -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
// When unset they fall back to the module build info.
var (
	version = ""
	commit  = ""
	date    = ""
)

// versionString reports the module version and the commit it was built from.
func versionString() string {
	v, c := version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if c == "" {
		c = "unknown"
	}
	return v + " (commit " + c + ")"
}

func buildDate() string {
	if date != "" {
		return date
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.time" {
				return s.Value
			}
		}
	}
	return "unknown"
}

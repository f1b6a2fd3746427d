//go:build !unix

package main

import "os"

// peakRSS is unknown (0) where the kernel does not report ru_maxrss.
func peakRSS(*os.ProcessState) int64 { return 0 }

// selfPeakRSS is unknown (0) where the kernel does not report ru_maxrss.
func selfPeakRSS() int64 { return 0 }

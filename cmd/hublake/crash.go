package main

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// crashHookFromEnv returns the test-only crash hook: with
// HUBLAKE_TEST_CRASH_AT=<point>[:<n>] the process kills itself with SIGKILL
// the n-th time (default 1st) a flush reaches the named point
// ("before-upload", "between-objects", "before-checkpoint",
// "after-checkpoint"). Integration tests use it to prove exactly-once across
// crashes; without the variable it does nothing.
func crashHookFromEnv() func(string) {
	spec := os.Getenv("HUBLAKE_TEST_CRASH_AT")
	if spec == "" {
		return nil
	}
	point, nth, _ := strings.Cut(spec, ":")
	want := int64(1)
	if n, err := strconv.ParseInt(nth, 10, 64); err == nil && n > 0 {
		want = n
	}
	var seen atomic.Int64
	return func(p string) {
		if p == point && seen.Add(1) == want {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
}

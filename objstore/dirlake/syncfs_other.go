//go:build unix && !linux

package dirlake

import "syscall"

// syncFS writes out every file system's dirty data (sync(2): the systems
// other than Linux have no syncfs).
func syncFS(string) error { return syscall.Sync() }

package dirlake

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS writes out every dirty page and inode of the file system holding
// dir (syncfs(2)) and waits for it.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

//go:build unix

package filestore

import (
	"io/fs"
	"os"
	"syscall"
)

// fileID returns the device and inode of the file fi describes.
func fileID(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

// openFlags opens a file for reading without blocking on a FIFO that a
// key might name.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK

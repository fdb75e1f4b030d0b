//go:build !unix

package filestore

import (
	"io/fs"
	"os"
)

// fileID returns zeros where the platform has no inode numbers: versions
// then rest on size and modification time alone.
func fileID(fs.FileInfo) (dev, ino uint64) { return 0, 0 }

const openFlags = os.O_RDONLY

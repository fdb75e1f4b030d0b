package disk

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// fileSystem is every file operation the tier does, so that tests can
// inject EIO, ENOSPC and stalls (the kernel here has no fault injection).
// osFS is the real one.
type fileSystem interface {
	OpenFile(name string, flag int, perm fs.FileMode) (file, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	Mkdir(name string, perm fs.FileMode) error
	ReadDir(name string) ([]fs.DirEntry, error)
	Statfs(path string) (fsStat, error)
	// Stat is stat(2), following links as the open of a read does. Only
	// Contains uses it, for a block the rebuild has not indexed yet.
	Stat(name string) (fs.FileInfo, error)
}

// file is an open block file. Write appends (a fill writes a new file
// front to back); WriteAt rewrites in place (a move rewrites the header).
type file interface {
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
}

// fsStat is what the tier needs of statfs(2), in bytes.
type fsStat struct {
	BlockSize int64 // f_bsize: the unit of allocation
	Total     int64 // f_blocks × f_bsize
	Avail     int64 // f_bavail × f_bsize: free to unprivileged users
}

type osFS struct{}

// errNotRegular refuses a block file that is not a regular file.
var errNotRegular = errors.New("not a regular file")

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	if flag == os.O_RDONLY {
		// Reads take the raw descriptor: os.File's set-up (poller
		// registration, fcntl) and teardown cost a tenth of a 256 KiB hit.
		// O_NONBLOCK: a FIFO in a block file's place must not block
		// open(2) for good; what is not a regular file is refused.
		fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
			syscall.Close(fd)
			if err == nil {
				err = errNotRegular
			}
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &rawFile{fd: fd, name: name}, nil
	}
	existing := flag&os.O_CREATE == 0
	if existing {
		// A block file opened to be rewritten in place (Move): as for a
		// read, what is not a regular file is refused, and a FIFO does
		// not block open(2).
		flag |= syscall.O_NONBLOCK
	}
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not a typed nil in an interface
	}
	if existing {
		if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
			f.Close()
			if err == nil {
				err = errNotRegular
			}
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
	return f, nil
}

func (osFS) Rename(oldpath, newpath string) error      { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                  { return os.Remove(name) }
func (osFS) Mkdir(name string, perm fs.FileMode) error { return os.Mkdir(name, perm) }
func (osFS) Stat(name string) (fs.FileInfo, error)     { return os.Stat(name) }

// ReadDir lists a directory unsorted (os.ReadDir sorts, which a walk of
// 100,000 files does not need).
func (osFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

func (osFS) Statfs(path string) (fsStat, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return fsStat{}, &fs.PathError{Op: "statfs", Path: path, Err: err}
	}
	bs := int64(st.Bsize)
	return fsStat{BlockSize: bs, Total: int64(st.Blocks) * bs, Avail: int64(st.Bavail) * bs}, nil
}

// rawFile is a file opened for reading only, on its bare descriptor.
type rawFile struct {
	fd   int
	name string
}

func (f *rawFile) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := syscall.Pread(f.fd, p[n:], off+int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

func (f *rawFile) Write([]byte) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.EBADF}
}

func (f *rawFile) WriteAt([]byte, int64) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.EBADF}
}

func (f *rawFile) Close() error { return syscall.Close(f.fd) }

// mapper is a file that can be mapped into memory (the real one; the
// test file systems that inject faults cannot, and are read with pread).
type mapper interface {
	mmap(size int64) ([]byte, error)
}

// mmap maps the first size bytes of the file, read only and shared: the
// page cache's own pages, with no copy into the kernel's read path.
func (f *rawFile) mmap(size int64) ([]byte, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, syscall.EINVAL
	}
	return syscall.Mmap(f.fd, 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
}

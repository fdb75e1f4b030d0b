package s3test

import "fmt"

// The part pool. Storing an upload takes memory the process never touched
// before, and on a virtual machine whose host hands pages over lazily a
// first touch can cost more than the link being emulated (a 2 GiB upload
// faulted in at about 250 MB/s on the harness's machine, and the part
// reads paid for it): the fixture, not the link, would bound the upload.
// S3 stores parts on disks that do not fault. ReserveParts faults in
// buffers for the parts of one size before a measurement, and the backend
// takes a part of that size from them, and gives back the buffers of
// parts aborted, replaced or left out of a Complete and of objects
// deleted or overwritten (once no GET reads them), up to the number
// reserved. Parts of other sizes are made and left to the collector.

// ReserveParts makes n buffers for multipart parts of exactly size bytes,
// faulted in now, and keeps up to n such buffers for reuse from then on.
// It is for benchmarks that time uploads; it bypasses the HTTP front and
// fails with an Upstream.
func (s *Server) ReserveParts(size int64, n int) error {
	if s.isClosed() {
		return errClosed
	}
	if s.backend == nil {
		return fmt.Errorf("s3test: ReserveParts with an Upstream")
	}
	if size <= 0 || n < 0 || size > 5<<30 {
		return fmt.Errorf("s3test: ReserveParts(%d, %d): size out of range", size, n)
	}
	s.backend.reserve(int(size), n)
	return nil
}

// pageSize is the stride at which reserve touches a buffer.
const pageSize = 4096

func (b *backend) reserve(size, n int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		buf := make([]byte, size)
		for j := 0; j < len(buf); j += pageSize {
			buf[j] = 1 // a write: a read would map the shared zero page
		}
		bufs[i] = buf
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keep[size] += n
	b.free[size] = append(b.free[size], bufs...)
}

// getBuf returns a buffer of size bytes: a free reserved one, else a new one.
func (b *backend) getBuf(size int64) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l := b.free[int(size)]; len(l) > 0 {
		buf := l[len(l)-1]
		l[len(l)-1] = nil
		b.free[int(size)] = l[:len(l)-1]
		return buf
	}
	return make([]byte, size)
}

// putLocked keeps bufs for reuse, each if its size was reserved and fewer
// than reserved are free. The caller holds mu.
func (b *backend) putLocked(bufs ...[]byte) {
	for _, buf := range bufs {
		if n := len(buf); len(b.free[n]) < b.keep[n] {
			b.free[n] = append(b.free[n], buf)
		}
	}
}

// putPartsLocked keeps the buffers of u's parts. The caller holds mu.
func (b *backend) putPartsLocked(u *mpUpload) {
	for num, p := range u.parts {
		b.putLocked(p.body)
		delete(u.parts, num)
	}
}

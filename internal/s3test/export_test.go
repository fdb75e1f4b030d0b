package s3test

// ThrottleWaits returns how many connection writes had to wait for a
// bandwidth limiter since the server started.
func (s *Server) ThrottleWaits() int64 { return s.throttleWaits.Load() }

// SetLatencyHook makes f run whenever a request starts waiting out the
// latency. It must be set before requests are sent.
func (s *Server) SetLatencyHook(f func()) { s.testHookLatency = f }

// FreeParts returns how many reserved part buffers of size bytes are free.
func (s *Server) FreeParts(size int64) int {
	s.backend.mu.Lock()
	defer s.backend.mu.Unlock()
	return len(s.backend.free[int(size)])
}

package objstore

import (
	"context"
	"log/slog"
)

type loggerKey struct{}

// ContextWithLogger returns ctx carrying l, for the Openers of a URL mux:
// a backend opened by URL under that context routes its SDK's log output
// (warnings, redacted with RedactText) to l instead of stderr.
// tierfs.Open passes WithLogger's logger this way.
func ContextWithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// LoggerFromContext returns the logger ContextWithLogger put in ctx, or
// nil.
func LoggerFromContext(ctx context.Context) *slog.Logger {
	l, _ := ctx.Value(loggerKey{}).(*slog.Logger)
	return l
}

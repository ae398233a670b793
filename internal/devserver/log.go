package devserver

import (
	"context"
	"log/slog"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// minLevel is the lowest server log level that reaches Options.Logger. The
// server logs several lines per second at Info even when idle (shard and
// queue life cycles, membership, namespace cache), which would drown the
// service's own logs.
const minLevel = slog.LevelWarn

// serverLogger adapts a *slog.Logger to Temporal's log.Logger, dropping
// everything below minLevel. A nil slog logger discards everything.
type serverLogger struct {
	log  *slog.Logger
	tags []tag.Tag // tags prepended by With
}

var (
	_ log.Logger      = serverLogger{}
	_ log.WithLogger  = serverLogger{}
	_ log.SLogWrapper = serverLogger{}
)

func newServerLogger(l *slog.Logger) serverLogger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return serverLogger{log: l.With("component", "temporal")}
}

func (s serverLogger) Debug(msg string, tags ...tag.Tag) { s.emit(slog.LevelDebug, msg, tags) }
func (s serverLogger) Info(msg string, tags ...tag.Tag)  { s.emit(slog.LevelInfo, msg, tags) }
func (s serverLogger) Warn(msg string, tags ...tag.Tag)  { s.emit(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }

// DPanic, Panic and Fatal are logged as errors: a dev server must not bring
// the whole process down (the server code only uses them for invariants it
// recovers from anyway, or right before returning an error from Start).
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }
func (s serverLogger) Panic(msg string, tags ...tag.Tag)  { s.emit(slog.LevelError, msg, tags) }
func (s serverLogger) Fatal(msg string, tags ...tag.Tag)  { s.emit(slog.LevelError, msg, tags) }

func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	return serverLogger{log: s.log, tags: append(s.tags[:len(s.tags):len(s.tags)], tags...)}
}

// SLog lets server components that log through slog (log.NewSlogLogger) use
// the same destination, with the same level floor.
func (s serverLogger) SLog() *slog.Logger {
	return slog.New(minLevelHandler{s.log.Handler()})
}

func (s serverLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if level < minLevel || !s.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(s.tags)+len(tags))
	for _, t := range s.tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	s.log.LogAttrs(ctx, level, msg, attrs...)
}

// minLevelHandler drops records below minLevel.
type minLevelHandler struct{ slog.Handler }

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= minLevel && h.Handler.Enabled(ctx, l)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{h.Handler.WithAttrs(attrs)}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{h.Handler.WithGroup(name)}
}

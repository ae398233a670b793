package devserver

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// minLevel is the lowest server log level that reaches Options.Logger. The
// server logs several lines per second at Info even when idle (shard and
// queue life cycles, membership, namespace cache), which would drown the
// service's own logs.
const minLevel = slog.LevelWarn

// ignoredMessages are warnings the dev server triggers by design.
var ignoredMessages = []string{
	// Logged at every start: the frontend's HTTP API (and so Nexus over
	// HTTP) is off on purpose, see serverOptions.
	"HTTP API port has not been set",
}

// serverLogger adapts a *slog.Logger to Temporal's log.Logger, dropping
// everything below minLevel. A nil slog logger discards everything.
//
// Once Stop begins, muted is set and everything is dropped: while stopping,
// the server's internal workers log a warning for every poll cut short and
// every connection refused by the services already stopped, and a few
// client connections of a stopped server keep retrying (and logging) in the
// background. None of it is actionable.
type serverLogger struct {
	log   *slog.Logger
	tags  []tag.Tag // tags prepended by With
	muted *atomic.Bool
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
	return serverLogger{log: l.With("component", "temporal"), muted: new(atomic.Bool)}
}

// mute drops everything logged from now on, by this logger and all those
// derived from it.
func (s serverLogger) mute() { s.muted.Store(true) }

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
	return serverLogger{log: s.log, tags: append(s.tags[:len(s.tags):len(s.tags)], tags...), muted: s.muted}
}

// SLog lets server components that log through slog (log.NewSlogLogger) use
// the same destination, with the same level floor.
func (s serverLogger) SLog() *slog.Logger {
	return slog.New(minLevelHandler{s.log.Handler(), s.muted})
}

func (s serverLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if level < minLevel || s.muted.Load() || !s.log.Enabled(ctx, level) {
		return
	}
	for _, m := range ignoredMessages {
		if strings.HasPrefix(msg, m) {
			return
		}
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

// minLevelHandler drops records below minLevel, and all once muted.
type minLevelHandler struct {
	slog.Handler
	muted *atomic.Bool
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= minLevel && !h.muted.Load() && h.Handler.Enabled(ctx, l)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{h.Handler.WithAttrs(attrs), h.muted}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{h.Handler.WithGroup(name), h.muted}
}

package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"os"

	"github.com/sirupsen/logrus"
	"golang.org/x/term"
)

// One log format: every line a hublake process writes to stderr is a record
// of one slog handler, JSON or text (--log-format). The libraries that log
// on their own are routed into it: the AWS SDK's logger (awsconf.Load
// gives every configuration awsconf.SDKLogger), the KCL's logger and the
// logrus logger its lease code uses (routeKCLLogs), and the standard
// library's log package (the S3 transfer manager writes a line there when it
// cannot complete a multipart upload; routeLibraryLogs). TestLogFormat runs
// every command of the binary and finds no other line.

// newLogger returns the process's logger, writing to w at level in format
// (json, text, or auto: text when w is a terminal, else JSON).
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// routeLibraryLogs sends what libraries write through the standard
// library's log package, or through slog's default logger, to l: the log
// package's lines become records at warn level (component "go-log"). These
// are process-wide settings, made once here, at start.
func routeLibraryLogs(l *slog.Logger) {
	slog.SetDefault(l)
	// After SetDefault (which points the log package at l at info level):
	// the log package's lines are warnings of a library.
	log.SetFlags(0)
	log.SetPrefix("")
	log.SetOutput(logWriter{log: l.With("component", "go-log"), level: slog.LevelWarn})
}

// logWriter is an io.Writer whose every write (one line of the log
// package) is one record.
type logWriter struct {
	log   *slog.Logger
	level slog.Level
}

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Log(context.Background(), w.level, string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// routeKCLLogs sends the entries of logrus' global logger, which the KCL's
// lease renewal logs through, to log (the consumer's, as component "kcl"),
// and nothing to logrus' own output. It is a process-wide setting: consume
// makes it once, before its stream starts.
func routeKCLLogs(log *slog.Logger) {
	routeLogrus(logrus.StandardLogger(), log.With("component", "kcl"))
}

// routeLogrus makes every entry of l a record of log (one log format): error
// and above at error, warnings at warn, and, as for the KCL's own logger,
// its chatty info and debug at debug.
func routeLogrus(l *logrus.Logger, log *slog.Logger) {
	l.SetOutput(io.Discard)
	l.ReplaceHooks(logrus.LevelHooks{})
	l.AddHook(logrusHook{log})
	l.SetLevel(logrus.WarnLevel)
	if log.Enabled(context.Background(), slog.LevelDebug) {
		l.SetLevel(logrus.DebugLevel)
	}
}

type logrusHook struct{ log *slog.Logger }

func (h logrusHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h logrusHook) Fire(e *logrus.Entry) error {
	level := slog.LevelDebug
	switch {
	case e.Level <= logrus.ErrorLevel:
		level = slog.LevelError
	case e.Level == logrus.WarnLevel:
		level = slog.LevelWarn
	}
	args := make([]any, 0, 2*len(e.Data))
	for k, v := range e.Data {
		if err, ok := v.(error); ok {
			v = err.Error()
		}
		args = append(args, k, v)
	}
	h.log.Log(context.Background(), level, e.Message, args...)
	return nil
}

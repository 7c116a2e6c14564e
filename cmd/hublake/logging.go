package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"os"

	"golang.org/x/term"
)

// One log format: every line a hublake process writes to stderr is a record
// of one slog handler, JSON or text (--log-format). The libraries that log
// on their own are routed into it: the AWS SDK's logger (awsconf.Load
// gives every configuration awsconf.SDKLogger), the KCL's logger and the
// logrus logger its lease code uses (processor/stream.go), and the standard
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

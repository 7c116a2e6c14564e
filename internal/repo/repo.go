// Package repo finds the repository's root directory, from which tests and
// development tools reach .tools/, scripts/ and ../shared.
package repo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// Root returns the nearest directory at or above the working directory that
// holds go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// Samples returns the directory of the real-world samples: $HUBLAKE_SAMPLES,
// else ../shared/samples beside the repository. It returns "" when there is
// none (a user's clone has no ../shared).
func Samples() string {
	if d := os.Getenv("HUBLAKE_SAMPLES"); d != "" {
		return d
	}
	root, err := Root()
	if err != nil {
		return ""
	}
	s := filepath.Join(root, "..", "shared", "samples")
	if fi, err := os.Stat(s); err != nil || !fi.IsDir() {
		return ""
	}
	return s
}

// SampleFiles lists the sample files in Samples() (not SOURCES.md or other
// notes); it is nil when there are no samples.
func SampleFiles() ([]string, error) {
	dir := Samples()
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out, nil
}

// SampleSeeds returns the contents of every sample file (fuzz seeds); files
// over limit bytes are cut to their first limit bytes (big seeds slow the
// fuzzer down, and a cut file is an interesting input of its own). It is nil
// when there are no samples.
func SampleSeeds(limit int) [][]byte {
	files, _ := SampleFiles()
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		out = append(out, b[:min(len(b), limit)])
	}
	return out
}

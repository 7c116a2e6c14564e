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

// OCSFSamplesDir is the subdirectory of Samples() that holds the OCSF
// samples (Security Hub's Findings Imported V2 events and GetFindingsV2
// findings).
const OCSFSamplesDir = "ocsf"

// SampleFiles lists the sample files in Samples() (not SOURCES.md or other
// notes, nor the OCSF samples in their subdirectory); it is nil when there
// are no samples.
func SampleFiles() ([]string, error) { return sampleFiles("") }

// OCSFSampleFiles lists the OCSF sample files (Samples()/ocsf); nil when
// there are none.
func OCSFSampleFiles() ([]string, error) { return sampleFiles(OCSFSamplesDir) }

// sampleFiles lists the sample files in the subdirectory sub of Samples().
func sampleFiles(sub string) ([]string, error) {
	dir := Samples()
	if dir == "" {
		return nil, nil
	}
	dir = filepath.Join(dir, sub)
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

// SampleSeeds returns the contents of every sample file of SampleFiles (fuzz
// seeds); files over limit bytes are cut to their first limit bytes (big
// seeds slow the fuzzer down, and a cut file is an interesting input of its
// own). It is nil when there are no samples.
func SampleSeeds(limit int) [][]byte {
	files, _ := SampleFiles()
	return readSeeds(files, limit)
}

// OCSFSampleSeeds is SampleSeeds for the OCSF samples.
func OCSFSampleSeeds(limit int) [][]byte {
	files, _ := OCSFSampleFiles()
	return readSeeds(files, limit)
}

func readSeeds(files []string, limit int) [][]byte {
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

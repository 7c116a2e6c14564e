package main

import (
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// versionInfo is what a binary knows of its own build: `hublake --version`
// prints it and /metrics exports it as hublake_build_info.
type versionInfo struct {
	// Version is -ldflags -X main.version (the image's build sets it), else
	// the main module's version from the build information: v1.2.3 for `go
	// install …@v1.2.3`, a pseudo-version for a build in a git checkout
	// (Go stamps it from the VCS); "devel" when there is none.
	Version string
	// Revision is the VCS revision the binary was built from ("" when not
	// stamped: -buildvcs=false, or no repository), Modified whether the
	// working tree had changes.
	Revision string
	Modified bool
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// buildVersion reads the running binary's build information.
func buildVersion() versionInfo {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(version, revision, bi)
}

// versionOf is buildVersion for the -X version and revision and the build
// information.
func versionOf(ldflagsVersion, ldflagsRevision string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: ldflagsVersion, GoVersion: runtime.Version()}
	if bi == nil {
		bi = &debug.BuildInfo{}
	}
	if bi.GoVersion != "" {
		v.GoVersion = bi.GoVersion
	}
	if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	if ldflagsRevision != "" {
		v.Revision, v.Modified = ldflagsRevision, false
	}
	if v.Version == "" {
		v.Version = "devel"
	}
	return v
}

// String is the --version line: "hublake v1.2.3 (revision 0123abcd…,
// modified) go1.26.8".
func (v versionInfo) String() string {
	var b strings.Builder
	b.WriteString("hublake " + v.Version)
	if v.Revision != "" {
		b.WriteString(" (revision " + v.Revision)
		if v.Modified {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	}
	b.WriteString(" " + v.GoVersion)
	return b.String()
}

// collector is the hublake_build_info gauge: 1, with the version, the
// revision and the Go version as labels (the convention of go_build_info
// and of Prometheus' own <name>_build_info).
func (v versionInfo) collector() prometheus.Collector {
	revision := v.Revision
	if v.Modified {
		revision += "-modified"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "hublake_build_info",
		Help:        "The running binary's version, VCS revision and Go version (value 1).",
		ConstLabels: prometheus.Labels{"version": v.Version, "revision": revision, "goversion": v.GoVersion},
	})
	g.Set(1)
	return g
}

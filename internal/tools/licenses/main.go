// Command licenses copies the licence and notice files of every module a
// package's binary is built from into one directory, as their licences ask
// of a binary distribution (Apache-2.0 §4(d): the NOTICE files; BSD and MIT:
// the copyright notice and licence text). The image's build stage runs it
// for ./cmd/hublake (deploy/Dockerfile), with the build's GOOS, GOARCH and
// CGO_ENABLED, so that the modules are exactly those linked; the final
// stage ships the result in /usr/share/doc/hublake/.
//
//	go run ./internal/tools/licenses -goos linux -goarch arm64 -o OUT ./cmd/hublake
//
// OUT/<module path>/ receives the module's LICENSE*, LICENCE*, COPYING*,
// NOTICE*, PATENTS*, CREDITS* files and its licenses/ directory (bundled
// third-party notices); OUT/go/ the Go distribution's (the runtime and the
// standard library are in every binary). A module without a licence file
// fails the run, unless noLicenseFile below says where its licence is
// stated; deploy/'s tests check the output against the binary's build
// information.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// noLicenseFile lists modules that ship no licence file of their own, with
// where their licence is stated; a NOTICE.hublake file in their directory
// says so, next to the licence's text.
var noLicenseFile = map[string]struct{ spdx, where string }{
	"github.com/awslabs/kinesis-aggregation/go/v2": {"Apache-2.0",
		"the SPDX-License-Identifier header of each source file, and LICENSE.txt at the root of the repository github.com/awslabs/kinesis-aggregation, outside the Go module"},
}

var licenseFile = regexp.MustCompile(`(?i)^(LICEN[CS]E|COPYING|NOTICE|PATENTS|CREDITS)([._-].*)?$`)

func main() {
	out := flag.String("o", "", "output directory")
	apache := flag.String("apache-license", "LICENSE", "the Apache License 2.0 text (hublake's LICENSE), for modules that state Apache-2.0 without a file")
	goos := flag.String("goos", "", "the GOOS of the binary (default: go env GOOS)")
	goarch := flag.String("goarch", "", "the GOARCH of the binary (default: go env GOARCH)")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: licenses -o DIR PACKAGE")
		os.Exit(2)
	}
	// The tool itself runs on the build platform; the listing is the
	// target's (a module can be linked on one platform only).
	var env []string
	if *goos != "" {
		env = append(env, "GOOS="+*goos)
	}
	if *goarch != "" {
		env = append(env, "GOARCH="+*goarch)
	}
	if err := run(*out, flag.Arg(0), *apache, env); err != nil {
		fmt.Fprintln(os.Stderr, "licenses:", err)
		os.Exit(1)
	}
}

type module struct{ path, version, dir string }

func run(out, pkg, apacheText string, env []string) error {
	mods, err := modules(pkg, env)
	if err != nil {
		return err
	}
	b, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %w", err)
	}
	goroot := strings.TrimSpace(string(b))
	mods = append(mods, module{path: "go", dir: goroot})
	var missing []string
	for _, m := range mods {
		dest := filepath.Join(out, filepath.FromSlash(m.path))
		n, err := copyLicenses(m.dir, dest)
		if err != nil {
			return fmt.Errorf("%s: %w", m.path, err)
		}
		if n > 0 {
			continue
		}
		exc, ok := noLicenseFile[m.path]
		if !ok {
			missing = append(missing, m.path)
			continue
		}
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return err
		}
		note := fmt.Sprintf("%s %s ships no licence file. Its licence, %s, is stated in %s.\nThe text of %s follows in LICENSE.\n",
			m.path, m.version, exc.spdx, exc.where, exc.spdx)
		if err := os.WriteFile(filepath.Join(dest, "NOTICE.hublake"), []byte(note), 0o644); err != nil {
			return err
		}
		if exc.spdx != "Apache-2.0" {
			return fmt.Errorf("%s: no licence text for %s", m.path, exc.spdx)
		}
		if err := copyFile(apacheText, filepath.Join(dest, "LICENSE")); err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no licence file in %s: find where their licence is stated and add them to noLicenseFile", strings.Join(missing, ", "))
	}
	return nil
}

// modules lists the modules of the packages pkg is built from (go list
// -deps, in the environment of the build: CGO_ENABLED, and GOOS and GOARCH
// from env), the main module included.
func modules(pkg string, env []string) ([]module, error) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{with .Replace}}{{.Path}}\t{{.Version}}\t{{.Dir}}{{else}}{{.Path}}\t{{.Version}}\t{{.Dir}}{{end}}{{end}}", pkg)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	seen := map[string]bool{}
	var mods []module
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 || seen[f[0]] {
			continue
		}
		if f[2] == "" {
			return nil, fmt.Errorf("module %s %s is not in the module cache", f[0], f[1])
		}
		seen[f[0]] = true
		mods = append(mods, module{path: f[0], version: f[1], dir: f[2]})
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].path < mods[j].path })
	return mods, sc.Err()
}

// copyLicenses copies the licence files at the top of dir, and its
// licenses/ directory, to dest; it returns how many files it copied.
func copyLicenses(dir, dest string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.Type().IsRegular() && licenseFile.MatchString(name):
			if err := copyFile(filepath.Join(dir, name), filepath.Join(dest, name)); err != nil {
				return n, err
			}
			n++
		case e.IsDir() && strings.EqualFold(name, "licenses"):
			err := filepath.WalkDir(filepath.Join(dir, name), func(p string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				rel, _ := filepath.Rel(dir, p)
				n++
				return copyFile(p, filepath.Join(dest, rel))
			})
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return errors.Join(out.Close())
}

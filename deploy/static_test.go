package deploy

// The image's binary: the Dockerfile's build command, run here, must give a
// static executable that runs; `make static` must run the same command.

import (
	"bufio"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

const (
	testVersion  = "deploy-test"
	testRevision = "0123456789abcdef0123456789abcdef01234567"
)

var tmpDir string

func TestMain(m *testing.M) {
	code := func() int {
		d, err := os.MkdirTemp("", "hublake-deploy-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(d)
		tmpDir = d
		return m.Run()
	}()
	os.Exit(code)
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case
	args string
}

type stage struct {
	from, name string
	instrs     []instruction
}

func parseDockerfile(t testing.TB, path string) []stage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			var s stage
			for i := 0; i < len(f); i++ {
				switch {
				case strings.HasPrefix(f[i], "--"):
				case strings.EqualFold(f[i], "AS") && i+1 < len(f):
					s.name = f[i+1]
					i++
				default:
					s.from = f[i]
				}
			}
			stages = append(stages, s)
			return
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before FROM", path, in.cmd)
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return stages
}

// shellWords splits a simple shell command into words: whitespace outside
// quotes separates, quotes are removed, $(...) is kept as written, variables
// are not expanded.
func shellWords(t testing.TB, s string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '"' || c == '\'':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				t.Fatalf("unbalanced quote in %s", s)
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '$' && i+1 < len(s) && s[i+1] == '(':
			depth := 0
			j := i
			for ; j < len(s); j++ {
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			w.WriteString(s[i : j+1])
			i = j
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

var assignRE = regexp.MustCompile(`^([A-Z_][A-Z0-9_]*)=(.*)$`)

// command is a parsed build command: environment assignments and argv.
type command struct {
	env  map[string]string
	argv []string
}

func parseCommand(t testing.TB, words []string) command {
	t.Helper()
	c := command{env: map[string]string{}}
	i := 0
	for ; i < len(words); i++ {
		m := assignRE.FindStringSubmatch(words[i])
		if m == nil {
			break
		}
		c.env[m[1]] = m[2]
	}
	c.argv = words[i:]
	return c
}

// outIndex returns the index of the -o argument's value.
func (c command) outIndex(t testing.TB) int {
	t.Helper()
	for i, a := range c.argv {
		if a == "-o" && i+1 < len(c.argv) {
			return i + 1
		}
	}
	t.Fatalf("no -o in %v", c.argv)
	return 0
}

// dockerBuild returns the Dockerfile's build command and the build stage's
// ARG defaults.
func dockerBuild(t testing.TB, stages []stage) (command, map[string]string) {
	t.Helper()
	return buildStageRun(t, stages, "go build")
}

// buildStageRun returns the build stage's one RUN command that contains
// marker, and the stage's ARG defaults.
func buildStageRun(t testing.TB, stages []stage, marker string) (command, map[string]string) {
	t.Helper()
	for _, s := range stages {
		if s.name != "build" {
			continue
		}
		args := map[string]string{}
		var run string
		for _, in := range s.instrs {
			switch in.cmd {
			case "ARG":
				for _, a := range strings.Fields(in.args) {
					name, def, _ := strings.Cut(a, "=")
					args[name] = def
				}
			case "RUN":
				if strings.Contains(in.args, marker) {
					if run != "" {
						t.Fatalf("the build stage has two %s commands", marker)
					}
					run = in.args
				}
			}
		}
		if run == "" {
			t.Fatalf("the build stage has no RUN ... %s", marker)
		}
		words := shellWords(t, run)
		for len(words) > 0 && strings.HasPrefix(words[0], "--") { // RUN flags: --mount=...
			words = words[1:]
		}
		return parseCommand(t, words), args
	}
	t.Fatal("the Dockerfile has no stage named build")
	return command{}, nil
}

// expand replaces $NAME and ${NAME} from vars; an unknown variable fails.
func expand(t testing.TB, s string, vars map[string]string) string {
	t.Helper()
	return os.Expand(s, func(name string) string {
		v, ok := vars[name]
		if !ok {
			t.Fatalf("the build command uses $%s, which is not an ARG of the build stage", name)
		}
		return v
	})
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildLog  []byte
)

// staticBinary runs the Dockerfile's build command (output redirected to a
// temporary directory) once per test binary and returns the binary.
func staticBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		cmd, args := dockerBuild(t, parseDockerfile(t, "Dockerfile"))
		vars := map[string]string{}
		for k, v := range args {
			vars[k] = v
		}
		// What BuildKit sets for a build on this machine, and the version.
		vars["TARGETOS"], vars["TARGETARCH"], vars["VERSION"], vars["REVISION"] = runtime.GOOS, runtime.GOARCH, testVersion, testRevision
		argv := make([]string, len(cmd.argv))
		for i, a := range cmd.argv {
			argv[i] = expand(t, a, vars)
		}
		buildBin = filepath.Join(tmpDir, "hublake")
		argv[cmd.outIndex(t)] = buildBin
		c := exec.Command(argv[0], argv[1:]...)
		c.Dir = repoRoot(t)
		c.Env = os.Environ()
		for k, v := range cmd.env {
			c.Env = append(c.Env, k+"="+expand(t, v, vars))
		}
		buildLog, buildErr = c.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("the Dockerfile's build command failed: %v\n%s", buildErr, buildLog)
	}
	return buildBin
}

// TestDockerfileBuildIsStatic runs the image's build command and checks the
// binary: static ELF (no interpreter, no shared libraries), built with
// CGO_ENABLED=0 and -trimpath, and it runs.
func TestDockerfileBuildIsStatic(t *testing.T) {
	cmd, _ := dockerBuild(t, parseDockerfile(t, "Dockerfile"))
	if cmd.env["CGO_ENABLED"] != "0" {
		t.Errorf("the build command sets CGO_ENABLED=%q, want 0", cmd.env["CGO_ENABLED"])
	}
	if len(cmd.argv) < 2 || cmd.argv[0] != "go" || cmd.argv[1] != "build" {
		t.Fatalf("the build command is not go build: %v", cmd.argv)
	}
	bin := staticBinary(t)

	if runtime.GOOS == "linux" {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("the binary has a PT_INTERP program header: it is dynamically linked")
			}
		}
		if _, err := f.Symbols(); err == nil {
			t.Error("the binary has a symbol table (-ldflags -s strips it)")
		}
		if f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil {
			t.Error("the binary has DWARF (-ldflags -w strips it)")
		}
		if f.Section(".dynamic") != nil {
			needed, err := f.DynString(elf.DT_NEEDED)
			if err != nil {
				t.Fatal(err)
			}
			if len(needed) > 0 {
				t.Errorf("the binary needs shared libraries: %v", needed)
			}
		}
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	// (-trimpath keeps -ldflags out of the build info; -s -w shows as the
	// missing symbol table and DWARF above, -X as the version below.)
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings CGO_ENABLED=%q -trimpath=%q, want 0 and true", settings["CGO_ENABLED"], settings["-trimpath"])
	}

	out, err := exec.Command(bin, "--version").CombinedOutput()
	if want := "hublake " + testVersion + " (revision " + testRevision + ") " + info.GoVersion; err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("hublake --version: %v %q, want %q (main.version and main.revision from -ldflags, the Go version from the build)", err, out, want)
	}
	out, err = exec.Command(bin, "healthcheck", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "/healthz") {
		t.Errorf("hublake healthcheck --help: %v\n%s", err, out)
	}
}

// TestHealthcheckCommand runs the container's health check command against
// a healthy and an unhealthy /healthz.
func TestHealthcheckCommand(t *testing.T) {
	bin := staticBinary(t)
	for _, status := range []int{http.StatusOK, http.StatusServiceUnavailable} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status)
		}))
		err := exec.Command(bin, "healthcheck", "--url", srv.URL+"/healthz").Run()
		srv.Close()
		if (err == nil) != (status == http.StatusOK) {
			t.Errorf("healthcheck against a %d: %v", status, err)
		}
	}
}

// TestMakeStaticRunsTheDockerfileCommand: `make static` runs the image's
// build command, apart from the output path and how GOOS, GOARCH and VERSION
// get their values.
func TestMakeStaticRunsTheDockerfileCommand(t *testing.T) {
	docker, _ := dockerBuild(t, parseDockerfile(t, "Dockerfile"))
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var recipe []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "static:"):
			in = true
		case in && strings.HasPrefix(line, "\t"):
			recipe = append(recipe, strings.TrimPrefix(line, "\t"))
		case in:
			in = false
		}
	}
	if len(recipe) == 0 {
		t.Fatal("the Makefile has no static target")
	}
	joined := strings.ReplaceAll(strings.Join(recipe, "\n"), "\\\n", " ")
	var build string
	for _, line := range strings.Split(joined, "\n") {
		for _, part := range strings.Split(line, " && ") {
			if strings.Contains(part, "$(GO) build") {
				build = part
			}
		}
	}
	if build == "" {
		t.Fatalf("the static recipe has no $(GO) build:\n%s", joined)
	}
	// Make's escapes and variables.
	build = strings.NewReplacer("$$", "$", "$(GO)", "go", "$(BIN)", "BIN").Replace(build)
	mk := parseCommand(t, shellWords(t, build))

	if mk.argv[mk.outIndex(t)] != "BIN/hublake-static" {
		t.Errorf("make static writes %s, want bin/hublake-static", mk.argv[mk.outIndex(t)])
	}
	da, ma := append([]string(nil), docker.argv...), append([]string(nil), mk.argv...)
	da[docker.outIndex(t)], ma[mk.outIndex(t)] = "OUT", "OUT"
	if !reflect.DeepEqual(da, ma) {
		t.Errorf("make static runs\n  %q\nthe Dockerfile runs\n  %q", ma, da)
	}
	keys := func(m map[string]string) []string {
		set := map[string]bool{}
		for n := range m {
			set[n] = true
		}
		return sortedKeys(set)
	}
	if !reflect.DeepEqual(keys(docker.env), keys(mk.env)) || docker.env["CGO_ENABLED"] != mk.env["CGO_ENABLED"] {
		t.Errorf("make static sets %v, the Dockerfile %v", mk.env, docker.env)
	}
}

// The base images: supported, and pinned by the digest of their
// multi-platform index (deploy/README.md, "The image", says how they were
// chosen). distroless supports its Debian 12 images until September 2026
// (its SUPPORT_POLICY.md); Debian 13's until a year after Debian 14.
var (
	runtimeBaseRE = regexp.MustCompile(`^gcr\.io/distroless/static-debian13:nonroot@sha256:[0-9a-f]{64}$`)
	builderBaseRE = regexp.MustCompile(`^golang:([0-9]+\.[0-9]+\.[0-9]+)-trixie@sha256:[0-9a-f]{64}$`)
	labelRE       = regexp.MustCompile(`([a-z.]+)="([^"]*)"`)
)

// TestDockerfileImage checks the final stage: distroless static on a
// supported Debian, pinned by digest, non-root, the binary the build stage
// wrote and the licence files, ENTRYPOINT and CMD as the task definition and
// health check expect, the metrics port, the OCI labels; and the builder:
// pinned by digest, the Go of go.mod's toolchain line.
func TestDockerfileImage(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	build, _ := dockerBuild(t, stages)
	final := stages[len(stages)-1]
	if !runtimeBaseRE.MatchString(final.from) {
		t.Errorf("the final stage is FROM %s, want distroless static-debian13 nonroot pinned by digest", final.from)
	}
	var builder string
	for _, st := range stages {
		if st.name == "build" {
			builder = st.from
		}
	}
	m := builderBaseRE.FindStringSubmatch(builder)
	if m == nil {
		t.Errorf("the build stage is FROM %s, want golang:<version>-trixie pinned by digest", builder)
	} else {
		mod, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		tc := regexp.MustCompile(`(?m)^toolchain go([0-9.]+)$`).FindSubmatch(mod)
		if tc == nil || string(tc[1]) != m[1] {
			t.Errorf("go.mod's toolchain line is %q, the builder is Go %s: keep them equal", tc, m[1])
		}
	}
	got := map[string][]string{}
	for _, in := range final.instrs {
		got[in.cmd] = append(got[in.cmd], in.args)
	}
	out := build.argv[build.outIndex(t)]
	lic, _ := buildStageRun(t, stages, "internal/tools/licenses")
	licOut := lic.argv[lic.outIndex(t)]
	if len(got["COPY"]) != 2 || !strings.HasPrefix(got["COPY"][0], "--from=build "+out+" ") ||
		!strings.HasPrefix(got["COPY"][1], "--from=build "+licOut+" /usr/share/doc/hublake") {
		t.Errorf("the final stage copies %v; want the build stage's %s and its licence files %s (to /usr/share/doc/hublake) only", got["COPY"], out, licOut)
	}
	dest := strings.Fields(got["COPY"][0])[2]
	entry, cmd := execForm(t, got["ENTRYPOINT"]), execForm(t, got["CMD"])
	if !reflect.DeepEqual(entry, []string{dest}) {
		t.Errorf("ENTRYPOINT %v, want [%s]", entry, dest)
	}
	if !reflect.DeepEqual(cmd, []string{"consume"}) {
		t.Errorf("CMD %v, want [consume]", cmd)
	}
	if len(got["USER"]) != 1 || !strings.HasPrefix(got["USER"][0], "nonroot") {
		t.Errorf("USER %v, want nonroot", got["USER"])
	}
	if port := consumeMetricsPort(t); !reflect.DeepEqual(got["EXPOSE"], []string{port}) {
		t.Errorf("EXPOSE %v, want %s (the default of hublake consume --metrics-addr)", got["EXPOSE"], port)
	}
	labels := map[string]string{}
	for _, l := range got["LABEL"] {
		for _, m := range labelRE.FindAllStringSubmatch(l, -1) {
			labels[m[1]] = m[2]
		}
	}
	base, digest, _ := strings.Cut(final.from, "@")
	for k, want := range map[string]string{
		"org.opencontainers.image.title":       "hublake",
		"org.opencontainers.image.source":      "https://github.com/hublake/hublake",
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.version":     "$VERSION",
		"org.opencontainers.image.revision":    "$REVISION",
		"org.opencontainers.image.base.name":   base,
		"org.opencontainers.image.base.digest": digest,
	} {
		if labels[k] != want {
			t.Errorf("LABEL %s=%q, want %q", k, labels[k], want)
		}
	}
	for _, k := range []string{"org.opencontainers.image.description", "org.opencontainers.image.url", "org.opencontainers.image.documentation"} {
		if labels[k] == "" {
			t.Errorf("no LABEL %s", k)
		}
	}
}

// consumeMetricsPort is the port of `hublake consume`'s default
// --metrics-addr, from its help.
func consumeMetricsPort(t testing.TB) string {
	t.Helper()
	out, err := exec.Command(staticBinary(t), "consume", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("hublake consume --help: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`--metrics-addr="[^":]*:([0-9]+)"`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no default --metrics-addr in hublake consume --help:\n%s", out)
	}
	return string(m[1])
}

// TestDockerfileLicenses runs the image's licences command (as
// staticBinary runs its build command) and checks what it wrote: hublake's
// LICENSE, Go's, and for every module linked into the image's binary (its
// build information) its licence files, with its NOTICE when the module has
// one (Apache-2.0 §4(d)).
func TestDockerfileLicenses(t *testing.T) {
	bin := staticBinary(t)
	cmd, args := buildStageRun(t, parseDockerfile(t, "Dockerfile"), "internal/tools/licenses")
	vars := map[string]string{}
	for k, v := range args {
		vars[k] = v
	}
	vars["TARGETOS"], vars["TARGETARCH"] = runtime.GOOS, runtime.GOARCH
	argv := make([]string, len(cmd.argv))
	for i, a := range cmd.argv {
		argv[i] = expand(t, a, vars)
	}
	out := filepath.Join(t.TempDir(), "licenses")
	argv[cmd.outIndex(t)] = out
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir = repoRoot(t)
	c.Env = os.Environ()
	for k, v := range cmd.env {
		c.Env = append(c.Env, k+"="+expand(t, v, vars))
	}
	if log, err := c.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's licences command failed: %v\n%s", err, log)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	files := func(dir string) []string {
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
		return names
	}
	mods := []string{info.Main.Path, "go"}
	for _, d := range info.Deps {
		mods = append(mods, d.Path)
	}
	licence := regexp.MustCompile(`(?i)^(LICEN[CS]E|COPYING)`)
	notice := regexp.MustCompile(`(?i)^NOTICE`)
	modCache := strings.TrimSpace(goEnv(t, "GOMODCACHE"))
	for _, m := range mods {
		got := files(filepath.Join(out, filepath.FromSlash(m)))
		if !slices.ContainsFunc(got, licence.MatchString) {
			t.Errorf("no licence file for %s in the image (%v)", m, got)
		}
		// A module that ships a NOTICE must have it in the image.
		for _, d := range info.Deps {
			if d.Path != m {
				continue
			}
			for _, f := range files(filepath.Join(modCache, modulePathEscape(d.Path)+"@"+d.Version)) {
				if notice.MatchString(f) && !slices.Contains(got, f) {
					t.Errorf("%s ships %s, the image does not", m, f)
				}
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(out, "github.com", "hublake", "hublake", "LICENSE")); err != nil || !strings.Contains(string(b), "Apache License") {
		t.Errorf("hublake's own LICENSE is not in the image: %v", err)
	}
}

func goEnv(t testing.TB, name string) string {
	t.Helper()
	b, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// modulePathEscape escapes a module path as the module cache does
// (upper-case letters as "!" and the letter in lower case).
func modulePathEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// execForm parses the JSON (exec) form of ENTRYPOINT or CMD.
func execForm(t testing.TB, args []string) []string {
	t.Helper()
	if len(args) != 1 {
		t.Fatalf("want one instruction, got %v", args)
	}
	var v []string
	if err := json.Unmarshal([]byte(args[0]), &v); err != nil {
		t.Fatalf("%s is not the exec form: %v", args[0], err)
	}
	return v
}

// dockerEntrypoint returns the path of the binary in the image.
func dockerEntrypoint(t testing.TB) string {
	t.Helper()
	stages := parseDockerfile(t, "Dockerfile")
	for _, in := range stages[len(stages)-1].instrs {
		if in.cmd == "ENTRYPOINT" {
			return execForm(t, []string{in.args})[0]
		}
	}
	t.Fatal("no ENTRYPOINT")
	return ""
}

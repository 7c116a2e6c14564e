// Package localstack starts the local AWS stand-ins that integration tests
// run against, each on a free port on 127.0.0.1, and stops them when the
// test ends: kinesis-mock (npm kinesis-local) for Kinesis, dynalite for the
// KCL's DynamoDB lease table, and versitygw (posix backend, checks SigV4
// signatures) for S3. `make tools` installs them under .tools/.
package localstack

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hublake/hublake/internal/repo"
)

// Credentials every stand-in accepts. kinesis-mock takes the account from a
// 12-digit access key id; versitygw is started with these as its root user.
const (
	AccessKey = "000000000000"
	SecretKey = "hublake-local-secret"
	Region    = "us-east-1"
)

// Stack is a running set of stand-ins.
type Stack struct {
	Kinesis  string // endpoint URL
	DynamoDB string
	S3       string
	// S3Root is the directory versitygw serves: S3Root/<bucket>/<key>.
	S3Root string

	mu    sync.Mutex
	procs []*exec.Cmd
	logs  []*bytes.Buffer
}

// Options chooses the services to start.
type Options struct {
	Kinesis, DynamoDB, S3 bool
	// S3Metadata makes versitygw keep object metadata (ETags, multipart
	// upload names) in a sidecar directory beside S3Root; without it,
	// CompleteMultipartUpload cannot verify parts and ListMultipartUploads
	// lists nothing. Multipart tests need it.
	S3Metadata bool
}

// Env returns the environment a hublake process needs to reach the stack.
func (s *Stack) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_REGION=" + Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// SetEnv sets the stack's credentials for the test process itself.
func (s *Stack) SetEnv(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	t.Setenv("AWS_REGION", Region)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// Main runs a package's tests (call it from TestMain) with the stack's
// credentials and region in the process's environment (gofakes3 accepts
// any; versitygw checks them) and without AWS_MAX_ATTEMPTS or AWS_PROFILE,
// so that tests can run in parallel without Setenv.
func Main(m *testing.M) {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":         AccessKey,
		"AWS_SECRET_ACCESS_KEY":     SecretKey,
		"AWS_REGION":                Region,
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		os.Setenv(k, v)
	}
	os.Unsetenv("AWS_MAX_ATTEMPTS")
	os.Unsetenv("AWS_PROFILE")
	os.Exit(m.Run())
}

// ToolsDir returns .tools at the repository root (HUBLAKE_TOOLS_DIR
// overrides it).
func ToolsDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("HUBLAKE_TOOLS_DIR"); d != "" {
		return d
	}
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, ".tools")
}

// need returns the path of a tool, skipping the test (or failing it under
// CI) when it is not installed.
func need(t testing.TB, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("%s is not installed; run `make tools` (make test does)", path)
		if os.Getenv("CI") != "" || os.Getenv("HUBLAKE_REQUIRE_STACK") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// FreePort returns a port that was free on 127.0.0.1 a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start starts the chosen services and registers their stop with t.Cleanup.
func Start(t testing.TB, o Options) *Stack {
	t.Helper()
	tools := ToolsDir(t)
	for _, p := range o.paths(tools) {
		need(t, p)
	}
	s, err := New(o, tools, t.TempDir())
	if s != nil {
		t.Cleanup(s.Stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (o Options) paths(tools string) []string {
	var out []string
	if o.Kinesis {
		out = append(out, filepath.Join(tools, "node_modules", "kinesis-local", "main.js"))
	}
	if o.DynamoDB {
		out = append(out, filepath.Join(tools, "node_modules", "dynalite", "cli.js"))
	}
	if o.S3 {
		out = append(out, filepath.Join(tools, "bin", "versitygw"))
	}
	return out
}

// Missing returns the tools of o that are not installed under tools.
func (o Options) Missing(tools string) []string {
	var out []string
	for _, p := range o.paths(tools) {
		if _, err := os.Stat(p); err != nil {
			out = append(out, p)
		}
	}
	return out
}

// New starts the chosen services from the tools directory; S3 data goes
// under dir. The caller must Stop the stack, also when New fails.
func New(o Options, tools, dir string) (*Stack, error) {
	s := &Stack{}
	tools, err := filepath.Abs(tools)
	if err != nil {
		return s, err
	}
	if o.Kinesis {
		kdir := filepath.Join(tools, "node_modules", "kinesis-local")
		port, tls, err := freePorts(2)
		if err != nil {
			return s, err
		}
		if err := s.start(kdir, []string{
			"KINESIS_MOCK_PLAIN_PORT=" + strconv.Itoa(port),
			"KINESIS_MOCK_TLS_PORT=" + strconv.Itoa(tls),
			"KINESIS_MOCK_CERT_PATH=" + filepath.Join(kdir, "server.json"),
			"AWS_REGION=" + Region,
			"LOG_LEVEL=WARN",
			"CREATE_STREAM_DURATION=100ms",
			"SPLIT_SHARD_DURATION=200ms",
			"MERGE_SHARDS_DURATION=200ms",
			"UPDATE_SHARD_COUNT_DURATION=200ms",
			"SHARD_LIMIT=1000",
		}, "node", "main.js"); err != nil {
			return s, err
		}
		s.Kinesis = fmt.Sprintf("http://127.0.0.1:%d", port)
	}
	if o.DynamoDB {
		ports, _, err := freePorts(1)
		if err != nil {
			return s, err
		}
		launcher, err := dynaliteLauncher()
		if err != nil {
			return s, err
		}
		if err := s.start("", []string{"NODE_PATH=" + filepath.Join(tools, "node_modules")}, "node", launcher,
			"--host", "127.0.0.1", "--port", strconv.Itoa(ports)); err != nil {
			return s, err
		}
		s.DynamoDB = fmt.Sprintf("http://127.0.0.1:%d", ports)
	}
	if o.S3 {
		port, _, err := freePorts(1)
		if err != nil {
			return s, err
		}
		s.S3Root = filepath.Join(dir, "s3")
		if err := os.MkdirAll(s.S3Root, 0o755); err != nil {
			return s, err
		}
		meta := []string{"--nometa"}
		if o.S3Metadata {
			sidecar := filepath.Join(dir, "versitygw-meta")
			if err := os.MkdirAll(sidecar, 0o755); err != nil {
				return s, err
			}
			meta = []string{"--sidecar", sidecar}
		}
		args := []string{"--access", AccessKey, "--secret", SecretKey, "--region", Region,
			"--port", fmt.Sprintf("127.0.0.1:%d", port), "--quiet", "posix"}
		args = append(append(args, meta...), s.S3Root)
		if err := s.start("", nil, filepath.Join(tools, "bin", "versitygw"), args...); err != nil {
			return s, err
		}
		s.S3 = fmt.Sprintf("http://127.0.0.1:%d", port)
	}
	deadline := time.Now().Add(90 * time.Second)
	for _, ep := range []string{s.Kinesis, s.DynamoDB, s.S3} {
		if ep == "" {
			continue
		}
		if err := waitHTTP(ep, deadline); err != nil {
			return s, fmt.Errorf("%s did not come up: %v\nlogs:\n%s", ep, err, s.Logs())
		}
	}
	return s, nil
}

// dynaliteLauncher returns scripts/dynalite.js of this repository, which
// keeps dynalite alive when a client is killed mid-request.
func dynaliteLauncher() (string, error) {
	root, err := repo.Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "scripts", "dynalite.js"), nil
}

// freePorts returns n ports that were free on 127.0.0.1 a moment ago.
func freePorts(n int) (int, int, error) {
	var ports [2]int
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		defer ln.Close()
	}
	return ports[0], ports[1], nil
}

// Bucket creates a bucket directory for versitygw's posix backend.
func (s *Stack) Bucket(t testing.TB, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(s.S3Root, name), 0o755); err != nil {
		t.Fatal(err)
	}
}

func (s *Stack) start(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: &logs, mu: &s.mu}, &lockedWriter{w: &logs, mu: &s.mu}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	s.mu.Lock()
	s.procs = append(s.procs, cmd)
	s.logs = append(s.logs, &logs)
	s.mu.Unlock()
	return nil
}

// KinesisPID returns the process id of kinesis-mock (0 when not started),
// so that benchmarks can account for the emulator's own CPU time.
func (s *Stack) KinesisPID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.Dir != "" && p.Process != nil { // only kinesis-mock runs from its folder
			return p.Process.Pid
		}
	}
	return 0
}

// Logs returns what the services printed.
func (s *Stack) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	for i, l := range s.logs {
		fmt.Fprintf(&b, "--- %s\n%s\n", s.procs[i].Path, l.String())
	}
	return b.String()
}

// Stop kills every service.
func (s *Stack) Stop() {
	s.mu.Lock()
	procs := s.procs
	s.procs = nil
	s.mu.Unlock()
	for _, p := range procs {
		if p.Process != nil {
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			_, _ = p.Process.Wait()
		}
	}
}

// waitHTTP waits until something answers HTTP at url.
func waitHTTP(url string, deadline time.Time) error {
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		var resp *http.Response
		resp, err = http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() > 1<<20 {
		return len(p), nil
	}
	return l.w.Write(p)
}

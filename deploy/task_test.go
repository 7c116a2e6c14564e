package deploy

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	helpFlagRE = regexp.MustCompile(`^\s+(?:-\w, )?--(?:\[no-\])?([a-z0-9-]+)`)
	helpEnvRE  = regexp.MustCompile(`\(\$(HUBLAKE_[A-Z0-9_]+)\)`)
)

// helpFlags runs `hublake <args> --help` and returns the environment
// variable of each flag (env → flag) and the required flags (from the usage
// line).
func helpFlags(t testing.TB, args ...string) (map[string]string, []string, string) {
	t.Helper()
	out, err := exec.Command(staticBinary(t), append(args, "--help")...).CombinedOutput()
	if err != nil {
		t.Fatalf("hublake %v --help: %v\n%s", args, err, out)
	}
	envs := map[string]string{}
	var required []string
	flag := ""
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Usage:") {
			for _, w := range strings.Fields(line) {
				if name, ok := strings.CutPrefix(w, "--"); ok {
					name, _, _ = strings.Cut(name, "=")
					required = append(required, name)
				}
			}
			continue
		}
		if m := helpFlagRE.FindStringSubmatch(line); m != nil {
			flag = m[1]
		}
		if m := helpEnvRE.FindStringSubmatch(line); m != nil && flag != "" {
			envs[m[1]] = flag
		}
	}
	if len(envs) == 0 {
		t.Fatalf("no flags with environment variables in hublake %v --help:\n%s", args, out)
	}
	return envs, required, string(out)
}

// forbiddenEnv are variables `hublake consume` accepts that a deployment
// must not set.
var forbiddenEnv = map[string]string{
	"HUBLAKE_VERSION":           "prints the version and exits",
	"HUBLAKE_CPU_PROFILE":       "writes a profile into the read-only filesystem",
	"HUBLAKE_KINESIS_ENDPOINT":  "local stacks only",
	"HUBLAKE_DYNAMODB_ENDPOINT": "local stacks only",
	"HUBLAKE_S3_ENDPOINT":       "local stacks only",
	"HUBLAKE_S3_PATH_STYLE":     "local stacks only",
	"HUBLAKE_ENHANCED_FAN_OUT":  "untested, and the task role lacks the SubscribeToShard permissions",
	"HUBLAKE_WORKER_ID":         "every task must have its own (the default is the ECS task id)",
	"HUBLAKE_INITIAL_TIMESTAMP": "only with AT_TIMESTAMP, which the template does not offer",
	"HUBLAKE_RECORD_AWS_OPS":    "a test hook",
	"HUBLAKE_TEST_CRASH_AT":     "a test hook: the process kills itself",
	"HUBLAKE_REQUIRE_STACK":     "a test switch",
	"HUBLAKE_TOOLS_DIR":         "a test switch",
	"HUBLAKE_UPDATE_GOLDEN":     "a test switch",
}

// container returns the task definition's only container definition.
func container(t testing.TB, tpl *template) map[string]any {
	t.Helper()
	defs, _ := tpl.props(t, "TaskDefinition")["ContainerDefinitions"].([]any)
	if len(defs) != 1 {
		t.Fatalf("the task definition has %d containers, want 1", len(defs))
	}
	return defs[0].(map[string]any)
}

// taskEnv returns the container's environment, raw (intrinsics unresolved).
func taskEnv(t testing.TB, tpl *template) map[string]any {
	t.Helper()
	env := map[string]any{}
	for _, kv := range listOf(container(t, tpl)["Environment"]) {
		name, _ := get(kv, "Name").(string)
		if _, dup := env[name]; dup {
			t.Errorf("%s is set twice", name)
		}
		env[name] = get(kv, "Value")
	}
	return env
}

// compactionEnv returns the compaction container's environment, by name.
func compactionEnv(t testing.TB, tpl *template) map[string]any {
	return oneContainerEnv(t, tpl, "CompactionTaskDefinition")
}

// currentEnv returns the current-state refresh container's environment.
func currentEnv(t testing.TB, tpl *template) map[string]any {
	return oneContainerEnv(t, tpl, "CurrentTaskDefinition")
}

// oneContainerEnv returns the environment of the only container of a task
// definition, by name.
func oneContainerEnv(t testing.TB, tpl *template, taskDef string) map[string]any {
	t.Helper()
	defs, _ := tpl.props(t, taskDef)["ContainerDefinitions"].([]any)
	if len(defs) != 1 {
		t.Fatalf("%s has %d containers, want 1", taskDef, len(defs))
	}
	env := map[string]any{}
	for _, kv := range listOf(get(defs[0], "Environment")) {
		name, _ := get(kv, "Name").(string)
		if _, dup := env[name]; dup {
			t.Errorf("%s sets %s twice", taskDef, name)
		}
		env[name] = get(kv, "Value")
	}
	return env
}

// TestTaskEnvironment: every HUBLAKE_* variable of the task definition is a
// flag `hublake consume` accepts (from its --help), every required flag is
// set, the values name this stack's resources, and the real binary accepts
// them (it gets past flag parsing to opening the lake).
func TestTaskEnvironment(t *testing.T) {
	tpl := loadTemplate(t)
	envs, required, _ := helpFlags(t, "consume")
	env := taskEnv(t, tpl)
	for name := range env {
		if why, bad := forbiddenEnv[name]; bad {
			t.Errorf("the task sets %s: %s", name, why)
			continue
		}
		if _, ok := envs[name]; !ok {
			t.Errorf("the task sets %s, which is no flag of hublake consume", name)
		}
	}
	for _, flag := range required {
		found := false
		for e, f := range envs {
			if f == flag {
				_, found = env[e]
			}
		}
		if !found {
			t.Errorf("the required flag --%s is not set by the task", flag)
		}
	}
	for name := range forbiddenEnv {
		if _, ok := envs[name]; !ok && strings.HasPrefix(forbiddenEnv[name], "local") {
			t.Errorf("the forbidden list names %s, which hublake consume no longer has", name)
		}
	}

	raw := map[string]any{
		"HUBLAKE_STREAM":         map[string]any{"Ref": "Stream"},
		"HUBLAKE_APP":            map[string]any{"Ref": "LeaseTable"},
		"HUBLAKE_SSE":            "aws:kms",
		"HUBLAKE_SSE_KMS_KEY_ID": keyArn,
		"HUBLAKE_EMF":            "true",
		"HUBLAKE_REGION":         map[string]any{"Ref": "AWS::Region"},
	}
	for name, want := range raw {
		if !reflect.DeepEqual(env[name], want) {
			t.Errorf("%s = %v, want %v", name, env[name], want)
		}
	}
	// The lease table is the KCL application's name.
	if tn := tpl.props(t, "LeaseTable")["TableName"]; !reflect.DeepEqual(tn, map[string]any{"Ref": "AppName"}) {
		t.Errorf("the lease table is named %v", tn)
	}

	e := newEvaluator(t, tpl, nil)
	e.refs["LakeBucket"] = "example-bucket"
	values := map[string]string{}
	for name, v := range env {
		s, err := e.evalString(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		values[name] = s
	}
	if want := "s3://example-bucket/" + e.params["LakePrefix"].(string); values["HUBLAKE_OUT"] != want {
		t.Errorf("HUBLAKE_OUT = %q, want %q", values["HUBLAKE_OUT"], want)
	}

	// The metrics port: the container's port, and the one the health check
	// command calls: by default the port of HUBLAKE_METRICS_ADDR, which the
	// health check, run in the container, reads as the consumer does.
	_, port, err := net.SplitHostPort(values["HUBLAKE_METRICS_ADDR"])
	if err != nil {
		t.Fatalf("HUBLAKE_METRICS_ADDR %q: %v", values["HUBLAKE_METRICS_ADDR"], err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	hc := exec.Command(staticBinary(t), "healthcheck")
	hc.Env = []string{"HUBLAKE_METRICS_ADDR=:" + u.Port()}
	if out, err := hc.CombinedOutput(); err != nil {
		t.Errorf("hublake healthcheck with HUBLAKE_METRICS_ADDR=:%s did not call its /healthz: %v\n%s", u.Port(), err, out)
	}
	if p := get(container(t, tpl), "PortMappings", 0, "ContainerPort"); strconv.Itoa(toInt(p)) != port {
		t.Errorf("the container port is %v, the metrics port %s", p, port)
	}

	// The binary accepts the values: with them (and --out pointing where no
	// directory can be made) it fails opening the lake, after flag parsing
	// and validation.
	blocker := filepath.Join(tmpDir, "not-a-directory")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(staticBinary(t), "consume", "--out", filepath.Join(blocker, "lake"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmpDir, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x"}
	for k, v := range values {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "open lake") {
		t.Errorf("hublake consume with the task's environment: %v\n%s\nwant it to get as far as opening the lake", err, out)
	}
}

func toInt(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case string:
		n, _ := strconv.Atoi(x)
		return n
	}
	return -1
}

// TestTaskContainer: the health check is the binary's healthcheck
// subcommand at the image's path, the command is the image's, SIGTERM has
// time to flush, logs go to the stack's log group, nothing reaches the task.
func TestTaskContainer(t *testing.T) {
	tpl := loadTemplate(t)
	c := container(t, tpl)
	bin := dockerEntrypoint(t)
	if hc := get(c, "HealthCheck", "Command"); !reflect.DeepEqual(hc, []any{"CMD", bin, "healthcheck"}) {
		t.Errorf("the health check runs %v, want [CMD %s healthcheck]", hc, bin)
	}
	if cmd := c["Command"]; cmd != nil && !reflect.DeepEqual(cmd, []any{"consume"}) {
		t.Errorf("the container runs %v, want consume", cmd)
	}
	stop := toInt(c["StopTimeout"])
	if stop != 30 {
		t.Errorf("StopTimeout %v, want 30", c["StopTimeout"])
	}
	e := newEvaluator(t, tpl, nil)
	st, err := e.evalString(taskEnv(t, tpl)["HUBLAKE_SHUTDOWN_TIMEOUT"])
	if err != nil {
		t.Fatal(err)
	}
	if d, err := time.ParseDuration(st); err != nil || d+5*time.Second > time.Duration(stop)*time.Second {
		t.Errorf("HUBLAKE_SHUTDOWN_TIMEOUT %q must leave a few seconds of the %d s stop timeout", st, stop)
	}
	lc := get(c, "LogConfiguration")
	if get(lc, "LogDriver") != "awslogs" || !reflect.DeepEqual(get(lc, "Options", "awslogs-group"), map[string]any{"Ref": "LogGroup"}) {
		t.Errorf("the container logs to %v", lc)
	}
	if get(tpl.props(t, "LogGroup"), "RetentionInDays") == nil {
		t.Error("the log group keeps logs forever")
	}
	td := tpl.props(t, "TaskDefinition")
	if !reflect.DeepEqual(td["TaskRoleArn"], map[string]any{"Fn::GetAtt": []any{"TaskRole", "Arn"}}) ||
		!reflect.DeepEqual(td["ExecutionRoleArn"], map[string]any{"Fn::GetAtt": []any{"ExecutionRole", "Arn"}}) {
		t.Errorf("the task runs as %v / %v", td["TaskRoleArn"], td["ExecutionRoleArn"])
	}

	// No ingress: neither in the group nor as separate rules.
	for _, sg := range tpl.resourcesOfType("AWS::EC2::SecurityGroup") {
		if _, ok := tpl.props(t, sg)["SecurityGroupIngress"]; ok {
			t.Errorf("%s allows ingress", sg)
		}
	}
	if ing := tpl.resourcesOfType("AWS::EC2::SecurityGroupIngress"); len(ing) > 0 {
		t.Errorf("ingress rules %v", ing)
	}
	svc := tpl.props(t, "Service")
	if !reflect.DeepEqual(get(svc, "NetworkConfiguration", "AwsvpcConfiguration", "SecurityGroups"), []any{map[string]any{"Ref": "TaskSecurityGroup"}}) {
		t.Errorf("the service's security groups are %v", get(svc, "NetworkConfiguration", "AwsvpcConfiguration", "SecurityGroups"))
	}
	if !reflect.DeepEqual(svc["DesiredCount"], map[string]any{"Ref": "DesiredCount"}) {
		t.Errorf("DesiredCount is %v, want the parameter", svc["DesiredCount"])
	}
}

// scheduledTask is a task the stack runs on a schedule: one hublake
// command, from the consumer's image, on its lake.
type scheduledTask struct {
	command, taskDef, role, schedule, schedulerRole string
	// params: variables the task sets from a parameter of the stack.
	params map[string]string
}

// checkScheduledTask: the task runs `hublake <command>` from the same image
// on the consumer's lake, with a read-only root and a scratch volume for
// its spilled runs, its own role, the stack's logs; every variable it sets
// is a flag of the command and the binary accepts the values; the schedule
// runs it (hourly by default) in the stack's cluster and network.
func checkScheduledTask(t *testing.T, tpl *template, st scheduledTask) {
	t.Helper()
	td := tpl.props(t, st.taskDef)
	defs, _ := td["ContainerDefinitions"].([]any)
	if len(defs) != 1 {
		t.Fatalf("the %s task has %d containers, want 1", st.command, len(defs))
	}
	c := defs[0].(map[string]any)
	if !reflect.DeepEqual(c["Command"], []any{st.command}) {
		t.Errorf("the %s container runs %v", st.command, c["Command"])
	}
	if !reflect.DeepEqual(c["Image"], map[string]any{"Ref": "ContainerImage"}) {
		t.Errorf("the %s container's image is %v, want the consumer's", st.command, c["Image"])
	}
	if c["ReadonlyRootFilesystem"] != true {
		t.Errorf("the %s container's root filesystem is writable", st.command)
	}
	if !reflect.DeepEqual(td["TaskRoleArn"], map[string]any{"Fn::GetAtt": []any{st.role, "Arn"}}) ||
		!reflect.DeepEqual(td["ExecutionRoleArn"], map[string]any{"Fn::GetAtt": []any{"ExecutionRole", "Arn"}}) {
		t.Errorf("the %s task runs as %v / %v", st.command, td["TaskRoleArn"], td["ExecutionRoleArn"])
	}
	lc := get(c, "LogConfiguration")
	if get(lc, "LogDriver") != "awslogs" || !reflect.DeepEqual(get(lc, "Options", "awslogs-group"), map[string]any{"Ref": "LogGroup"}) ||
		get(lc, "Options", "awslogs-stream-prefix") != st.command {
		t.Errorf("the %s container logs to %v", st.command, lc)
	}

	env := oneContainerEnv(t, tpl, st.taskDef)
	envs, _, _ := helpFlags(t, st.command)
	for name := range env {
		if why, bad := forbiddenEnv[name]; bad {
			t.Errorf("the %s task sets %s: %s", st.command, name, why)
		} else if _, ok := envs[name]; !ok {
			t.Errorf("the %s task sets %s, which is no flag of hublake %s", st.command, name, st.command)
		}
	}
	consumer := taskEnv(t, tpl)
	for _, name := range []string{"HUBLAKE_OUT", "HUBLAKE_REGION", "HUBLAKE_SSE", "HUBLAKE_SSE_KMS_KEY_ID", "HUBLAKE_EMF"} {
		if !reflect.DeepEqual(env[name], consumer[name]) {
			t.Errorf("the %s task's %s = %v, the consumer's %v", st.command, name, env[name], consumer[name])
		}
	}
	for name, param := range st.params {
		if !reflect.DeepEqual(env[name], map[string]any{"Ref": param}) {
			t.Errorf("the %s task's %s = %v, want the parameter %s", st.command, name, env[name], param)
		}
	}
	mounts := listOf(c["MountPoints"])
	vols := listOf(td["Volumes"])
	if len(mounts) != 1 || len(vols) != 1 || get(mounts[0], "SourceVolume") != get(vols[0], "Name") || get(mounts[0], "ContainerPath") != env["HUBLAKE_TEMP_DIR"] {
		t.Errorf("the %s task's HUBLAKE_TEMP_DIR %v is not the scratch volume (mounts %v, volumes %v)", st.command, env["HUBLAKE_TEMP_DIR"], mounts, vols)
	}

	// The binary accepts the values.
	e := newEvaluator(t, tpl, nil)
	e.refs["LakeBucket"] = "example-bucket"
	blocker := filepath.Join(tmpDir, "not-a-directory-either")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(staticBinary(t), st.command, "--out", filepath.Join(blocker, "lake"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmpDir, "AWS_EC2_METADATA_DISABLED=true", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x"}
	for k, v := range env {
		s, err := e.evalString(v)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if k == "HUBLAKE_TEMP_DIR" {
			s = tmpDir
		}
		cmd.Env = append(cmd.Env, k+"="+s)
	}
	// (Both need an existing lake: they look for the directory before
	// opening it.)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no lake at --out") {
		t.Errorf("hublake %s with the task's environment: %v\n%s\nwant it to get as far as looking for the lake", st.command, err, out)
	}

	// The schedule.
	sp := tpl.props(t, st.schedule)
	if !reflect.DeepEqual(sp["ScheduleExpression"], map[string]any{"Ref": "CompactionSchedule"}) || tpl.Parameters["CompactionSchedule"]["Default"] != "rate(1 hour)" {
		t.Errorf("the %s schedule is %v (default %v), want the compaction schedule's parameter, hourly", st.command, sp["ScheduleExpression"], tpl.Parameters["CompactionSchedule"]["Default"])
	}
	tgt := get(sp, "Target")
	for path, want := range map[string]any{
		"Arn":                             map[string]any{"Fn::GetAtt": []any{"Cluster", "Arn"}},
		"RoleArn":                         map[string]any{"Fn::GetAtt": []any{st.schedulerRole, "Arn"}},
		"EcsParameters.TaskDefinitionArn": map[string]any{"Ref": st.taskDef},
		"EcsParameters.LaunchType":        "FARGATE",
		"EcsParameters.NetworkConfiguration.AwsvpcConfiguration.Subnets":        map[string]any{"Ref": "SubnetIds"},
		"EcsParameters.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups": []any{map[string]any{"Ref": "TaskSecurityGroup"}},
	} {
		var keys []any
		for _, k := range strings.Split(path, ".") {
			keys = append(keys, k)
		}
		if got := get(tgt, keys...); !reflect.DeepEqual(got, want) {
			t.Errorf("the %s schedule's target %s = %v, want %v", st.command, path, got, want)
		}
	}
}

// TestCompactionTask: the compaction task (checkScheduledTask), with
// --older-than from its parameter; the schedule parameter's pattern.
func TestCompactionTask(t *testing.T) {
	tpl := loadTemplate(t)
	checkScheduledTask(t, tpl, scheduledTask{command: "compact", taskDef: "CompactionTaskDefinition", role: "CompactionTaskRole",
		schedule: "CompactionSchedule", schedulerRole: "CompactionSchedulerRole", params: map[string]string{"HUBLAKE_OLDER_THAN": "CompactionOlderThan"}})
	pattern := regexp.MustCompile(tpl.Parameters["CompactionSchedule"]["AllowedPattern"].(string))
	for expr, ok := range map[string]bool{"rate(1 hour)": true, "rate(15 minutes)": true, "cron(5 * * * ? *)": true, "1 hour": false, "rate(0 hours)": false, "rate(1 week)": false} {
		if pattern.MatchString(expr) != ok {
			t.Errorf("the schedule parameter accepts %q: %v, want %v", expr, !ok, ok)
		}
	}
}

// TestCurrentTask: the current-state refresh runs as a task of its own
// (its own role: it must not be able to delete the history) on the
// compaction schedule, sized as the compaction task, on the same lake.
func TestCurrentTask(t *testing.T) {
	tpl := loadTemplate(t)
	checkScheduledTask(t, tpl, scheduledTask{command: "current", taskDef: "CurrentTaskDefinition", role: "CurrentTaskRole",
		schedule: "CurrentSchedule", schedulerRole: "CurrentSchedulerRole"})
}

// TestCurrentTaskSize: the refresh task is the compaction task's size and
// platform (it sorts in compaction's memory budget), and lakes agree.
func TestCurrentTaskSize(t *testing.T) {
	tpl := loadTemplate(t)
	cur, comp := tpl.props(t, "CurrentTaskDefinition"), tpl.props(t, "CompactionTaskDefinition")
	for _, k := range []string{"Cpu", "Memory", "RuntimePlatform", "NetworkMode", "RequiresCompatibilities", "Volumes", "ExecutionRoleArn"} {
		if !reflect.DeepEqual(cur[k], comp[k]) {
			t.Errorf("the current task's %s = %v, the compaction task's %v", k, cur[k], comp[k])
		}
	}
	if !reflect.DeepEqual(currentEnv(t, tpl)["HUBLAKE_OUT"], compactionEnv(t, tpl)["HUBLAKE_OUT"]) {
		t.Error("the refresh and compaction run on different lakes")
	}
	if reflect.DeepEqual(cur["TaskRoleArn"], comp["TaskRoleArn"]) {
		t.Error("the refresh runs with the compaction role, which may delete the history")
	}
}

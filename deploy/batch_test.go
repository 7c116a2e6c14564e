package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The optional AWS Batch backfill (Backfill=true): its role may do what
// `hublake backfill` is observed doing from S3 into S3, on the archive and
// the lake only; its job definition runs the image's backfill with flags
// and variables the binary accepts.

// backfillOverrides turn the backfill on, with an archive.
var backfillOverrides = map[string]string{
	"Backfill": "true", "BackfillSourceBucket": "archive-bucket", "BackfillSourcePrefix": "firehose/",
}

// backfillOperations reads deploy/testdata/backfill-aws-operations.txt, the
// operations the end-to-end tests of cmd/hublake record for backfills over
// S3 (listing and reading the archive, pinging and writing the lake).
func backfillOperations(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/backfill-aws-operations.txt")
	if err != nil {
		t.Fatal(err)
	}
	ops := strings.Fields(string(b))
	if len(ops) == 0 {
		t.Fatal("no operations in testdata/backfill-aws-operations.txt")
	}
	return ops
}

// backfillGrants are, for each IAM action an observed backfill operation
// needs, the resources it needs it on (the archive, or the lake).
func backfillGrants(prefix string) map[string][]string {
	return map[string][]string{
		// Listing the archive, and the store's ping of the lake.
		"s3:ListBucket": {"arn:aws:s3:::archive-bucket", "<LakeBucket.Arn>"},
		// Reading the archive; the writers' absorbed-name checks (HeadObject
		// of a marker: encode/encoder.go).
		"s3:GetObject":            {"arn:aws:s3:::archive-bucket/firehose/*", "<LakeBucket.Arn>/" + prefix + "/_hublake/absorbed/*"},
		"s3:PutObject":            {"<LakeBucket.Arn>/" + prefix + "/*"},
		"s3:AbortMultipartUpload": {"<LakeBucket.Arn>/" + prefix + "/*"},
		// Removing an object a compaction absorbed while it was written.
		"s3:DeleteObject": {"<LakeBucket.Arn>/" + prefix + "/*"},
	}
}

// TestBackfillJobRoleMatchesObservedOperations: the Batch job role grants
// exactly the S3 actions the observed backfill operations map to (plus the
// multipart ones a larger object needs), each on the archive or the lake
// only, listing limited to the archive's prefix and the lake's; KMS for S3
// only, on the lake's key and, when given, the archive's.
func TestBackfillJobRoleMatchesObservedOperations(t *testing.T) {
	tpl := loadTemplate(t)
	for _, key := range []string{"", "arn:aws:kms:eu-west-1:123456789012:key/archive"} {
		over := map[string]string{"BackfillSourceKmsKeyArn": key}
		for k, v := range backfillOverrides {
			over[k] = v
		}
		e := newEvaluator(t, tpl, over)
		prefix, _ := e.params["LakePrefix"].(string)
		want := map[string]bool{}
		ops := backfillOperations(t)
		for op := range reachableNotObserved {
			if strings.HasPrefix(op, "S3:") {
				ops = append(ops, op)
			}
		}
		grants := backfillGrants(prefix)
		for _, op := range ops {
			actions, ok := operationActions[op]
			if !ok {
				t.Fatalf("hublake backfill calls %s, which operationActions does not map to IAM actions", op)
			}
			for _, a := range actions {
				res, ok := grants[a]
				if !ok {
					t.Fatalf("%s needs %s; backfillGrants does not say on what", op, a)
				}
				for _, r := range res {
					want[a+" "+r] = true
				}
			}
		}
		wantKeys := []string{"<Key.Arn>"}
		if key != "" {
			wantKeys = append(wantKeys, key)
		}
		got := map[string]bool{}
		var gotKeys []string
		p, err := e.eval(tpl.props(t, "BackfillJobRole"))
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range listOf(get(p, "Policies", 0, "PolicyDocument", "Statement")) {
			if get(st, "Effect") != "Allow" {
				t.Errorf("%v: only Allow statements", st)
			}
			for _, a := range actionList(t, get(st, "Action")) {
				for _, r := range listOf(get(st, "Resource")) {
					res, _ := r.(string)
					switch {
					case strings.HasPrefix(a, "kms:"):
						if get(st, "Condition", "StringEquals", "kms:ViaService") != "s3.eu-west-1.amazonaws.com" {
							t.Errorf("%s on %s is not limited to S3 (kms:ViaService)", a, res)
						}
						if (a == "kms:Decrypt" || a == "kms:GenerateDataKey") && !slices.Contains(gotKeys, res) {
							gotKeys = append(gotKeys, res)
						}
						if a == "kms:GenerateDataKey" && res != "<Key.Arn>" {
							t.Errorf("kms:GenerateDataKey on %s: the job writes only the lake", res)
						}
					case strings.HasPrefix(a, "s3:"):
						got[a+" "+res] = true
					default:
						t.Errorf("the job role needs no %s", a)
					}
					if a != "s3:ListBucket" {
						continue
					}
					cond, _ := get(st, "Condition", "StringLike", "s3:prefix").(string)
					if res == "<LakeBucket.Arn>" {
						if !iamLike(cond, prefix+"/") || iamLike(cond, "other/") {
							t.Errorf("listing the lake is limited to %q; want the lake prefix %s/", cond, prefix)
						}
					} else if !iamLike(cond, "firehose/") || !iamLike(cond, "firehose/2025/01") || iamLike(cond, "firehose-old/") || iamLike(cond, "other/") {
						t.Errorf("listing the archive is limited to %q; want the archive prefix firehose/", cond)
					}
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("key %q: the job role grants\n  %v\nthe observed operations need\n  %v", key, sortedKeys(got), sortedKeys(want))
		}
		slices.Sort(gotKeys)
		slices.Sort(wantKeys)
		if !slices.Equal(gotKeys, wantKeys) {
			t.Errorf("the job role may use the keys %v, want %v", gotKeys, wantKeys)
		}
	}
}

// TestBackfillJobDefinition: the job runs the image's backfill on Fargate
// in the stack's architecture, as the job role, with the execution role and
// log group of the consumer; its variables are flags of `hublake backfill`
// that a deployment may set; and the binary accepts its command with the
// parameters submit-job gives (and refuses it without them).
func TestBackfillJobDefinition(t *testing.T) {
	tpl := loadTemplate(t)
	e := newEvaluator(t, tpl, backfillOverrides)
	e.refs["LakeBucket"] = "example-bucket"
	raw := tpl.props(t, "BackfillJobDefinition")
	if tpl.resource(t, "BackfillJobDefinition")["Condition"] != "CreateBackfill" {
		t.Error("the job definition is not optional")
	}
	p, err := e.eval(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(get(p, "PlatformCapabilities"), []any{"FARGATE"}) || get(p, "Type") != "container" {
		t.Errorf("the job runs on %v as %v", get(p, "PlatformCapabilities"), get(p, "Type"))
	}
	c := get(p, "ContainerProperties")
	for k, want := range map[string]any{
		"Image":            "<ContainerImage>",
		"JobRoleArn":       "<BackfillJobRole.Arn>",
		"ExecutionRoleArn": "<ExecutionRole.Arn>",
	} {
		if got := get(c, k); got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if arch := get(raw, "ContainerProperties", "RuntimePlatform", "CpuArchitecture"); !reflect.DeepEqual(arch, map[string]any{"Ref": "CpuArchitecture"}) {
		t.Errorf("the job's architecture is %v, not the image's (CpuArchitecture)", arch)
	}
	if get(c, "LogConfiguration", "Options", "awslogs-group") != "<Ref LogGroup>" {
		t.Errorf("the job logs to %v", get(c, "LogConfiguration"))
	}
	envs, _, _ := helpFlags(t, "backfill")
	values := map[string]string{}
	for _, kv := range listOf(get(c, "Environment")) {
		name, _ := get(kv, "Name").(string)
		if why, bad := forbiddenEnv[name]; bad {
			t.Errorf("the job sets %s: %s", name, why)
		}
		if _, ok := envs[name]; !ok {
			t.Errorf("the job sets %s, which is no flag of hublake backfill", name)
		}
		values[name] = get(kv, "Value").(string)
	}
	if want := "s3://example-bucket/" + e.params["LakePrefix"].(string); values["HUBLAKE_OUT"] != want {
		t.Errorf("HUBLAKE_OUT = %q, want %q", values["HUBLAKE_OUT"], want)
	}
	command, _ := get(c, "Command").([]any)
	params, _ := get(p, "Parameters").(map[string]any)
	if params["source"] != "s3://archive-bucket/firehose/" {
		t.Errorf("the default source is %v", params["source"])
	}
	if _, ok := params["parts"]; ok {
		t.Error("parts has a default; it must be given with the array's size")
	}

	// With the parameters submit-job gives, the binary gets past its flags
	// and the part (child 3 of 4) to opening the lake; without parts, it
	// stops at its flags.
	blocker := filepath.Join(tmpDir, "not-a-directory")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(subst map[string]string, index string) string {
		var args []string
		for _, a := range command {
			s := a.(string)
			if v, ok := subst[strings.TrimPrefix(s, "Ref::")]; ok && strings.HasPrefix(s, "Ref::") {
				s = v
			}
			args = append(args, s)
		}
		cmd := exec.Command(staticBinary(t), args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmpDir, "AWS_EC2_METADATA_DISABLED=true",
			"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_BATCH_JOB_ARRAY_INDEX=" + index}
		for k, v := range values {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Env = append(cmd.Env, "HUBLAKE_OUT="+filepath.Join(blocker, "lake"))
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("hublake %v succeeded against a lake that cannot exist:\n%s", args, out)
		}
		return string(out)
	}
	if out := run(map[string]string{"parts": "4", "source": params["source"].(string)}, "3"); !strings.Contains(out, "open lake") {
		t.Errorf("the job's command with parts=4 as child 3:\n%s\nwant it to get as far as opening the lake", out)
	}
	if out := run(map[string]string{"parts": "4", "source": params["source"].(string)}, "4"); !strings.Contains(out, "0 ≤ K < N") {
		t.Errorf("child 4 of 4:\n%s\nwant it refused", out)
	}
	if out := run(map[string]string{"source": params["source"].(string)}, "0"); !strings.Contains(out, "--parts") {
		t.Errorf("the job's command without the parts parameter:\n%s\nwant a flag error", out)
	}
}

package deploy

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hublake/hublake/schema"
)

// keyArn is how the template names the key: the stack's, or the given one.
var keyArn = map[string]any{"Fn::If": []any{"CreateKey", map[string]any{"Fn::GetAtt": []any{"Key", "Arn"}}, map[string]any{"Ref": "KmsKeyArn"}}}

// allowedActions is every action an Allow statement of the template may
// grant, with why. A new action fails the test until it is listed here.
var allowedActions = map[string]string{
	// EventBridge → Kinesis (EventsToKinesisRole).
	"kinesis:PutRecord":  "EventBridge's Kinesis target puts one event per record",
	"kinesis:PutRecords": "EventBridge's Kinesis target may batch",
	// hublake consume (TaskRole): see operationActions.
	"kinesis:GetRecords":            "consume reads the shards",
	"kinesis:GetShardIterator":      "consume starts reading a shard",
	"kinesis:ListShards":            "the KCL syncs the shards",
	"dynamodb:DescribeTable":        "consume checks that the lease table exists",
	"dynamodb:GetItem":              "leases and checkpoints are read",
	"dynamodb:Scan":                 "lease stealing lists all leases",
	"dynamodb:UpdateItem":           "leases, checkpoints and pending extents are written",
	"dynamodb:DeleteItem":           "the KCL removes the lease of a shard that left the stream",
	"s3:ListBucket":                 "consume pings the lake; analysts' queries list partitions",
	"s3:PutObject":                  "consume writes the lake (single and multipart uploads); compact writes compacted objects and its bookkeeping; current writes the current tables' snapshots and manifests; Athena writes results",
	"s3:DeleteObject":               "compact deletes the objects it replaced; current deletes old snapshots; consume removes an object a compaction absorbed while it was written",
	"s3:AbortMultipartUpload":       "a failed multipart upload is aborted",
	"s3:GetObject":                  "analysts read the tables and query results; the backfill job reads its archive; compact reads the lake; consume and backfill check absorbed-name markers (HeadObject)",
	"s3:GetBucketLocation":          "Athena locates the results bucket",
	"s3:ListBucketMultipartUploads": "Athena's result uploads",
	"s3:ListMultipartUploadParts":   "Athena's result uploads",
	// KMS: SSE-KMS of the lake and the stream, the logs, the dead-letter queue.
	"kms:Decrypt":                         "read the encrypted stream and lake; complete multipart uploads",
	"kms:GenerateDataKey":                 "write the encrypted stream, lake, queue and results",
	"kms:Encrypt":                         "CloudWatch Logs encrypts the log group",
	"kms:ReEncryptFrom":                   "CloudWatch Logs re-encrypts on key rotation",
	"kms:ReEncryptTo":                     "CloudWatch Logs re-encrypts on key rotation",
	"kms:GenerateDataKeyWithoutPlaintext": "CloudWatch Logs",
	"kms:DescribeKey":                     "CloudWatch Logs and Athena check the key",
	// EventBridge dead letters.
	"sqs:SendMessage": "EventBridge sends undeliverable events to the dead-letter queue",
	// ECS (ExecutionRole).
	"ecr:GetAuthorizationToken":       "ECR login for the image pull",
	"ecr:BatchCheckLayerAvailability": "image pull",
	"ecr:GetDownloadUrlForLayer":      "image pull",
	"ecr:BatchGetImage":               "image pull",
	"logs:CreateLogStream":            "the awslogs driver",
	"logs:PutLogEvents":               "the awslogs driver (and with it the EMF metrics)",
	// Trust policies.
	"sts:AssumeRole": "EventBridge, EventBridge Scheduler and ECS assume the stack's roles",
	// EventBridge Scheduler (CompactionSchedulerRole).
	"ecs:RunTask":  "the schedules start the compaction task and the current-state refresh task",
	"iam:PassRole": "the schedules hand each task its two roles",
	// Analysts (AnalystPolicy).
	"athena:StartQueryExecution":    "analysts query through the workgroup",
	"athena:StopQueryExecution":     "analysts query through the workgroup",
	"athena:GetQueryExecution":      "analysts query through the workgroup",
	"athena:GetQueryResults":        "analysts query through the workgroup",
	"athena:BatchGetQueryExecution": "the console's query history",
	"athena:ListQueryExecutions":    "the console's query history",
	"athena:GetWorkGroup":           "the console and SDKs read the workgroup",
	"athena:ListNamedQueries":       "the saved queries",
	"athena:GetNamedQuery":          "the saved queries",
	"athena:BatchGetNamedQuery":     "the saved queries",
	"glue:GetDatabase":              "Athena reads the catalog",
	"glue:GetTable":                 "Athena reads the catalog",
	"glue:GetTables":                "Athena reads the catalog",
	"glue:GetPartition":             "Athena reads the catalog",
	"glue:GetPartitions":            "Athena reads the catalog",
	"glue:CreateTable":              "creating the views (findings_latest, ocsf_findings_latest, findings_all)",
	"glue:UpdateTable":              "replacing the views",
}

// deniedActions may appear in Deny statements (the TLS-only policies).
var deniedActions = map[string]string{
	"s3:*":  "the bucket refuses every request without TLS",
	"sqs:*": "the queue refuses every request without TLS",
}

// actionExceptions are statements allowed an action outside allowedActions.
var actionExceptions = map[string]map[string]string{
	"Key/AccountAdministers": {"kms:*": "the default key policy: the account administers its key and delegates use to IAM " +
		"policies; without it the key can become unmanageable (AWS KMS developer guide, default key policy)"},
}

// resourceExceptions are statements whose resources need not name this
// stack's resources, with why nothing narrower is possible.
var resourceExceptions = map[string]string{
	"Key/AccountAdministers":                      `in a key policy, Resource "*" is the key itself (a key policy cannot name its own ARN)`,
	"Key/CloudWatchLogsEncryptsTheLogGroup":       `key policy: "*" is this key; the condition names this stack's log group`,
	"Key/EventBridgeWritesTheDeadLetterQueue":     `key policy: "*" is this key`,
	"Key/AnalystsReadTheLakeAndWriteQueryResults": `key policy: "*" is this key`,
	"ExecutionRole/EcrLogin":                      "ecr:GetAuthorizationToken has no resource-level permissions",
	"AnalystPolicy/ReadTheCatalog":                "Glue checks the account's Data Catalog ARN (…:catalog) on every database and table action; the other two resources are this stack's database and tables",
}

// paramRefs are parameters that name resources the stack uses instead of
// creating them.
var paramRefs = map[string]string{
	"KmsKeyArn":               "a customer managed key given instead of the stack's",
	"EcrRepositoryArn":        "the repository the image is pulled from",
	"BackfillSourceBucket":    "the archive the backfill job reads",
	"BackfillSourceKmsKeyArn": "the key the archive is encrypted with",
}

// allowedPrincipals are the principals resource policies and trust policies
// may name (as the template writes them).
var allowedPrincipals = []any{
	map[string]any{"Service": "events.amazonaws.com"},
	map[string]any{"Service": "ecs-tasks.amazonaws.com"},
	map[string]any{"Service": "scheduler.amazonaws.com"},
	map[string]any{"Service": map[string]any{"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}},
	map[string]any{"AWS": map[string]any{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
	map[string]any{"AWS": map[string]any{"Ref": "AnalystRoleArn"}},
}

// statement is one policy statement of the template.
type statement struct {
	logical string // the resource
	path    string // where in its properties
	id      string // "Logical/Sid"
	stmt    map[string]any
	trust   bool // an AssumeRolePolicyDocument
}

// policyStatements finds every policy document of the template (any mapping
// with Version and Statement) and returns its statements, both branches of
// an Fn::If statement included.
func policyStatements(t testing.TB, tpl *template) []statement {
	t.Helper()
	var out []statement
	var walk func(logical, path string, v any)
	walk = func(logical, path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["Statement"]; ok && x["Version"] != nil {
				stmts, ok := x["Statement"].([]any)
				if !ok {
					stmts = []any{x["Statement"]}
				}
				for i, s := range stmts {
					for _, st := range ifBranches(s) {
						m, ok := st.(map[string]any)
						if !ok {
							t.Errorf("%s %s.Statement[%d] is not a mapping: %v", logical, path, i, st)
							continue
						}
						sid, _ := m["Sid"].(string)
						if sid == "" {
							sid = path
						}
						out = append(out, statement{logical: logical, path: path, id: logical + "/" + sid, stmt: m,
							trust: strings.Contains(path, "AssumeRolePolicyDocument")})
					}
				}
				return
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(logical, path+"."+k, x[k])
			}
		case []any:
			for _, it := range x {
				walk(logical, path, it)
			}
		}
	}
	names := make([]string, 0, len(tpl.Resources))
	for n := range tpl.Resources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		walk(n, "Properties", tpl.Resources[n]["Properties"])
	}
	return out
}

// ifBranches returns the values v can take: both branches of an Fn::If
// (recursively), without AWS::NoValue.
func ifBranches(v any) []any {
	if fn, arg, ok := intrinsic(v); ok {
		if fn == "Fn::If" {
			args, _ := arg.([]any)
			if len(args) == 3 {
				return append(ifBranches(args[1]), ifBranches(args[2])...)
			}
		}
		if fn == "Ref" && arg == "AWS::NoValue" {
			return nil
		}
	}
	return []any{v}
}

// actionList returns a statement's Action as strings; actions must be literal.
func actionList(t testing.TB, v any) []string {
	t.Helper()
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			s, ok := x.(string)
			if !ok {
				t.Errorf("an action is not a literal string: %v", x)
				continue
			}
			out = append(out, s)
		}
		return out
	}
	t.Errorf("Action is neither a string nor a list: %v", v)
	return nil
}

// roleStatements returns the statements of a role's inline policies.
func roleStatements(t testing.TB, tpl *template, role string) []statement {
	t.Helper()
	var out []statement
	for _, st := range policyStatements(t, tpl) {
		if st.logical == role && !st.trust {
			out = append(out, st)
		}
	}
	if len(out) == 0 {
		t.Fatalf("role %s has no policy statements", role)
	}
	return out
}

// refersToStack reports whether v names a resource of this stack: a Ref or
// GetAtt of one of its resources, a Sub that uses one, a given-resource
// parameter (paramRefs), or an Fn::If whose every branch does.
func refersToStack(tpl *template, v any) bool {
	fn, arg, ok := intrinsic(v)
	if !ok {
		return false
	}
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		_, res := tpl.Resources[name]
		_, param := paramRefs[name]
		return res || param
	case "Fn::GetAtt":
		args, _ := arg.([]any)
		if len(args) != 2 {
			return false
		}
		name, _ := args[0].(string)
		_, res := tpl.Resources[name]
		return res
	case "Fn::Sub":
		s, _ := arg.(string)
		if l, ok := arg.([]any); ok && len(l) > 0 {
			s, _ = l[0].(string)
		}
		for _, name := range subVars(s) {
			res, _, _ := strings.Cut(name, ".")
			_, isRes := tpl.Resources[res]
			_, isParam := paramRefs[name]
			if isRes || isParam {
				return true
			}
		}
		return false
	case "Fn::If":
		branches := ifBranches(v)
		if len(branches) == 0 {
			return false
		}
		for _, b := range branches {
			if !refersToStack(tpl, b) {
				return false
			}
		}
		return true
	case "Fn::Join":
		args, _ := arg.([]any)
		if len(args) == 2 {
			items, _ := args[1].([]any)
			for _, it := range items {
				if refersToStack(tpl, it) {
					return true
				}
			}
		}
	}
	return false
}

func listOf(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// TestIAMStatements checks every policy statement of the template: actions
// from the allow list (no wildcards), resources of this stack (no "*")
// unless an exception says why not, known principals, and no Not* elements.
func TestIAMStatements(t *testing.T) {
	tpl := loadTemplate(t)
	stmts := policyStatements(t, tpl)
	if len(stmts) < 10 {
		t.Fatalf("found only %d policy statements; the walk is broken", len(stmts))
	}
	usedAction, usedResource := map[string]bool{}, map[string]bool{}
	for _, st := range stmts {
		s := st.stmt
		for _, k := range []string{"NotAction", "NotResource", "NotPrincipal"} {
			if _, ok := s[k]; ok {
				t.Errorf("%s uses %s", st.id, k)
			}
		}
		effect := s["Effect"]
		actions := actionList(t, s["Action"])
		if len(actions) == 0 {
			t.Errorf("%s has no actions", st.id)
		}
		for _, a := range actions {
			switch {
			case effect == "Deny":
				if _, ok := deniedActions[a]; !ok {
					t.Errorf("%s denies %s, which is not on the deny list", st.id, a)
				}
			case effect == "Allow":
				if why, ok := actionExceptions[st.id][a]; ok && why != "" {
					usedAction[st.id] = true
					continue
				}
				if strings.ContainsAny(a, "*?") {
					t.Errorf("%s allows the wildcard action %s", st.id, a)
				} else if _, ok := allowedActions[a]; !ok {
					t.Errorf("%s allows %s, which is not on the allow list (add it with a reason if it is needed)", st.id, a)
				}
			default:
				t.Errorf("%s: Effect %v", st.id, effect)
			}
		}

		principal, hasPrincipal := s["Principal"]
		switch {
		case st.trust:
			if !reflect.DeepEqual(actions, []string{"sts:AssumeRole"}) {
				t.Errorf("%s: a trust policy may only allow sts:AssumeRole, not %v", st.id, actions)
			}
			if get(s, "Condition", "StringEquals", "aws:SourceAccount") == nil {
				t.Errorf("%s: the trust policy has no aws:SourceAccount condition (confused deputy)", st.id)
			}
		case hasPrincipal && effect == "Allow":
			ok := false
			for _, p := range allowedPrincipals {
				ok = ok || reflect.DeepEqual(principal, p)
			}
			if !ok {
				t.Errorf("%s allows the principal %v, which is not on the list", st.id, principal)
			}
		case hasPrincipal && effect == "Deny":
			if principal != "*" {
				t.Errorf("%s: a deny statement should apply to everyone, not %v", st.id, principal)
			}
		}
		if st.trust {
			continue
		}
		resources := listOf(s["Resource"])
		if len(resources) == 0 {
			t.Errorf("%s names no resource", st.id)
		}
		for _, r := range resources {
			if refersToStack(tpl, r) {
				continue
			}
			if why, ok := resourceExceptions[st.id]; ok && why != "" {
				usedResource[st.id] = true
				continue
			}
			t.Errorf("%s: the resource %v is not one of this stack's (Ref/GetAtt/Sub of its resources)", st.id, r)
		}
	}
	for id := range actionExceptions {
		if !usedAction[id] {
			t.Errorf("the action exception for %s is not used; remove it", id)
		}
	}
	for id := range resourceExceptions {
		if !usedResource[id] {
			t.Errorf("the resource exception for %s is not used; remove it", id)
		}
	}
	// The task role is the only identity the service runs as: no managed
	// policies beside the inline one (they could grant anything).
	for _, role := range tpl.resourcesOfType("AWS::IAM::Role") {
		if _, ok := tpl.props(t, role)["ManagedPolicyArns"]; ok {
			t.Errorf("%s attaches managed policies; grant inline, least privilege", role)
		}
	}
}

// operationActions maps the AWS operations `hublake consume` and `hublake
// backfill` call (as awsconf.RecordOperations names them) to the IAM actions
// they need.
var operationActions = map[string][]string{
	"Kinesis:GetRecords":       {"kinesis:GetRecords"},
	"Kinesis:GetShardIterator": {"kinesis:GetShardIterator"},
	"Kinesis:ListShards":       {"kinesis:ListShards"},
	"DynamoDB:DescribeTable":   {"dynamodb:DescribeTable"},
	"DynamoDB:GetItem":         {"dynamodb:GetItem"},
	"DynamoDB:Scan":            {"dynamodb:Scan"},
	"DynamoDB:UpdateItem":      {"dynamodb:UpdateItem"},
	"DynamoDB:DeleteItem":      {"dynamodb:DeleteItem"},
	"S3:ListObjectsV2":         {"s3:ListBucket"},
	"S3:PutObject":             {"s3:PutObject"},
	"S3:GetObject":             {"s3:GetObject"}, // backfill reads its archive; compact reads the lake
	"S3:HeadObject":            {"s3:GetObject"},
	"S3:DeleteObject":          {"s3:DeleteObject"},
	// Without --s3-region (HUBLAKE_S3_REGION) hublake asks S3 each bucket's
	// region with HeadBucket, whose answer names the region
	// (x-amz-bucket-region) even when it refuses the request
	// (objstore/s3lake/region.go): it needs no permission. The stack's tasks are told
	// their lake's region and do not ask; the Batch job asks, for archives
	// in other regions.
	"S3:HeadBucket": {},
	// The upload manager switches to a multipart upload for objects larger
	// than one part (8 MiB); a multipart upload is authorized by s3:PutObject,
	// and the abort of a failed one by s3:AbortMultipartUpload.
	"S3:CreateMultipartUpload":   {"s3:PutObject"},
	"S3:UploadPart":              {"s3:PutObject"},
	"S3:CompleteMultipartUpload": {"s3:PutObject"},
	"S3:AbortMultipartUpload":    {"s3:AbortMultipartUpload"},
}

// reachableNotObserved are operations the service can call in production
// that the end-to-end tests do not reach yet; they are granted as if observed.
var reachableNotObserved = map[string]string{
	// The tests' batches stay under the upload manager's 8 MiB part size, so
	// every object is one PutObject; a larger batch (--flush-bytes is 16 MiB
	// of input) is a multipart upload, and a failed one is aborted.
	"S3:CreateMultipartUpload":   "objects over 8 MiB",
	"S3:UploadPart":              "objects over 8 MiB",
	"S3:CompleteMultipartUpload": "objects over 8 MiB",
	"S3:AbortMultipartUpload":    "a failed multipart upload",
	// A compaction that absorbs a name while the consumer writes it (between
	// the writer's two marker checks) makes the writer delete its object
	// (encode/encoder.go); the golden run's compactions never race so.
	"S3:DeleteObject": "an object a compaction absorbed while it was written",
	// The KCL deletes the lease of a shard that ListShards no longer returns
	// (a closed parent shard after the retention period,
	// files.Leases.RemoveLeaseInfo); the tests never outlive a retention.
	"DynamoDB:DeleteItem": "the lease of a shard that left the stream",
}

// notGranted are observed operations the task role deliberately lacks.
var notGranted = map[string]string{
	// In the tests the lease table does not exist, so files.Leases.Init
	// creates it; the stack pre-creates it (LeaseTable), and Init then only
	// calls DescribeTable.
	"DynamoDB:CreateTable": "the stack pre-creates the lease table",
}

// observedOperations reads deploy/testdata/<command>-aws-operations.txt, the
// golden list the end-to-end tests of cmd/hublake compare their recording with.
func observedOperations(t testing.TB, command string) []string {
	t.Helper()
	f, err := os.Open("testdata/" + command + "-aws-operations.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ops []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			ops = append(ops, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ops) == 0 {
		t.Fatalf("no operations in testdata/%s-aws-operations.txt", command)
	}
	return ops
}

// TestTaskRoleMatchesObservedOperations: the task role's Kinesis, DynamoDB and
// S3 actions are exactly the mapped operations the service was observed
// calling (plus the reachable ones above, minus CreateTable), on this stack's
// stream, table and lake prefix; KMS use of the key for those services only;
// nothing else.
func TestTaskRoleMatchesObservedOperations(t *testing.T) {
	tpl := loadTemplate(t)
	want := map[string]bool{}
	ops := observedOperations(t, "consume")
	for op := range reachableNotObserved {
		ops = append(ops, op)
	}
	for _, op := range ops {
		if _, skip := notGranted[op]; skip {
			continue
		}
		actions, ok := operationActions[op]
		if !ok {
			t.Errorf("hublake consume calls %s, which operationActions does not map to IAM actions", op)
		}
		for _, a := range actions {
			want[a] = true
		}
	}

	e := newEvaluator(t, tpl, nil)
	prefix, _ := e.params["LakePrefix"].(string)
	resourceOf := map[string]string{
		"kinesis:":                "<Stream.Arn>",
		"dynamodb:":               "<LeaseTable.Arn>",
		"s3:ListBucket":           "<LakeBucket.Arn>",
		"s3:PutObject":            "<LakeBucket.Arn>/" + prefix + "/*",
		"s3:AbortMultipartUpload": "<LakeBucket.Arn>/" + prefix + "/*",
		"s3:DeleteObject":         "<LakeBucket.Arn>/" + prefix + "/*",
		"s3:GetObject":            "<LakeBucket.Arn>/" + prefix + "/_hublake/absorbed/*",
		"kms:":                    "<Key.Arn>",
	}
	got := map[string]bool{}
	for _, st := range roleStatements(t, tpl, "TaskRole") {
		if st.stmt["Effect"] != "Allow" {
			continue
		}
		res, err := e.eval(st.stmt["Resource"])
		if err != nil {
			t.Fatalf("%s: %v", st.id, err)
		}
		for _, a := range actionList(t, st.stmt["Action"]) {
			svc, _, _ := strings.Cut(a, ":")
			switch svc {
			case "kinesis", "dynamodb", "s3":
				got[a] = true
			case "kms":
				if a != "kms:Decrypt" && a != "kms:GenerateDataKey" {
					t.Errorf("%s: the task role needs kms:Decrypt and kms:GenerateDataKey only, not %s", st.id, a)
				}
				vias := listOf(get(st.stmt, "Condition", "StringEquals", "kms:ViaService"))
				if len(vias) == 0 {
					t.Errorf("%s: KMS use is not limited to the services (kms:ViaService)", st.id)
				}
			default:
				// cloudwatch:PutMetricData is not needed: the metrics are EMF
				// lines in the logs.
				t.Errorf("%s: the task role needs no %s actions (%s)", st.id, svc, a)
			}
			wantRes := resourceOf[a]
			if wantRes == "" {
				wantRes = resourceOf[svc+":"]
			}
			if !reflect.DeepEqual(listOf(res), []any{wantRes}) {
				t.Errorf("%s: %s applies to %v, want %s", st.id, a, res, wantRes)
			}
			if a == "s3:ListBucket" {
				// The store's Ping lists "<prefix>/" (s3lake.Lake.Ping); the
				// condition must allow that and nothing outside the prefix.
				cond, err := e.eval(get(st.stmt, "Condition", "StringLike", "s3:prefix"))
				if err != nil {
					t.Fatal(err)
				}
				pattern, _ := cond.(string)
				if !iamLike(pattern, prefix+"/") || iamLike(pattern, "other/") || iamLike(pattern, prefix+"x/") {
					t.Errorf("%s: s3:ListBucket is limited to s3:prefix %q; want the lake prefix %q/ and below", st.id, pattern, prefix)
				}
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the task role grants\n  %v\nthe observed operations need\n  %v", sortedKeys(got), sortedKeys(want))
	}
}

// iamLike matches s against an IAM StringLike pattern (* and ?).
func iamLike(pattern, s string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(s)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// compactReachable are operations `hublake compact` can call in production
// that the end-to-end tests do not reach: a compacted object of the default
// target (256 MiB) is a multipart upload, and a failed one is aborted.
var compactReachable = map[string]string{
	"S3:CreateMultipartUpload":   "objects over 8 MiB",
	"S3:UploadPart":              "objects over 8 MiB",
	"S3:CompleteMultipartUpload": "objects over 8 MiB",
	"S3:AbortMultipartUpload":    "a failed multipart upload",
}

// jobActions are the IAM actions a scheduled job's operations need: those
// it is observed calling (testdata/<command>-aws-operations.txt) and the
// multipart uploads of its large objects (compactReachable).
func jobActions(t *testing.T, command string) map[string]bool {
	t.Helper()
	want := map[string]bool{}
	ops := observedOperations(t, command)
	for op := range compactReachable {
		ops = append(ops, op)
	}
	for _, op := range ops {
		actions, ok := operationActions[op]
		if !ok {
			t.Errorf("hublake %s calls %s, which operationActions does not map to IAM actions", command, op)
		}
		for _, a := range actions {
			want[a] = true
		}
	}
	return want
}

// TestCompactionRoleMatchesObservedOperations: the compaction task's role
// grants exactly the S3 actions `hublake compact` is observed calling (plus
// the reachable ones), on the lake prefix only (listing limited to it too),
// and the key through S3 only: no stream, no lease table, nothing else.
func TestCompactionRoleMatchesObservedOperations(t *testing.T) {
	tpl := loadTemplate(t)
	want := jobActions(t, "compact")
	e := newEvaluator(t, tpl, nil)
	prefix, _ := e.params["LakePrefix"].(string)
	got := map[string]bool{}
	for _, st := range roleStatements(t, tpl, "CompactionTaskRole") {
		res, err := e.eval(st.stmt["Resource"])
		if err != nil {
			t.Fatalf("%s: %v", st.id, err)
		}
		for _, a := range actionList(t, st.stmt["Action"]) {
			svc, _, _ := strings.Cut(a, ":")
			wantRes := "<LakeBucket.Arn>/" + prefix + "/*"
			switch {
			case a == "s3:ListBucket":
				wantRes = "<LakeBucket.Arn>"
				cond, err := e.eval(get(st.stmt, "Condition", "StringLike", "s3:prefix"))
				if err != nil {
					t.Fatal(err)
				}
				pattern, _ := cond.(string)
				if !iamLike(pattern, prefix+"/findings/") || iamLike(pattern, "other/") || iamLike(pattern, prefix+"x/") {
					t.Errorf("%s: s3:ListBucket is limited to s3:prefix %q; want the lake prefix %q/ and below", st.id, pattern, prefix)
				}
				got[a] = true
			case svc == "s3":
				got[a] = true
			case a == "kms:Decrypt" || a == "kms:GenerateDataKey":
				wantRes = "<Key.Arn>"
				if via := get(st.stmt, "Condition", "StringEquals", "kms:ViaService"); via == nil {
					t.Errorf("%s: KMS use is not limited to S3", st.id)
				} else if v, _ := e.eval(via); !reflect.DeepEqual(listOf(v), []any{"s3." + testRegion + ".amazonaws.com"}) {
					t.Errorf("%s: KMS through %v, want S3 only", st.id, v)
				}
			default:
				t.Errorf("%s: the compaction role needs no %s", st.id, a)
			}
			if !reflect.DeepEqual(listOf(res), []any{wantRes}) {
				t.Errorf("%s: %s applies to %v, want %s", st.id, a, res, wantRes)
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the compaction role grants\n  %v\nthe observed operations need\n  %v", sortedKeys(got), sortedKeys(want))
	}
}

// TestCompactionSchedulerRole: the schedule's role may run the compaction
// task definition in this stack's cluster and pass its two roles to ECS,
// nothing else; the refresh's schedule likewise with its own.
func TestCompactionSchedulerRole(t *testing.T) {
	tpl := loadTemplate(t)
	for _, s := range []struct{ role, taskDef, taskRole string }{
		{"CompactionSchedulerRole", "CompactionTaskDefinition", "CompactionTaskRole"},
		{"CurrentSchedulerRole", "CurrentTaskDefinition", "CurrentTaskRole"},
	} {
		checkSchedulerRole(t, tpl, s.role, s.taskDef, s.taskRole)
	}
}

func checkSchedulerRole(t *testing.T, tpl *template, role, taskDef, taskRole string) {
	t.Helper()
	e := newEvaluator(t, tpl, nil)
	seen := map[string]bool{}
	for _, st := range roleStatements(t, tpl, role) {
		res, err := e.eval(st.stmt["Resource"])
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range actionList(t, st.stmt["Action"]) {
			seen[a] = true
			switch a {
			case "ecs:RunTask":
				if !reflect.DeepEqual(listOf(res), []any{"<Ref " + taskDef + ">"}) {
					t.Errorf("%s: ecs:RunTask on %v, want %s", role, res, taskDef)
				}
				if c, _ := e.eval(get(st.stmt, "Condition", "ArnEquals", "ecs:cluster")); c != "<Cluster.Arn>" {
					t.Errorf("%s: ecs:RunTask in cluster %v, want the stack's", role, c)
				}
			case "iam:PassRole":
				if !reflect.DeepEqual(listOf(res), []any{"<ExecutionRole.Arn>", "<" + taskRole + ".Arn>"}) {
					t.Errorf("%s: iam:PassRole of %v, want the task's two roles", role, res)
				}
				if get(st.stmt, "Condition", "StringEquals", "iam:PassedToService") != "ecs-tasks.amazonaws.com" {
					t.Errorf("%s: iam:PassRole is not limited to ECS tasks", role)
				}
			default:
				t.Errorf("%s needs no %s", role, a)
			}
		}
	}
	if !seen["ecs:RunTask"] || !seen["iam:PassRole"] {
		t.Errorf("%s grants %v", role, sortedKeys(seen))
	}
}

// TestCurrentRoleLeastPrivilege: the refresh's role grants the S3 actions
// `hublake current` calls (deploy/testdata/current-aws-operations.txt, plus
// multipart uploads of large snapshot objects), and no more than it needs
// where: it lists the lake prefix; reads the history tables, compaction's
// manifests and its own objects; writes and deletes only the current
// tables (schema.CurrentNames), its refresh manifests (_hublake/current/)
// and its locks (_hublake/locks/current/); never a history object, a
// marker, compaction's bookkeeping or anything outside the prefix; the key
// through S3 only.
func TestCurrentRoleLeastPrivilege(t *testing.T) {
	tpl := loadTemplate(t)
	want := jobActions(t, "current")
	e := newEvaluator(t, tpl, nil)
	prefix, _ := e.params["LakePrefix"].(string)
	obj := func(p string) string { return "<LakeBucket.Arn>/" + prefix + "/" + p }
	var own, read []any
	for _, c := range schema.CurrentNames() {
		own = append(own, obj(c+"/*"))
	}
	own = append(own, obj("_hublake/current/*"), obj("_hublake/locks/current/*"))
	for _, h := range schema.CurrentTableNames() {
		read = append(read, obj(h+"/*"))
	}
	read = append(read, obj("_hublake/compactions/*"))
	got := map[string]bool{}
	readable, writable := map[string]bool{}, map[string]bool{}
	for _, st := range roleStatements(t, tpl, "CurrentTaskRole") {
		if st.stmt["Effect"] != "Allow" {
			t.Errorf("%s: a %v statement", st.id, st.stmt["Effect"])
			continue
		}
		res, err := e.eval(st.stmt["Resource"])
		if err != nil {
			t.Fatalf("%s: %v", st.id, err)
		}
		for _, a := range actionList(t, st.stmt["Action"]) {
			got[a] = true
			switch a {
			case "s3:ListBucket":
				if !reflect.DeepEqual(listOf(res), []any{"<LakeBucket.Arn>"}) {
					t.Errorf("%s: s3:ListBucket on %v", st.id, res)
				}
				cond, _ := e.eval(get(st.stmt, "Condition", "StringLike", "s3:prefix"))
				pattern, _ := cond.(string)
				if !iamLike(pattern, prefix+"/findings/") || iamLike(pattern, "other/") || iamLike(pattern, prefix+"x/") {
					t.Errorf("%s: s3:ListBucket is limited to s3:prefix %q; want the lake prefix %q/ and below", st.id, pattern, prefix)
				}
			case "s3:GetObject":
				for _, r := range listOf(res) {
					readable[fmt.Sprint(r)] = true
				}
			case "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload":
				if !reflect.DeepEqual(listOf(res), own) {
					t.Errorf("%s: %s on %v, want only %v", st.id, a, res, own)
				}
				for _, r := range listOf(res) {
					writable[fmt.Sprint(r)] = true
				}
			case "kms:Decrypt", "kms:GenerateDataKey":
				if !reflect.DeepEqual(listOf(res), []any{"<Key.Arn>"}) {
					t.Errorf("%s: %s on %v, want the key", st.id, a, res)
				}
				if v, _ := e.eval(get(st.stmt, "Condition", "StringEquals", "kms:ViaService")); !reflect.DeepEqual(listOf(v), []any{"s3." + testRegion + ".amazonaws.com"}) {
					t.Errorf("%s: KMS through %v, want S3 only", st.id, v)
				}
			default:
				t.Errorf("%s: the refresh's role needs no %s", st.id, a)
			}
		}
	}
	for _, r := range append(append([]any{}, own...), read...) {
		if !readable[fmt.Sprint(r)] {
			t.Errorf("the refresh cannot read %s", r)
		}
	}
	if len(readable) != len(own)+len(read) {
		t.Errorf("the refresh reads %v, want exactly %v and %v", sortedKeys(readable), own, read)
	}
	for r := range writable {
		for _, h := range read {
			if r == fmt.Sprint(h) {
				t.Errorf("the refresh may write or delete %s", r)
			}
		}
	}
	for a := range want {
		if !got[a] {
			t.Errorf("the refresh's role lacks %s", a)
		}
	}
	for a := range got {
		if !want[a] && !strings.HasPrefix(a, "kms:") {
			t.Errorf("the refresh's role grants %s, which no operation of hublake current needs", a)
		}
	}
}

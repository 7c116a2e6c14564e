package deploy

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The three event patterns of the Security Hub user guide ("Automating AWS
// Security Hub with CloudWatch Events"), verbatim; the seed copy of that page
// is ../shared/seed/securityhub-cloudwatch-events.ja.txt, and when it is
// present the test reads the patterns from it and checks these against them.
var seedPatterns = map[string]string{
	"FindingsImportedRule":     `{ "source": [ "aws.securityhub" ], "detail-type": [ "Security Hub Findings - Imported" ] }`,
	"FindingsCustomActionRule": `{ "source": [ "aws.securityhub" ], "detail-type": [ "Security Hub Findings - Custom Action" ], "resources": [ "arn:aws:securityhub:us-west-2:123456789012:action/custom/test-action1" ] }`,
	"InsightResultsRule":       `{ "source": [ "aws.securityhub" ], "detail-type": [ "Security Hub Insight Results" ], "resources": [ "arn:aws:securityhub:us-west-2:123456789012:action/custom/test-action1" ] }`,
}

// v2Patterns are the rules of the Security Hub launched in 2025, which the
// seed (written before it) does not have: its "Findings Imported V2" events
// carry OCSF findings (EventBridge pattern as in the Security Hub user
// guide, "EventBridge event formats for Security Hub").
var v2Patterns = map[string]string{
	"FindingsImportedV2Rule": `{ "source": [ "aws.securityhub" ], "detail-type": [ "Findings Imported V2" ] }`,
}

// The custom action ARN of the seed's examples.
const seedActionArn = "arn:aws:securityhub:us-west-2:123456789012:action/custom/test-action1"

func jsonValue(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

// normalize round-trips v through JSON, so that template values (int) and
// JSON values (float64) compare equal.
func normalize(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return jsonValue(t, string(b))
}

// TestSeedPatterns reads the event patterns out of the seed document, when
// it is there, and checks the inline copies against them.
func TestSeedPatterns(t *testing.T) {
	path := filepath.Join(repoRoot(t), "..", "shared", "seed", "securityhub-cloudwatch-events.ja.txt")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("the seed is not here (%v); the inline patterns are used", err)
	}
	var found []any
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		// Patterns are the JSON objects that start with "source"; the sample
		// events start with "version".
		if strings.HasPrefix(line, "{") && strings.HasPrefix(strings.TrimSpace(line[1:]), `"source"`) {
			found = append(found, jsonValue(t, line))
		}
	}
	if len(found) != len(seedPatterns) {
		t.Fatalf("found %d event patterns in %s, want %d", len(found), path, len(seedPatterns))
	}
	for _, want := range seedPatterns {
		w := jsonValue(t, want)
		ok := false
		for _, f := range found {
			ok = ok || reflect.DeepEqual(f, w)
		}
		if !ok {
			t.Errorf("the inline pattern %s is not in the seed, which has %v", want, found)
		}
	}
}

// TestEventPatterns evaluates each rule's pattern with the seed's custom
// action ARN as CustomActionArns (and no created action): the patterns must
// then be exactly the seed's. Then the other combinations of the custom
// action parameters.
func TestEventPatterns(t *testing.T) {
	tpl := loadTemplate(t)
	rules := tpl.resourcesOfType("AWS::Events::Rule")
	if len(rules) != len(seedPatterns)+len(v2Patterns) {
		t.Errorf("the template has rules %v, want one per seed pattern and the V2 one", rules)
	}
	e := newEvaluator(t, tpl, map[string]string{"CreateCustomAction": "false", "CustomActionArns": seedActionArn})
	all := maps.Clone(seedPatterns)
	maps.Copy(all, v2Patterns)
	for rule, want := range all {
		if !e.created(rule) {
			t.Errorf("%s is not created with CustomActionArns set", rule)
			continue
		}
		got, err := e.eval(get(tpl.props(t, rule), "EventPattern"))
		if err != nil {
			t.Fatalf("%s: %v", rule, err)
		}
		if g, w := normalize(t, got), jsonValue(t, want); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: the event pattern is\n%v\nthe seed's is\n%v", rule, g, w)
		}
	}

	actionArn := "arn:aws:securityhub:" + testRegion + ":" + testAccount + ":action/custom/SendToLake"
	other := "arn:aws:securityhub:" + testRegion + ":" + testAccount + ":action/custom/Other"
	cases := []struct {
		create, arns string
		want         []any // resources of both custom-action rules; nil: rules not created
	}{
		{"true", "", []any{actionArn}},
		{"true", other + "," + seedActionArn, []any{actionArn, other, seedActionArn}},
		{"false", other, []any{other}},
		{"false", "", nil},
	}
	for _, c := range cases {
		e := newEvaluator(t, tpl, map[string]string{"CreateCustomAction": c.create, "CustomActionArns": c.arns})
		e.refs["SendToLakeAction"] = actionArn
		for _, rule := range []string{"FindingsCustomActionRule", "InsightResultsRule"} {
			if c.want == nil {
				if e.created(rule) {
					t.Errorf("CreateCustomAction=%s CustomActionArns=%q: %s is created; it must be skipped", c.create, c.arns, rule)
				}
				continue
			}
			if !e.created(rule) {
				t.Errorf("CreateCustomAction=%s CustomActionArns=%q: %s is not created", c.create, c.arns, rule)
				continue
			}
			got, err := e.eval(get(tpl.props(t, rule), "EventPattern", "resources"))
			if err != nil {
				t.Fatalf("%s: %v", rule, err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("CreateCustomAction=%s CustomActionArns=%q: %s resources = %v, want %v", c.create, c.arns, rule, got, c.want)
			}
		}
		if (c.create == "true") != e.created("SendToLakeAction") {
			t.Errorf("CreateCustomAction=%s: the action target is created: %v", c.create, e.created("SendToLakeAction"))
		}
	}

	// Each feed's rule is there by default and goes when its parameter says
	// so; the other feed's rule stays.
	feeds := map[string]string{"AsffFeedEnabled": "FindingsImportedRule", "OcsfFeedEnabled": "FindingsImportedV2Rule"}
	for param, rule := range feeds {
		if d, _ := tpl.Parameters[param]["Default"].(string); d != "true" {
			t.Errorf("%s defaults to %q, want true (both feeds on)", param, d)
		}
		for _, on := range []string{"true", "false"} {
			e := newEvaluator(t, tpl, map[string]string{param: on})
			if e.created(rule) != (on == "true") {
				t.Errorf("%s=%s: %s created: %v", param, on, rule, e.created(rule))
			}
			for other, r := range feeds {
				if other != param && !e.created(r) {
					t.Errorf("%s=%s removes %s too", param, on, r)
				}
			}
		}
	}

	// The custom action: a name under 20 characters and an id.
	for _, p := range []string{"CustomActionName", "CustomActionId"} {
		if _, ok := tpl.Parameters[p]; !ok {
			t.Errorf("no parameter %s", p)
		}
	}
	if max, _ := tpl.Parameters["CustomActionName"]["MaxLength"].(int); max == 0 || max >= 20 {
		t.Errorf("CustomActionName MaxLength = %v, want under 20", tpl.Parameters["CustomActionName"]["MaxLength"])
	}
	if d, _ := tpl.Parameters["CustomActionName"]["Default"].(string); len(d) >= 20 {
		t.Errorf("CustomActionName default %q is not under 20 characters", d)
	}
}

// TestRuleTargets checks how every rule delivers: into the stream, with the
// put-only role, the event id as partition key, retries and a dead-letter
// queue that EventBridge may write and an alarm watches.
func TestRuleTargets(t *testing.T) {
	tpl := loadTemplate(t)
	for _, rule := range tpl.resourcesOfType("AWS::Events::Rule") {
		targets, _ := get(tpl.props(t, rule), "Targets").([]any)
		if len(targets) != 1 {
			t.Errorf("%s has %d targets, want the stream only", rule, len(targets))
			continue
		}
		tg := targets[0]
		checks := []struct {
			what string
			got  any
			want any
		}{
			{"Arn", get(tg, "Arn"), map[string]any{"Fn::GetAtt": []any{"Stream", "Arn"}}},
			{"RoleArn", get(tg, "RoleArn"), map[string]any{"Fn::GetAtt": []any{"EventsToKinesisRole", "Arn"}}},
			{"PartitionKeyPath", get(tg, "KinesisParameters", "PartitionKeyPath"), "$.id"},
			{"DeadLetterConfig", get(tg, "DeadLetterConfig", "Arn"), map[string]any{"Fn::GetAtt": []any{"EventsDeadLetterQueue", "Arn"}}},
		}
		for _, c := range checks {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s target %s = %v, want %v", rule, c.what, c.got, c.want)
			}
		}
		if n, _ := get(tg, "RetryPolicy", "MaximumRetryAttempts").(int); n < 1 {
			t.Errorf("%s target has no retry policy", rule)
		}
	}

	// The role of the targets may put records into the stream, nothing else
	// (and generate data keys for it: the stream is encrypted with the
	// customer managed key).
	got := map[string]any{}
	for _, st := range roleStatements(t, tpl, "EventsToKinesisRole") {
		for _, a := range actionList(t, st.stmt["Action"]) {
			got[a] = st.stmt["Resource"]
		}
	}
	want := map[string]any{
		"kinesis:PutRecord":   map[string]any{"Fn::GetAtt": []any{"Stream", "Arn"}},
		"kinesis:PutRecords":  map[string]any{"Fn::GetAtt": []any{"Stream", "Arn"}},
		"kms:GenerateDataKey": keyArn,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EventsToKinesisRole grants %v, want %v", got, want)
	}

	// The dead-letter queue: encrypted in both key modes, writable by the rules.
	for _, kms := range []string{"", "arn:aws:kms:" + testRegion + ":" + testAccount + ":key/given"} {
		e := newEvaluator(t, tpl, map[string]string{"KmsKeyArn": kms})
		q, err := e.eval(tpl.props(t, "EventsDeadLetterQueue"))
		if err != nil {
			t.Fatal(err)
		}
		if get(q, "KmsMasterKeyId") == nil && get(q, "SqsManagedSseEnabled") != true {
			t.Errorf("KmsKeyArn=%q: the dead-letter queue is not encrypted: %v", kms, q)
		}
	}
	e := newEvaluator(t, tpl, map[string]string{"CustomActionArns": seedActionArn})
	for _, rule := range tpl.resourcesOfType("AWS::Events::Rule") {
		e.attrs[rule+".Arn"] = "arn:" + rule
	}
	policy, err := e.eval(get(tpl.props(t, "EventsDeadLetterQueuePolicy"), "PolicyDocument"))
	if err != nil {
		t.Fatal(err)
	}
	var sources []any
	for _, st := range get(policy, "Statement").([]any) {
		if get(st, "Effect") == "Allow" && get(st, "Principal", "Service") == "events.amazonaws.com" && get(st, "Action") == "sqs:SendMessage" {
			sources, _ = get(st, "Condition", "ArnEquals", "aws:SourceArn").([]any)
		}
	}
	for _, rule := range tpl.resourcesOfType("AWS::Events::Rule") {
		found := false
		for _, s := range sources {
			found = found || s == "arn:"+rule
		}
		if !found {
			t.Errorf("the dead-letter queue policy does not let %s send (sources %v)", rule, sources)
		}
	}
	alarmed := false
	for _, a := range tpl.resourcesOfType("AWS::CloudWatch::Alarm") {
		p := tpl.props(t, a)
		alarmed = alarmed || (p["Namespace"] == "AWS/SQS" &&
			reflect.DeepEqual(get(p, "Dimensions", 0, "Value"), map[string]any{"Fn::GetAtt": []any{"EventsDeadLetterQueue", "QueueName"}}))
	}
	if !alarmed {
		t.Error("no alarm watches the EventBridge dead-letter queue")
	}
}

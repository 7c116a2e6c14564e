package deploy

// Loading the CloudFormation template: YAML with its short-form tags, turned
// into the generic value CloudFormation itself sees (the JSON form, with
// {"Fn::Sub": ...} for !Sub), and a small evaluator of the intrinsic
// functions the template uses, for checks that need concrete values.

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hublake/hublake/internal/repo"
)

const templatePath = "cloudformation/hublake.yaml"

// template is the parsed CloudFormation template.
type template struct {
	raw        []byte
	root       map[string]any
	Parameters map[string]map[string]any
	Conditions map[string]any
	Resources  map[string]map[string]any
	Outputs    map[string]map[string]any
}

var (
	tplOnce sync.Once
	tplVal  *template
	tplErr  error
)

// loadTemplate parses deploy/cloudformation/hublake.yaml once per test binary.
func loadTemplate(t testing.TB) *template {
	t.Helper()
	tplOnce.Do(func() {
		raw, err := os.ReadFile(templatePath)
		if err != nil {
			tplErr = err
			return
		}
		tplVal, tplErr = parseTemplate(raw)
	})
	if tplErr != nil {
		t.Fatalf("%s: %v", templatePath, tplErr)
	}
	return tplVal
}

func parseTemplate(raw []byte) (*template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	v, err := fromYAML(&doc)
	if err != nil {
		return nil, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("the template is not a mapping")
	}
	tpl := &template{raw: raw, root: root, Parameters: map[string]map[string]any{},
		Resources: map[string]map[string]any{}, Outputs: map[string]map[string]any{}}
	sections := []struct {
		name string
		dst  map[string]map[string]any
	}{{"Parameters", tpl.Parameters}, {"Resources", tpl.Resources}, {"Outputs", tpl.Outputs}}
	for _, s := range sections {
		m, _ := root[s.name].(map[string]any)
		for k, v := range m {
			entry, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s.%s is not a mapping", s.name, k)
			}
			s.dst[k] = entry
		}
	}
	tpl.Conditions, _ = root["Conditions"].(map[string]any)
	if tpl.Conditions == nil {
		tpl.Conditions = map[string]any{}
	}
	return tpl, nil
}

// fromYAML converts a YAML node to the generic value of CloudFormation's
// JSON form: mappings to map[string]any, sequences to []any, scalars to
// string, int, float64, bool or nil, and the short-form tags to their long
// form (!Sub x → {"Fn::Sub": x}, !Ref x → {"Ref": x}, !GetAtt a.b →
// {"Fn::GetAtt": [a, b]}, !Condition x → {"Condition": x}).
func fromYAML(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, fmt.Errorf("line %d: want one document", n.Line)
		}
		return fromYAML(n.Content[0])
	case yaml.AliasNode:
		return fromYAML(n.Alias)
	}
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			x, err := fromYAML(val)
			if err != nil {
				return nil, err
			}
			m[k.Value] = x
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			x, err := fromYAML(c)
			if err != nil {
				return nil, err
			}
			s = append(s, x)
		}
		v = s
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			v = n.Value // a tagged scalar is the function's string argument
		} else {
			if err := n.Decode(&v); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	switch tag := n.Tag[1:]; tag {
	case "Ref", "Condition":
		return map[string]any{tag: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q has no attribute", n.Line, s)
			}
			v = []any{res, attr}
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	case "Base64", "Cidr", "FindInMap", "GetAZs", "ImportValue", "Join", "Select", "Split", "Sub", "Transform",
		"And", "Equals", "If", "Not", "Or", "Length", "ToJsonString":
		return map[string]any{"Fn::" + tag: v}, nil
	default:
		return nil, fmt.Errorf("line %d: unknown tag !%s", n.Line, tag)
	}
}

// intrinsic returns the function name and argument when v is an intrinsic
// function call ({"Ref": x}, {"Fn::Sub": x}, {"Condition": x}).
func intrinsic(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, arg := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, arg, true
		}
	}
	return "", nil, false
}

// pseudoParameters are the AWS::* names Ref accepts besides parameters and
// resources.
var pseudoParameters = map[string]bool{
	"AWS::AccountId": true, "AWS::NotificationARNs": true, "AWS::NoValue": true, "AWS::Partition": true,
	"AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true,
}

// subVars returns the ${...} references of a Fn::Sub string (not ${!...},
// which is a literal).
var subVarRE = regexp.MustCompile(`\$\{([^}]*)\}`)

func subVars(s string) []string {
	var out []string
	for _, m := range subVarRE.FindAllStringSubmatch(s, -1) {
		if strings.HasPrefix(m[1], "!") {
			continue
		}
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

// ------------------------------------------------------------------ evaluator

// noValue is what Ref AWS::NoValue evaluates to; lists and mappings drop it.
type noValueT struct{}

var noValue = noValueT{}

// evaluator resolves intrinsic functions for one choice of parameters:
// parameters take their defaults unless overridden, resources evaluate to
// placeholders ("<Ref X>", "<X.Attr>") unless refs/attrs give values.
type evaluator struct {
	tpl    *template
	params map[string]any
	refs   map[string]string // resource logical id → Ref value
	attrs  map[string]string // "Resource.Attr" → value
	conds  map[string]bool
}

// Pseudo parameter values of the evaluations.
const (
	testAccount = "123456789012"
	testRegion  = "eu-west-1"
)

func newEvaluator(t testing.TB, tpl *template, overrides map[string]string) *evaluator {
	t.Helper()
	e := &evaluator{tpl: tpl, params: map[string]any{}, refs: map[string]string{}, attrs: map[string]string{}, conds: map[string]bool{}}
	for name, p := range tpl.Parameters {
		val, ok := overrides[name]
		if !ok {
			d, has := p["Default"]
			if !has {
				d = "<" + name + ">"
			}
			val = fmt.Sprint(d)
		}
		switch p["Type"] {
		case "CommaDelimitedList", "List<AWS::EC2::Subnet::Id>", "List<AWS::EC2::SecurityGroup::Id>", "List<String>":
			var items []any
			for _, s := range strings.Split(val, ",") {
				items = append(items, strings.TrimSpace(s))
			}
			e.params[name] = items
		default:
			e.params[name] = val
		}
	}
	for name := range overrides {
		if _, ok := tpl.Parameters[name]; !ok {
			t.Fatalf("override of unknown parameter %s", name)
		}
	}
	for name := range tpl.Conditions {
		c, err := e.condition(name, nil)
		if err != nil {
			t.Fatalf("condition %s: %v", name, err)
		}
		e.conds[name] = c
	}
	return e
}

// created reports whether the resource exists under this evaluation's
// conditions.
func (e *evaluator) created(logical string) bool {
	r, ok := e.tpl.Resources[logical]
	if !ok {
		return false
	}
	c, has := r["Condition"].(string)
	return !has || e.conds[c]
}

func (e *evaluator) condition(name string, seen []string) (bool, error) {
	for _, s := range seen {
		if s == name {
			return false, fmt.Errorf("condition cycle %v", append(seen, name))
		}
	}
	def, ok := e.tpl.Conditions[name]
	if !ok {
		return false, fmt.Errorf("undefined condition %q", name)
	}
	return e.condValue(def, append(seen, name))
}

func (e *evaluator) condValue(v any, seen []string) (bool, error) {
	fn, arg, ok := intrinsic(v)
	if !ok {
		return false, fmt.Errorf("not a condition function: %v", v)
	}
	args, _ := arg.([]any)
	switch fn {
	case "Condition":
		return e.condition(fmt.Sprint(arg), seen)
	case "Fn::Equals":
		if len(args) != 2 {
			return false, errors.New("Fn::Equals needs two arguments")
		}
		a, err := e.eval(args[0])
		if err != nil {
			return false, err
		}
		b, err := e.eval(args[1])
		if err != nil {
			return false, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	case "Fn::Not":
		if len(args) != 1 {
			return false, errors.New("Fn::Not needs one argument")
		}
		c, err := e.condValue(args[0], seen)
		return !c, err
	case "Fn::And", "Fn::Or":
		if len(args) < 2 || len(args) > 10 {
			return false, fmt.Errorf("%s needs 2 to 10 conditions", fn)
		}
		and := fn == "Fn::And"
		for _, a := range args {
			c, err := e.condValue(a, seen)
			if err != nil {
				return false, err
			}
			if and && !c {
				return false, nil
			}
			if !and && c {
				return true, nil
			}
		}
		return and, nil
	}
	return false, fmt.Errorf("%s is not a condition function", fn)
}

func (e *evaluator) ref(name string) (any, error) {
	switch name {
	case "AWS::AccountId":
		return testAccount, nil
	case "AWS::Region":
		return testRegion, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackName":
		return "hublake", nil
	case "AWS::StackId":
		return "arn:aws:cloudformation:" + testRegion + ":" + testAccount + ":stack/hublake/0", nil
	case "AWS::NotificationARNs":
		return []any{}, nil
	case "AWS::NoValue":
		return noValue, nil
	}
	if p, ok := e.params[name]; ok {
		return p, nil
	}
	if _, ok := e.tpl.Resources[name]; ok {
		if !e.created(name) {
			return nil, fmt.Errorf("Ref %s: the resource is not created under these conditions", name)
		}
		if v, ok := e.refs[name]; ok {
			return v, nil
		}
		return "<Ref " + name + ">", nil
	}
	return nil, fmt.Errorf("Ref %s: no such parameter or resource", name)
}

func (e *evaluator) getAtt(res, attr string) (any, error) {
	if _, ok := e.tpl.Resources[res]; !ok {
		return nil, fmt.Errorf("Fn::GetAtt %s.%s: no such resource", res, attr)
	}
	if !e.created(res) {
		return nil, fmt.Errorf("Fn::GetAtt %s.%s: the resource is not created under these conditions", res, attr)
	}
	if v, ok := e.attrs[res+"."+attr]; ok {
		return v, nil
	}
	return "<" + res + "." + attr + ">", nil
}

// eval resolves every intrinsic function in v.
func (e *evaluator) eval(v any) (any, error) {
	if fn, arg, ok := intrinsic(v); ok {
		return e.call(fn, arg)
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			r, err := e.eval(val)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if r != noValue {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for i, val := range x {
			r, err := e.eval(val)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if r != noValue {
				out = append(out, r)
			}
		}
		return out, nil
	}
	return v, nil
}

func (e *evaluator) evalString(v any) (string, error) {
	r, err := e.eval(v)
	if err != nil {
		return "", err
	}
	switch s := r.(type) {
	case string:
		return s, nil
	case int, float64, bool:
		return fmt.Sprint(s), nil
	}
	return "", fmt.Errorf("want a string, got %T %v", r, r)
}

func (e *evaluator) evalList(v any) ([]any, error) {
	r, err := e.eval(v)
	if err != nil {
		return nil, err
	}
	l, ok := r.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list, got %T %v", r, r)
	}
	return l, nil
}

func (e *evaluator) call(fn string, arg any) (any, error) {
	args, _ := arg.([]any)
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Ref of %T", arg)
		}
		return e.ref(name)
	case "Fn::GetAtt":
		if len(args) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt needs [resource, attribute], got %v", arg)
		}
		return e.getAtt(fmt.Sprint(args[0]), fmt.Sprint(args[1]))
	case "Fn::If":
		if len(args) != 3 {
			return nil, fmt.Errorf("Fn::If needs three arguments, got %v", arg)
		}
		name, _ := args[0].(string)
		c, ok := e.conds[name]
		if !ok {
			return nil, fmt.Errorf("Fn::If: undefined condition %q", args[0])
		}
		if c {
			return e.eval(args[1])
		}
		return e.eval(args[2])
	case "Fn::Sub":
		s, vars := "", map[string]any{}
		switch a := arg.(type) {
		case string:
			s = a
		case []any:
			if len(a) != 2 {
				return nil, errors.New("Fn::Sub needs a string or [string, variables]")
			}
			s, _ = a[0].(string)
			m, _ := a[1].(map[string]any)
			for k, val := range m {
				r, err := e.evalString(val)
				if err != nil {
					return nil, err
				}
				vars[k] = r
			}
		default:
			return nil, fmt.Errorf("Fn::Sub of %T", arg)
		}
		var firstErr error
		out := subVarRE.ReplaceAllStringFunc(s, func(m string) string {
			name := m[2 : len(m)-1]
			if strings.HasPrefix(name, "!") {
				return "${" + name[1:] + "}"
			}
			var r any
			var err error
			if val, ok := vars[name]; ok {
				r = val
			} else if res, attr, dot := strings.Cut(name, "."); dot && !strings.HasPrefix(name, "AWS::") {
				r, err = e.getAtt(res, attr)
			} else {
				r, err = e.ref(name)
			}
			if err == nil {
				if _, isStr := r.(string); !isStr {
					err = fmt.Errorf("Fn::Sub ${%s} is not a string: %v", name, r)
				}
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
			return fmt.Sprint(r)
		})
		return out, firstErr
	case "Fn::Join":
		if len(args) != 2 {
			return nil, errors.New("Fn::Join needs [delimiter, list]")
		}
		delim, _ := args[0].(string)
		items, err := e.evalList(args[1])
		if err != nil {
			return nil, err
		}
		parts := make([]string, 0, len(items))
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("Fn::Join of a %T", it)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, delim), nil
	case "Fn::Split":
		if len(args) != 2 {
			return nil, errors.New("Fn::Split needs [delimiter, string]")
		}
		delim, _ := args[0].(string)
		s, err := e.evalString(args[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(s, delim) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Select":
		if len(args) != 2 {
			return nil, errors.New("Fn::Select needs [index, list]")
		}
		idx, err := e.evalString(args[0])
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(idx)
		if err != nil {
			return nil, fmt.Errorf("Fn::Select index %q", idx)
		}
		items, err := e.evalList(args[1])
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= len(items) {
			return nil, fmt.Errorf("Fn::Select index %d out of %d", i, len(items))
		}
		return items[i], nil
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition":
		return e.condValue(map[string]any{fn: arg}, nil)
	}
	return nil, fmt.Errorf("the evaluator does not know %s", fn)
}

// resource returns a resource's entry, failing the test when it is missing.
func (tpl *template) resource(t testing.TB, logical string) map[string]any {
	t.Helper()
	r, ok := tpl.Resources[logical]
	if !ok {
		t.Fatalf("the template has no resource %s", logical)
	}
	return r
}

// props returns a resource's Properties.
func (tpl *template) props(t testing.TB, logical string) map[string]any {
	t.Helper()
	p, _ := tpl.resource(t, logical)["Properties"].(map[string]any)
	if p == nil {
		t.Fatalf("resource %s has no Properties", logical)
	}
	return p
}

// resourcesOfType returns the logical ids of the resources of a type, sorted.
func (tpl *template) resourcesOfType(typ string) []string {
	var out []string
	for name, r := range tpl.Resources {
		if r["Type"] == typ {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// get walks a path of keys (and list indexes) into v.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// repoRoot is the directory of go.mod above the test's directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestTemplateParses checks the converter on the short forms the template
// uses, so that the other tests see what CloudFormation sees.
func TestTemplateParses(t *testing.T) {
	src := `
A: !Ref X
B: !GetAtt Res.Arn
C: !Sub "s3://${Bucket}/x/dt=${!dt}/"
D: !If [Cond, !Ref AWS::NoValue, [1, "2"]]
E: !Split [",", !Join [",", [a, !Ref B]]]
F: !Not [!Equals [!Ref P, ""]]
G: !Or [!Condition C1, !Condition C2]
H: !Select [0, !Split ["/", !Ref Arn]]
I: !GetAtt [Res, Arn]
`
	tpl, err := parseTemplate([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"A": map[string]any{"Ref": "X"},
		"B": map[string]any{"Fn::GetAtt": []any{"Res", "Arn"}},
		"C": map[string]any{"Fn::Sub": "s3://${Bucket}/x/dt=${!dt}/"},
		"D": map[string]any{"Fn::If": []any{"Cond", map[string]any{"Ref": "AWS::NoValue"}, []any{1, "2"}}},
		"E": map[string]any{"Fn::Split": []any{",", map[string]any{"Fn::Join": []any{",", []any{"a", map[string]any{"Ref": "B"}}}}}},
		"F": map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "P"}, ""}}}},
		"G": map[string]any{"Fn::Or": []any{map[string]any{"Condition": "C1"}, map[string]any{"Condition": "C2"}}},
		"H": map[string]any{"Fn::Select": []any{0, map[string]any{"Fn::Split": []any{"/", map[string]any{"Ref": "Arn"}}}}},
		"I": map[string]any{"Fn::GetAtt": []any{"Res", "Arn"}},
	}
	for k, w := range want {
		if got := tpl.root[k]; fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: got %#v, want %#v", k, got, w)
		}
	}
	if _, err := parseTemplate([]byte("A: !Bogus x\n")); err == nil {
		t.Error("an unknown tag was accepted")
	}
	if _, err := parseTemplate([]byte("A: 1\nA: 2\n")); err == nil {
		t.Error("a duplicate key was accepted")
	}
	loadTemplate(t)
}

package deploy

// Validation of the template against the CloudFormation resource
// specification (the JSON the npm package @aws-cdk/cfnspec ships; `make
// tools` installs it under .tools/cfnspec): resource types, property names,
// required properties, the types of literal values, and every Ref, GetAtt,
// Sub variable, Condition and DependsOn resolving to something defined.

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// cfnSpec is the part of the resource specification the checks use.
type cfnSpec struct {
	ResourceSpecificationVersion string
	ResourceTypes                map[string]specType
	PropertyTypes                map[string]specType
}

type specType struct {
	Properties map[string]specProp
	Attributes map[string]json.RawMessage
}

type specProp struct {
	Required          bool
	PrimitiveType     string
	Type              string
	ItemType          string
	PrimitiveItemType string
	// Properties of several possible types (rare in the spec).
	PrimitiveTypes     []string
	Types              []string
	PrimitiveItemTypes []string
	ItemTypes          []string
}

// newerTypes are resource types the packaged specification does not have
// yet, with their documented properties, checked the same way. A type the
// specification gains must leave this list (the test says so).
var newerTypes = map[string]specType{
	// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-securityhub-actiontarget.html
	// (Ref returns the ARN; GetAtt ActionTargetArn). The seed: a name under
	// 20 characters and an id unique in the account.
	"AWS::SecurityHub::ActionTarget": {
		Properties: map[string]specProp{
			"Description": {Required: true, PrimitiveType: "String"},
			"Id":          {Required: true, PrimitiveType: "String"},
			"Name":        {Required: true, PrimitiveType: "String"},
		},
		Attributes: map[string]json.RawMessage{"ActionTargetArn": nil},
	},
}

// newerProperties are properties (by property type) and newerPropertyTypes
// property types that the packaged specification does not have yet, with
// their documented types; loadSpec adds them. One the specification gains
// must leave these lists (the test says so).
var (
	newerProperties = map[string]map[string]specProp{
		// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-batch-jobdefinition-containerproperties.html
		// (RuntimePlatform: the CPU architecture of a Fargate job, for ARM64 images).
		"AWS::Batch::JobDefinition.ContainerProperties": {"RuntimePlatform": {Type: "RuntimePlatform"}},
	}
	newerPropertyTypes = map[string]specType{
		// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-batch-jobdefinition-runtimeplatform.html
		"AWS::Batch::JobDefinition.RuntimePlatform": {Properties: map[string]specProp{
			"CpuArchitecture":       {PrimitiveType: "String"},
			"OperatingSystemFamily": {PrimitiveType: "String"},
		}},
	}
	// specHasNewer lists the entries of those the specification already has.
	specHasNewer []string
)

// addNewer adds newerProperties and newerPropertyTypes to s, noting the ones
// it already has.
func addNewer(s *cfnSpec) {
	for name, pt := range newerPropertyTypes {
		if _, ok := s.PropertyTypes[name]; ok {
			specHasNewer = append(specHasNewer, name)
			continue
		}
		s.PropertyTypes[name] = pt
	}
	for typ, props := range newerProperties {
		pt, ok := s.PropertyTypes[typ]
		if !ok {
			specHasNewer = append(specHasNewer, typ+" (the property type is gone)")
			continue
		}
		merged := maps.Clone(pt.Properties)
		for name, p := range props {
			if _, ok := merged[name]; ok {
				specHasNewer = append(specHasNewer, typ+"."+name)
				continue
			}
			merged[name] = p
		}
		pt.Properties = merged
		s.PropertyTypes[typ] = pt
	}
}

// specPath is where `make tools` installs the specification.
func specPath(t testing.TB) string {
	tools := os.Getenv("HUBLAKE_TOOLS_DIR")
	if tools == "" {
		tools = filepath.Join(repoRoot(t), ".tools")
	}
	return filepath.Join(tools, "cfnspec", "node_modules", "@aws-cdk", "cfnspec", "spec", "specification.json")
}

var (
	specOnce sync.Once
	specVal  *cfnSpec
	specErr  error
)

// loadSpec reads the specification, skipping the test when it is not
// installed, or failing it under CI or HUBLAKE_REQUIRE_STACK (make test).
func loadSpec(t testing.TB) *cfnSpec {
	t.Helper()
	path := specPath(t)
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("the CloudFormation resource specification is not installed (%s); run `make tools` (make test does)", path)
		if os.Getenv("CI") != "" || os.Getenv("HUBLAKE_REQUIRE_STACK") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	specOnce.Do(func() {
		b, err := os.ReadFile(path)
		if err != nil {
			specErr = err
			return
		}
		var s cfnSpec
		if err := json.Unmarshal(b, &s); err != nil {
			specErr = err
			return
		}
		addNewer(&s)
		specVal = &s
	})
	if specErr != nil {
		t.Fatalf("%s: %v", path, specErr)
	}
	if len(specVal.ResourceTypes) < 500 {
		t.Fatalf("%s has only %d resource types; not the resource specification", path, len(specVal.ResourceTypes))
	}
	return specVal
}

// resourceType returns the specification of a resource type, from the
// specification or the newerTypes list.
func (s *cfnSpec) resourceType(name string) (specType, bool) {
	if rt, ok := s.ResourceTypes[name]; ok {
		return rt, true
	}
	rt, ok := newerTypes[name]
	return rt, ok
}

// validator collects the findings of one template check.
type validator struct {
	spec *cfnSpec
	errs []string
}

func (v *validator) errorf(format string, args ...any) {
	v.errs = append(v.errs, fmt.Sprintf(format, args...))
}

// resourceAttributes are the keys a resource entry may have.
var resourceAttributes = map[string]bool{
	"Type": true, "Properties": true, "Condition": true, "DependsOn": true, "DeletionPolicy": true,
	"UpdateReplacePolicy": true, "Metadata": true, "CreationPolicy": true, "UpdatePolicy": true,
}

func (v *validator) resources(tpl *template) {
	names := make([]string, 0, len(tpl.Resources))
	for n := range tpl.Resources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		r := tpl.Resources[name]
		for k := range r {
			if !resourceAttributes[k] {
				v.errorf("%s: unknown resource attribute %s", name, k)
			}
		}
		typ, _ := r["Type"].(string)
		rt, ok := v.spec.resourceType(typ)
		if !ok {
			v.errorf("%s: unknown resource type %q", name, typ)
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		if r["Properties"] != nil && props == nil {
			v.errorf("%s: Properties is not a mapping", name)
		}
		v.object(name, typ, rt.Properties, props)
	}
}

// object checks a mapping against a set of property specifications: names
// known, required ones present, values of the right types.
func (v *validator) object(path, resType string, spec map[string]specProp, obj map[string]any) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, ok := spec[k]
		if !ok {
			v.errorf("%s: %s has no property %s", path, resType, k)
			continue
		}
		v.value(path+"."+k, resType, p, obj[k])
	}
	for name, p := range spec {
		if _, ok := obj[name]; p.Required && !ok {
			v.errorf("%s: the required property %s is missing", path, name)
		}
	}
}

// value checks one property value. Intrinsic functions are skipped, except
// Fn::If, whose branches are checked.
func (v *validator) value(path, resType string, p specProp, val any) {
	if fn, arg, ok := intrinsic(val); ok {
		if fn == "Fn::If" {
			for _, b := range ifBranches(val) {
				v.value(path, resType, p, b)
			}
		}
		_ = arg
		return
	}
	switch {
	case p.PrimitiveType != "":
		v.primitive(path, p.PrimitiveType, val)
	case p.Type == "List":
		items, ok := val.([]any)
		if !ok {
			v.errorf("%s: want a list, got %T %v", path, val, val)
			return
		}
		for i, it := range items {
			v.item(fmt.Sprintf("%s[%d]", path, i), resType, p, it)
		}
	case p.Type == "Map":
		m, ok := val.(map[string]any)
		if !ok {
			v.errorf("%s: want a map, got %T %v", path, val, val)
			return
		}
		for k, it := range m {
			v.item(path+"."+k, resType, p, it)
		}
	case p.Type != "":
		v.propertyType(path, resType, p.Type, val)
	case len(p.PrimitiveTypes) > 0 || len(p.Types) > 0:
		// Several possible types: accept any.
	default:
		v.errorf("%s: the specification gives no type", path)
	}
}

// item checks an element of a List or Map property.
func (v *validator) item(path, resType string, p specProp, val any) {
	if fn, _, ok := intrinsic(val); ok {
		if fn == "Fn::If" {
			for _, b := range ifBranches(val) {
				v.item(path, resType, p, b)
			}
		}
		return
	}
	switch {
	case p.PrimitiveItemType != "":
		v.primitive(path, p.PrimitiveItemType, val)
	case p.ItemType != "":
		v.propertyType(path, resType, p.ItemType, val)
	}
}

// propertyType checks a value of a named property type of resType.
func (v *validator) propertyType(path, resType, typ string, val any) {
	pt, ok := v.spec.PropertyTypes[resType+"."+typ]
	if !ok {
		pt, ok = v.spec.PropertyTypes[typ] // shared types such as Tag
	}
	if !ok {
		v.errorf("%s: the specification has no property type %s of %s", path, typ, resType)
		return
	}
	m, isMap := val.(map[string]any)
	if !isMap {
		v.errorf("%s: want a %s object, got %T %v", path, typ, val, val)
		return
	}
	v.object(path, resType, pt.Properties, m)
}

// primitive checks a literal against a primitive type. CloudFormation
// converts scalars, so a number where a string goes is fine, and a string
// that parses where a number goes; a mapping or list never is.
func (v *validator) primitive(path, typ string, val any) {
	bad := func() { v.errorf("%s: %T %v does not fit %s", path, val, val, typ) }
	switch typ {
	case "String", "Timestamp":
		switch val.(type) {
		case string, int, float64:
		default:
			bad()
		}
	case "Integer", "Long":
		switch x := val.(type) {
		case int:
		case string:
			if _, err := strconv.ParseInt(x, 10, 64); err != nil {
				bad()
			}
		default:
			bad()
		}
	case "Double":
		switch x := val.(type) {
		case int, float64:
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil {
				bad()
			}
		default:
			bad()
		}
	case "Boolean":
		switch x := val.(type) {
		case bool:
		case string:
			if x != "true" && x != "false" {
				bad()
			}
		default:
			bad()
		}
	case "Json":
		switch val.(type) {
		case map[string]any, []any, string:
		default:
			bad()
		}
	default:
		v.errorf("%s: unknown primitive type %s", path, typ)
	}
}

// references checks that every Ref, GetAtt, Sub variable, Condition and
// DependsOn names something the template defines.
func (v *validator) references(tpl *template) {
	isRefTarget := func(name string) bool {
		_, param := tpl.Parameters[name]
		_, res := tpl.Resources[name]
		return param || res || pseudoParameters[name]
	}
	getAtt := func(path, res, attr string) {
		r, ok := tpl.Resources[res]
		if !ok {
			v.errorf("%s: GetAtt of the undefined resource %s", path, res)
			return
		}
		typ, _ := r["Type"].(string)
		if rt, ok := v.spec.resourceType(typ); ok {
			if _, ok := rt.Attributes[attr]; !ok {
				v.errorf("%s: %s (%s) has no attribute %s", path, res, typ, attr)
			}
		}
	}
	condition := func(path string, c any) {
		name, _ := c.(string)
		if _, ok := tpl.Conditions[name]; !ok {
			v.errorf("%s: undefined condition %v", path, c)
		}
	}
	var walk func(path string, val any)
	walk = func(path string, val any) {
		if fn, arg, ok := intrinsic(val); ok {
			args, _ := arg.([]any)
			switch fn {
			case "Ref":
				if name, _ := arg.(string); !isRefTarget(name) {
					v.errorf("%s: Ref of the undefined %v", path, arg)
				}
				return
			case "Fn::GetAtt":
				if len(args) != 2 {
					v.errorf("%s: malformed GetAtt %v", path, arg)
					return
				}
				getAtt(path, fmt.Sprint(args[0]), fmt.Sprint(args[1]))
				return
			case "Condition":
				condition(path, arg)
				return
			case "Fn::If":
				if len(args) != 3 {
					v.errorf("%s: Fn::If needs three arguments", path)
					return
				}
				condition(path, args[0])
				walk(path, args[1])
				walk(path, args[2])
				return
			case "Fn::Sub":
				s, _ := arg.(string)
				local := map[string]bool{}
				if len(args) == 2 {
					s, _ = args[0].(string)
					m, _ := args[1].(map[string]any)
					for k, x := range m {
						local[k] = true
						walk(path, x)
					}
				}
				for _, name := range subVars(s) {
					if local[name] || isRefTarget(name) {
						continue
					}
					if res, attr, ok := strings.Cut(name, "."); ok {
						getAtt(path, res, attr)
						continue
					}
					v.errorf("%s: Sub uses the undefined ${%s}", path, name)
				}
				return
			}
		}
		switch x := val.(type) {
		case map[string]any:
			for k, it := range x {
				walk(path+"."+k, it)
			}
		case []any:
			for i, it := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), it)
			}
		}
	}
	for name, c := range tpl.Conditions {
		walk("Conditions."+name, c)
	}
	for name, r := range tpl.Resources {
		if c, ok := r["Condition"]; ok {
			condition("Resources."+name, c)
		}
		for _, d := range listOf(r["DependsOn"]) {
			if _, ok := tpl.Resources[fmt.Sprint(d)]; !ok {
				v.errorf("Resources.%s: DependsOn the undefined %v", name, d)
			}
		}
		walk("Resources."+name+".Properties", r["Properties"])
	}
	for name, o := range tpl.Outputs {
		if c, ok := o["Condition"]; ok {
			condition("Outputs."+name, c)
		}
		walk("Outputs."+name, o["Value"])
	}
}

// validateTemplate runs every check and returns the findings.
func validateTemplate(spec *cfnSpec, tpl *template) []string {
	v := &validator{spec: spec}
	v.resources(tpl)
	v.references(tpl)
	for name, p := range tpl.Parameters {
		if _, ok := p["Type"]; !ok {
			v.errorf("Parameters.%s has no Type", name)
		}
	}
	return v.errs
}

// TestTemplateAgainstSpecification validates the template against the
// CloudFormation resource specification.
func TestTemplateAgainstSpecification(t *testing.T) {
	spec := loadSpec(t)
	tpl := loadTemplate(t)
	for typ := range newerTypes {
		if _, ok := spec.ResourceTypes[typ]; ok {
			t.Errorf("the specification (%s) now has %s: remove it from newerTypes", spec.ResourceSpecificationVersion, typ)
		}
	}
	for _, name := range specHasNewer {
		t.Errorf("the specification (%s) now has %s: remove it from newerProperties or newerPropertyTypes", spec.ResourceSpecificationVersion, name)
	}
	for _, e := range validateTemplate(spec, tpl) {
		t.Error(e)
	}
	t.Logf("validated %d resources against resource specification %s", len(tpl.Resources), spec.ResourceSpecificationVersion)
}

// TestValidatorCatchesMistakes: the validator finds each kind of mistake in
// a small template (so that a silent validator cannot pass the real one).
func TestValidatorCatchesMistakes(t *testing.T) {
	spec := loadSpec(t)
	src := `
Parameters:
  P: {Type: String}
Conditions:
  C: !Equals [!Ref P, ""]
Resources:
  NoSuchType:
    Type: AWS::Nope::Thing
  BadProp:
    Type: AWS::SQS::Queue
    Properties:
      NotAProperty: 1
  MissingRequired:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: alias/x
  WrongTypes:
    Type: AWS::Kinesis::Stream
    Properties:
      RetentionPeriodHours: seven days
      StreamModeDetails: ON_DEMAND
      Tags: {Key: a, Value: b}
  Nested:
    Type: AWS::S3::Bucket
    Properties:
      PublicAccessBlockConfiguration:
        BlockPublicAcls: maybe
        BlockEverything: true
  BadRefs:
    Type: AWS::SQS::Queue
    Condition: Undefined
    DependsOn: Missing
    Properties:
      QueueName: !Ref Nowhere
      KmsMasterKeyId: !GetAtt BadProp.NoSuchAttribute
      RedrivePolicy: !If [AlsoUndefined, !Sub "${Gone}", !Ref P]
  Newer:
    Type: AWS::SecurityHub::ActionTarget
    Properties:
      Name: x
      Id: 7
      Color: blue
  Fine:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !If [C, !Ref P, !Sub "${P}-${AWS::Region}-${BadProp.Arn}"]
      DelaySeconds: "5"
      FifoQueue: !If [C, true, "false"]
`
	tpl, err := parseTemplate([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	errs := validateTemplate(spec, tpl)
	wants := []string{
		`NoSuchType: unknown resource type "AWS::Nope::Thing"`,
		"BadProp: AWS::SQS::Queue has no property NotAProperty",
		"MissingRequired: the required property TargetKeyId is missing",
		"WrongTypes.RetentionPeriodHours: string seven days does not fit Integer",
		"WrongTypes.StreamModeDetails: want a StreamModeDetails object",
		"WrongTypes.Tags: want a list",
		"Nested.PublicAccessBlockConfiguration.BlockPublicAcls: string maybe does not fit Boolean",
		"Nested.PublicAccessBlockConfiguration: AWS::S3::Bucket has no property BlockEverything",
		"Resources.BadRefs: undefined condition Undefined",
		"Resources.BadRefs: DependsOn the undefined Missing",
		"Resources.BadRefs.Properties.QueueName: Ref of the undefined Nowhere",
		"Resources.BadRefs.Properties.KmsMasterKeyId: BadProp (AWS::SQS::Queue) has no attribute NoSuchAttribute",
		"Resources.BadRefs.Properties.RedrivePolicy: undefined condition AlsoUndefined",
		"Resources.BadRefs.Properties.RedrivePolicy: Sub uses the undefined ${Gone}",
		"Newer: the required property Description is missing",
		"Newer: AWS::SecurityHub::ActionTarget has no property Color",
	}
	for _, w := range wants {
		found := false
		for _, e := range errs {
			found = found || strings.Contains(e, w)
		}
		if !found {
			t.Errorf("the validator missed: %s", w)
		}
	}
	for _, e := range errs {
		if strings.HasPrefix(e, "Fine") || strings.Contains(e, ".Fine.") {
			t.Errorf("the validator rejected a valid resource: %s", e)
		}
	}
	if len(errs) != len(wants) {
		t.Errorf("the validator found %d problems, want %d:\n%s", len(errs), len(wants), strings.Join(errs, "\n"))
	}
}

// TestEveryOptionCombination evaluates the whole template for every
// combination of the parameters that switch resources on and off: every
// Ref, GetAtt and Sub must resolve to a resource that exists in that
// combination (CloudFormation's "unresolved resource dependency"), and the
// values must be well formed.
func TestEveryOptionCombination(t *testing.T) {
	tpl := loadTemplate(t)
	options := []struct {
		param  string
		values []string
	}{
		{"KinesisShardCount", []string{"0", "4"}},
		{"KmsKeyArn", []string{"", "arn:aws:kms:eu-west-1:123456789012:key/given"}},
		{"BucketName", []string{"", "my-lake"}},
		{"EcrRepositoryArn", []string{"", "arn:aws:ecr:eu-west-1:123456789012:repository/hublake"}},
		{"AnalystRoleArn", []string{"", "arn:aws:iam::123456789012:role/analyst"}},
		{"AlarmTopicArn", []string{"", "arn:aws:sns:eu-west-1:123456789012:alarms"}},
		{"TableRetentionDays", []string{"0", "365"}},
		{"CreateCustomAction", []string{"true", "false"}},
		{"CustomActionArns", []string{"", seedActionArn}},
		{"DesiredCount", []string{"1", "0"}},
		{"Backfill", []string{"false", "true"}},
		{"BackfillSourceKmsKeyArn", []string{"", "arn:aws:kms:eu-west-1:123456789012:key/archive"}},
		{"AsffFeedEnabled", []string{"true", "false"}},
		{"OcsfFeedEnabled", []string{"true", "false"}},
	}
	seen := map[string]map[bool]bool{}
	for n := 0; n < 1<<len(options); n++ {
		over := map[string]string{}
		desc := []string{}
		for i, o := range options {
			v := o.values[(n>>i)&1]
			over[o.param] = v
			desc = append(desc, o.param+"="+v)
		}
		e := newEvaluator(t, tpl, over)
		for c, v := range e.conds {
			if seen[c] == nil {
				seen[c] = map[bool]bool{}
			}
			seen[c][v] = true
		}
		for name, r := range tpl.Resources {
			if !e.created(name) {
				continue
			}
			for _, k := range []string{"Properties", "Metadata", "DependsOn"} {
				if _, err := e.eval(r[k]); err != nil {
					t.Fatalf("%s: Resources.%s.%s: %v", strings.Join(desc, " "), name, k, err)
				}
			}
		}
		for name, o := range tpl.Outputs {
			if c, ok := o["Condition"].(string); ok && !e.conds[c] {
				continue
			}
			if _, err := e.eval(o["Value"]); err != nil {
				t.Fatalf("%s: Outputs.%s: %v", strings.Join(desc, " "), name, err)
			}
		}
	}
	// Every condition must take both values, or the options above miss one.
	for c := range tpl.Conditions {
		if len(seen[c]) != 2 {
			t.Errorf("condition %s is %v in every combination; the options above do not cover it", c, seen[c])
		}
	}
}

package dashboards

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// DashboardResource is the logical id of the stack's dashboard.
const DashboardResource = "Dashboard"

// DefaultRunbookURL is where the runbooks are unless the stack's
// RunbookUrl parameter says otherwise.
const DefaultRunbookURL = "https://github.com/hublake/hublake/blob/main/deploy/README.md"

// The template holds the body between these marker lines, as the first item
// of the dashboard's Fn::Sub (the second is the variable map, hand-written).
var (
	beginRE = regexp.MustCompile(`^( *)# BEGIN generated dashboard body\b.*$`)
	endRE   = regexp.MustCompile(`^ *# END generated dashboard body\s*$`)
)

// Rewrite returns the template with the generated dashboard body
// regenerated; the template must mark it exactly once.
func Rewrite(template []byte) ([]byte, error) {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(template))
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	inside, found := false, false
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case inside:
			if endRE.MatchString(line) {
				inside = false
				out.WriteString(line + "\n")
			}
		case beginRE.MatchString(line):
			if found {
				return nil, fmt.Errorf("line %d: a second generated dashboard body", n)
			}
			found, inside = true, true
			pad := beginRE.FindStringSubmatch(line)[1]
			out.WriteString(line + "\n")
			out.WriteString(pad + "- |\n")
			for _, l := range strings.Split(strings.TrimSuffix(CloudWatchBody(), "\n"), "\n") {
				out.WriteString(pad + "  " + l + "\n")
			}
		case endRE.MatchString(line):
			return nil, fmt.Errorf("line %d: END marker of the dashboard body without BEGIN", n)
		default:
			out.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if inside {
		return nil, errors.New("no END marker for the generated dashboard body")
	}
	if !found {
		return nil, errors.New("the template marks no generated dashboard body")
	}
	return out.Bytes(), nil
}

// TemplateBody returns the dashboard body of a CloudFormation template as
// it stands there (the Fn::Sub string, variables not substituted) and the
// names of the variables the Sub's map defines.
func TemplateBody(template []byte) (string, []string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(template, &doc); err != nil {
		return "", nil, fmt.Errorf("the template is not YAML: %w", err)
	}
	if len(doc.Content) != 1 {
		return "", nil, errors.New("the template is not one YAML document")
	}
	node := doc.Content[0]
	for _, key := range []string{"Resources", DashboardResource, "Properties", "DashboardBody"} {
		node = mappingValue(node, key)
		if node == nil {
			return "", nil, fmt.Errorf("the template has no %s in Resources.%s.Properties.DashboardBody", key, DashboardResource)
		}
	}
	if node.Tag != "!Sub" || node.Kind != yaml.SequenceNode || len(node.Content) != 2 ||
		node.Content[0].Kind != yaml.ScalarNode || node.Content[1].Kind != yaml.MappingNode {
		return "", nil, errors.New("DashboardBody is not !Sub [body, {variables}]")
	}
	var vars []string
	for i := 0; i < len(node.Content[1].Content); i += 2 {
		vars = append(vars, node.Content[1].Content[i].Value)
	}
	return node.Content[0].Value, vars, nil
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// TemplateAlarmMetrics returns the metrics the template's alarms watch (in
// both of an Fn::If's branches), by namespace, name and dimension names
// (their values are left empty: they are intrinsic functions).
func TemplateAlarmMetrics(template []byte) ([]Ref, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(template, &doc); err != nil {
		return nil, fmt.Errorf("the template is not YAML: %w", err)
	}
	if len(doc.Content) != 1 {
		return nil, errors.New("the template is not one YAML document")
	}
	resources := mappingValue(doc.Content[0], "Resources")
	if resources == nil {
		return nil, errors.New("the template has no Resources")
	}
	var refs []Ref
	for i := 0; i+1 < len(resources.Content); i += 2 {
		name, res := resources.Content[i].Value, resources.Content[i+1]
		if t := mappingValue(res, "Type"); t == nil || t.Value != "AWS::CloudWatch::Alarm" {
			continue
		}
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if n == nil {
				return
			}
			if ns, metric := mappingValue(n, "Namespace"), mappingValue(n, "MetricName"); ns != nil && metric != nil {
				r := Ref{Widget: name, Namespace: ns.Value, Name: metric.Value, Dims: map[string]string{}}
				if dims := mappingValue(n, "Dimensions"); dims != nil {
					for _, d := range dims.Content {
						if dn := mappingValue(d, "Name"); dn != nil {
							r.Dims[dn.Value] = ""
						}
					}
				}
				refs = append(refs, r)
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(mappingValue(res, "Properties"))
	}
	return refs, nil
}

package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The CloudWatch dashboard body is a CloudFormation Fn::Sub string: these
// are the variables it uses. AlarmArnsVar is given in the Sub's variable map
// (the quoted ARNs of the stack's alarms, comma-separated); the others are
// the stack's parameters, resources and pseudo parameters.
const (
	AlarmArnsVar = "AlarmArns"
	regionVar    = "${AWS::Region}"
)

// spellings are how each renderer names the stack's resources: a
// CloudFormation ${...} variable of the template's Fn::Sub, and a Grafana
// expression of the dashboard's $app variable (the names the stack derives
// from AppName) or, for the lake (its bucket's name does not follow from
// AppName), of its own $lake variable. A rule's name follows its prefix.
var spellings = map[Resource]struct{ cfn, grafana string }{
	Stream:  {"${Stream}", "${app}-securityhub"},
	Rule:    {"${AppName}-", "${app}-"},
	DLQ:     {"${EventsDeadLetterQueue.QueueName}", "${app}-eventbridge-dlq"},
	Cluster: {"${Cluster}", "${app}"},
	Service: {"${Service.Name}", "${app}"},
	// The URL hublake compact prints for the task's HUBLAKE_OUT (s3lake.Lake's
	// String: s3://bucket/prefix; LakePrefix has no slash at either end).
	Lake: {"s3://${LakeBucket}/${LakePrefix}", "${lake}"},
}

// cfnValue spells a dimension value as the template's Fn::Sub does.
func cfnValue(d Dim) string { return spell(d, spellings[d.Of].cfn) }

// grafanaValue spells a dimension value with the Grafana dashboard's
// variables.
func grafanaValue(d Dim) string { return spell(d, spellings[d.Of].grafana) }

func spell(d Dim, s string) string {
	switch d.Of {
	case Literal:
		return d.Value
	case Rule:
		return s + d.Value
	}
	return s
}

// Grid of both dashboards: 24 columns; panels two per row.
const (
	gridWidth   = 24
	panelWidth  = 12
	panelHeight = 6
	headerRows  = 2
	alarmRows   = 4
)

// Header is the markdown at the top of both dashboards; runbook is the
// runbooks' URL in the renderer's syntax.
func header(title, runbook string) string {
	return "## " + title + "\n" +
		"Security Hub → EventBridge → Kinesis → `hublake consume` → S3. Every alarm links to its runbook: " +
		"[deploy/README.md, Runbooks](" + runbook + "). Counters are per second unless a title says otherwise."
}

// CloudWatchBody renders the CloudWatch dashboard body (a Fn::Sub string).
func CloudWatchBody() string {
	widgets := []map[string]any{
		{"type": "text", "x": 0, "y": 0, "width": gridWidth, "height": headerRows,
			"properties": map[string]any{"markdown": header("hublake ${AppName}: stream ${Stream}", "${RunbookUrl}#runbooks")}},
		{"type": "alarm", "x": 0, "y": headerRows, "width": gridWidth, "height": alarmRows,
			"properties": map[string]any{"title": "Alarms", "alarms": []any{"@ALARMS@"}}},
	}
	for i, p := range Panels() {
		widgets = append(widgets, map[string]any{
			"type": "metric", "x": (i % 2) * panelWidth, "y": headerRows + alarmRows + (i/2)*panelHeight,
			"width": panelWidth, "height": panelHeight,
			"properties": cloudWatchGraph(p),
		})
	}
	var b strings.Builder
	b.WriteString("{\n  \"start\": \"-PT6H\",\n  \"periodOverride\": \"inherit\",\n  \"widgets\": [\n")
	for i, w := range widgets {
		b.WriteString("    " + compactJSON(w))
		if i < len(widgets)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("  ]\n}\n")
	// The alarms' ARNs are a list the Sub's variable fills in, unquoted.
	return strings.Replace(b.String(), `["@ALARMS@"]`, "[${"+AlarmArnsVar+"}]", 1)
}

func cloudWatchGraph(p Panel) map[string]any {
	period := p.Period
	if period == 0 {
		period = 60
	}
	var metrics []any
	n := 0
	for _, m := range p.CloudWatch {
		n++
		opts := map[string]any{}
		if m.Label != "" {
			opts["label"] = m.Label
		}
		if m.RightAxis {
			opts["yAxis"] = "right"
		}
		if m.Search {
			var filters []string
			for _, d := range m.Dims {
				filters = append(filters, d.Name+`="`+cfnValue(d)+`"`)
			}
			expr := fmt.Sprintf(`SEARCH('{%s,%s} MetricName="%s" %s', '%s', %d)`, m.Namespace, strings.Join(m.SearchDims, ","),
				m.Name, strings.Join(filters, " "), m.Stat, period)
			opts["expression"], opts["id"] = expr, fmt.Sprintf("e%d", n)
			metrics = append(metrics, []any{opts})
			continue
		}
		row := []any{m.Namespace, m.Name}
		for _, d := range m.Dims {
			row = append(row, d.Name, cfnValue(d))
		}
		if m.PerSecond {
			id := fmt.Sprintf("m%d", n)
			row = append(row, map[string]any{"id": id, "stat": m.Stat, "visible": false})
			metrics = append(metrics, row)
			opts["expression"], opts["id"] = fmt.Sprintf("%s/PERIOD(%s)", id, id), fmt.Sprintf("e%d", n)
			metrics = append(metrics, []any{opts})
			continue
		}
		opts["stat"] = m.Stat
		metrics = append(metrics, append(row, opts))
	}
	return map[string]any{
		"title": p.Title, "region": regionVar, "view": "timeSeries", "stacked": false, "period": period,
		"metrics": metrics, "yAxis": map[string]any{"left": map[string]any{"min": 0}},
	}
}

func compactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // maps of strings and numbers always encode
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Ref is a metric a dashboard names.
type Ref struct {
	Widget          string // the graph's title
	Namespace, Name string
	// Dims are the dimensions and their values; a SEARCH leaves the
	// dimensions of its schema that it does not filter on empty.
	Dims   map[string]string
	Stat   string
	Search bool
}

// DimNames returns the reference's dimension names, sorted and joined
// with ",".
func (r Ref) DimNames() string {
	names := make([]string, 0, len(r.Dims))
	for n := range r.Dims {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

var (
	statRE   = regexp.MustCompile(`^(Sum|Average|Maximum|Minimum|SampleCount|p\d{1,2}(\.\d+)?)$`)
	idRE     = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)
	searchRE = regexp.MustCompile(`^SEARCH\('\{([^{}]+)\} MetricName="([^"]+)"((?: [A-Za-z]+="[^"]*")*)', '([A-Za-z0-9.]+)', (\d+)\)$`)
	filterRE = regexp.MustCompile(` ([A-Za-z]+)="([^"]*)"`)
	// mathTokenRE are the tokens of the metric math the body uses: ids,
	// functions, numbers, + - * / and parentheses.
	mathTokenRE = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*|\d+(\.\d+)?|==|!=|>=|<=|&&|\|\||[-+*/(),<>!\[\]]|\s+`)
)

// mathFunctions are the metric math functions an expression may call, and
// mathOperators its word operators.
var (
	mathFunctions = map[string]bool{"PERIOD": true, "FILL": true, "SUM": true, "MAX": true, "METRICS": true, "IF": true}
	mathOperators = map[string]bool{"AND": true, "OR": true, "NOT": true}
)

// metricOptions are the keys a metric's options object may have.
var metricOptions = map[string]bool{"id": true, "stat": true, "label": true, "visible": true, "yAxis": true, "period": true, "color": true, "region": true}

// CloudWatchRefs validates a CloudWatch dashboard body (after substitution
// of its variables) against the dashboard body structure and returns every
// metric it names: widgets of known types inside the 24-column grid without
// overlaps; metric graphs with a title, a region and well-formed metric
// arrays ([namespace, name, dimension name, value, ..., {options}] or
// [{expression}]), known statistics, unique ids, expressions over defined
// ids, SEARCH expressions of the form the renderer writes.
func CloudWatchRefs(body string) ([]Ref, error) {
	var dash struct {
		Start   string            `json:"start"`
		Widgets []json.RawMessage `json:"widgets"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	if err := dec.Decode(&dash); err != nil {
		return nil, fmt.Errorf("the dashboard body is not JSON: %w", err)
	}
	if len(dash.Widgets) == 0 {
		return nil, errors.New("the dashboard has no widgets")
	}
	var refs []Ref
	var errs []error
	var boxes []box
	for i, raw := range dash.Widgets {
		var w struct {
			Type       string         `json:"type"`
			X          *int           `json:"x"`
			Y          *int           `json:"y"`
			Width      *int           `json:"width"`
			Height     *int           `json:"height"`
			Properties map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(raw, &w); err != nil {
			errs = append(errs, fmt.Errorf("widget %d: %w", i, err))
			continue
		}
		if w.X == nil || w.Y == nil || w.Width == nil || w.Height == nil {
			errs = append(errs, fmt.Errorf("widget %d: x, y, width and height are required", i))
			continue
		}
		b := box{name: fmt.Sprintf("widget %d", i), x: *w.X, y: *w.Y, w: *w.Width, h: *w.Height}
		if b.x < 0 || b.y < 0 || b.w < 1 || b.h < 1 || b.x+b.w > gridWidth {
			errs = append(errs, fmt.Errorf("%s: position %d,%d size %dx%d is outside the %d-column grid", b.name, b.x, b.y, b.w, b.h, gridWidth))
		}
		boxes = append(boxes, b)
		p := w.Properties
		switch w.Type {
		case "text":
			if s, _ := p["markdown"].(string); s == "" {
				errs = append(errs, fmt.Errorf("widget %d: a text widget without markdown", i))
			}
		case "alarm":
			alarms, _ := p["alarms"].([]any)
			if len(alarms) == 0 {
				errs = append(errs, fmt.Errorf("widget %d: an alarm widget without alarms", i))
			}
			for _, a := range alarms {
				if s, _ := a.(string); s == "" {
					errs = append(errs, fmt.Errorf("widget %d: alarm %v is not an ARN string", i, a))
				}
			}
		case "metric":
			r, err := metricWidget(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("widget %d (%v): %w", i, p["title"], err))
			}
			refs = append(refs, r...)
		default:
			errs = append(errs, fmt.Errorf("widget %d: unknown type %q", i, w.Type))
		}
	}
	errs = append(errs, overlaps(boxes)...)
	return refs, errors.Join(errs...)
}

func metricWidget(p map[string]any) ([]Ref, error) {
	title, _ := p["title"].(string)
	if title == "" {
		return nil, errors.New("a graph without a title")
	}
	if r, _ := p["region"].(string); r == "" {
		return nil, errors.New("a graph without a region")
	}
	if v, ok := p["view"].(string); ok && v != "timeSeries" && v != "singleValue" {
		return nil, fmt.Errorf("view %q", v)
	}
	if per, ok := p["period"]; ok {
		f, isNum := per.(float64)
		if !isNum || f < 60 || int(f)%60 != 0 {
			return nil, fmt.Errorf("period %v is not a multiple of 60 seconds", per)
		}
	}
	rows, _ := p["metrics"].([]any)
	if len(rows) == 0 {
		return nil, errors.New("a graph without metrics")
	}
	var refs []Ref
	ids := map[string]bool{}
	var exprs []string
	for i, row := range rows {
		items, ok := row.([]any)
		if !ok || len(items) == 0 {
			return nil, fmt.Errorf("metrics[%d] is not a non-empty array", i)
		}
		if opts, ok := items[0].(map[string]any); ok {
			if len(items) != 1 {
				return nil, fmt.Errorf("metrics[%d]: an expression entry holds one object", i)
			}
			expr, _ := opts["expression"].(string)
			if expr == "" {
				return nil, fmt.Errorf("metrics[%d]: an object without an expression", i)
			}
			if err := checkOptions(opts, ids, true); err != nil {
				return nil, fmt.Errorf("metrics[%d]: %w", i, err)
			}
			if strings.HasPrefix(expr, "SEARCH(") {
				r, err := searchRef(expr)
				if err != nil {
					return nil, fmt.Errorf("metrics[%d]: %w", i, err)
				}
				r.Widget = title
				refs = append(refs, r)
				continue
			}
			exprs = append(exprs, expr)
			continue
		}
		r := Ref{Widget: title, Dims: map[string]string{}}
		var strs []string
		for j, it := range items {
			switch x := it.(type) {
			case string:
				strs = append(strs, x)
			case map[string]any:
				if j != len(items)-1 {
					return nil, fmt.Errorf("metrics[%d]: the options object must come last", i)
				}
				if err := checkOptions(x, ids, false); err != nil {
					return nil, fmt.Errorf("metrics[%d]: %w", i, err)
				}
				r.Stat, _ = x["stat"].(string)
			default:
				return nil, fmt.Errorf("metrics[%d][%d] is a %T, want strings then an options object", i, j, it)
			}
		}
		if len(strs) < 2 || len(strs)%2 != 0 {
			return nil, fmt.Errorf("metrics[%d] = %v: want namespace, metric name and dimension name/value pairs", i, strs)
		}
		r.Namespace, r.Name = strs[0], strs[1]
		for k := 2; k < len(strs); k += 2 {
			if strs[k] == "" || strs[k+1] == "" || strs[k] == "." {
				return nil, fmt.Errorf("metrics[%d]: an empty dimension in %v", i, strs)
			}
			if _, dup := r.Dims[strs[k]]; dup {
				return nil, fmt.Errorf("metrics[%d]: dimension %s twice", i, strs[k])
			}
			r.Dims[strs[k]] = strs[k+1]
		}
		if r.Stat == "" {
			r.Stat, _ = p["stat"].(string)
		}
		if !statRE.MatchString(r.Stat) {
			return nil, fmt.Errorf("metrics[%d]: statistic %q", i, r.Stat)
		}
		refs = append(refs, r)
	}
	for _, e := range exprs {
		if err := CheckMath(e, ids); err != nil {
			return nil, err
		}
	}
	return refs, nil
}

// checkOptions checks a metric's options object and records its id.
func checkOptions(opts map[string]any, ids map[string]bool, expression bool) error {
	for k := range opts {
		if !metricOptions[k] && !(expression && k == "expression") {
			return fmt.Errorf("unknown metric option %q", k)
		}
	}
	if s, ok := opts["stat"].(string); ok && !statRE.MatchString(s) {
		return fmt.Errorf("statistic %q", s)
	}
	if y, ok := opts["yAxis"]; ok && y != "left" && y != "right" {
		return fmt.Errorf("yAxis %v", y)
	}
	if id, ok := opts["id"]; ok {
		s, _ := id.(string)
		if !idRE.MatchString(s) {
			return fmt.Errorf("id %v: want a lower-case letter, then letters, digits, _", id)
		}
		if ids[s] {
			return fmt.Errorf("id %s twice", s)
		}
		ids[s] = true
	}
	return nil
}

// CheckMath checks a metric math expression of ids, numbers, functions,
// operators and lists ([a, b], as MAX and SUM take them), with balanced
// parentheses and brackets, over the ids defined (a graph's or an alarm's
// metrics).
func CheckMath(expr string, ids map[string]bool) error {
	rest := expr
	depth := 0
	var open []string // the open parentheses and brackets, innermost last
	for rest != "" {
		loc := mathTokenRE.FindStringIndex(rest)
		if loc == nil || loc[0] != 0 {
			return fmt.Errorf("expression %q: unexpected %q", expr, rest)
		}
		tok := rest[:loc[1]]
		rest = rest[loc[1]:]
		switch {
		case tok == "(" || tok == "[":
			depth++
			open = append(open, tok)
		case tok == ")" || tok == "]":
			depth--
			if depth < 0 || open[len(open)-1] != map[string]string{")": "(", "]": "["}[tok] {
				return fmt.Errorf("expression %q: unbalanced parentheses", expr)
			}
			open = open[:len(open)-1]
		case mathOperators[tok]:
		case mathFunctions[tok]:
			if !strings.HasPrefix(strings.TrimSpace(rest), "(") {
				return fmt.Errorf("expression %q: %s is not called", expr, tok)
			}
		case idRE.MatchString(tok):
			if !ids[tok] {
				return fmt.Errorf("expression %q uses %s, which no metric of the graph defines", expr, tok)
			}
		case tok[0] >= 'A' && tok[0] <= 'Z':
			return fmt.Errorf("expression %q: unknown function %s", expr, tok)
		}
	}
	if depth != 0 {
		return fmt.Errorf("expression %q: unbalanced parentheses", expr)
	}
	return nil
}

// searchRef reads a SEARCH expression as the renderer writes it:
// SEARCH('{Namespace,Dim,...} MetricName="Name" Dim="value" ...', 'Stat', period).
func searchRef(expr string) (Ref, error) {
	m := searchRE.FindStringSubmatch(expr)
	if m == nil {
		return Ref{}, fmt.Errorf("SEARCH expression %q is not of the form SEARCH('{Namespace,Dim,...} MetricName=\"…\" Dim=\"…\"', 'Stat', period)", expr)
	}
	schema := strings.Split(m[1], ",")
	r := Ref{Namespace: schema[0], Name: m[2], Dims: map[string]string{}, Stat: m[4], Search: true}
	for _, d := range schema[1:] {
		if d == "" {
			return Ref{}, fmt.Errorf("SEARCH %q: an empty dimension in its schema", expr)
		}
		r.Dims[d] = ""
	}
	for _, f := range filterRE.FindAllStringSubmatch(m[3], -1) {
		if _, ok := r.Dims[f[1]]; !ok {
			return Ref{}, fmt.Errorf("SEARCH %q filters on %s, which is not in its schema", expr, f[1])
		}
		r.Dims[f[1]] = f[2]
	}
	if !statRE.MatchString(r.Stat) {
		return Ref{}, fmt.Errorf("SEARCH %q: statistic %q", expr, r.Stat)
	}
	if p, _ := strconv.Atoi(m[5]); p < 60 || p%60 != 0 {
		return Ref{}, fmt.Errorf("SEARCH %q: period %s", expr, m[5])
	}
	return r, nil
}

// box is a widget's or panel's place on a grid.
type box struct {
	name       string
	x, y, w, h int
}

func overlaps(boxes []box) []error {
	var errs []error
	for i, a := range boxes {
		for _, b := range boxes[i+1:] {
			if a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h {
				errs = append(errs, fmt.Errorf("%s and %s overlap", a.name, b.name))
			}
		}
	}
	return errs
}

// Substitute replaces the ${name} variables of a Fn::Sub string by vars
// (CloudFormation's ${!literal} becomes ${literal}); it fails on a variable
// vars does not give.
func Substitute(s string, vars map[string]string) (string, error) {
	var missing []string
	out := subRE.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		slices.Sort(missing)
		return "", fmt.Errorf("no value for %v", slices.Compact(missing))
	}
	return out, nil
}

var subRE = regexp.MustCompile(`\$\{[^}]*\}`)

// SubVariables returns the ${...} variables of a Fn::Sub string.
func SubVariables(s string) []string {
	var out []string
	for _, m := range subRE.FindAllString(s, -1) {
		if !strings.HasPrefix(m, "${!") {
			out = append(out, m[2:len(m)-1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

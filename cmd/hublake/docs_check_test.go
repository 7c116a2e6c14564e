package main

// Checks of what the docs state in prose, beside the generated sections of
// docs_gen_test.go: every stated default, metric name, environment name,
// test name, memory formula, link and design claim is the code's.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/alecthomas/kong"
	"gopkg.in/yaml.v3"

	"github.com/hublake/hublake/current"
	"github.com/hublake/hublake/pipeline"
)

// docText is a Markdown file's text, read once per test.
type docText struct {
	file, text string
}

func readDocs(t *testing.T) []docText {
	t.Helper()
	var out []docText
	for _, f := range markdownFiles(t) {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, docText{f, string(b)})
	}
	if len(out) < 7 {
		t.Fatalf("found only %d Markdown files: %v", len(out), out)
	}
	return out
}

// lineOf is the 1-based line of offset i in text.
func lineOf(text string, i int) int { return strings.Count(text[:i], "\n") + 1 }

// flagDefaultsByCommand maps each flag name to its default per command path
// ("consume", "check consume", "" for the global flags).
func flagDefaultsByCommand(t *testing.T) map[string]map[string]string {
	out := map[string]map[string]string{}
	var walk func(n *kong.Node, path string)
	walk = func(n *kong.Node, path string) {
		if n.Type == kong.CommandNode {
			path = strings.TrimSpace(path + " " + n.Name)
		}
		for _, f := range n.Flags {
			if out[f.Name] == nil {
				out[f.Name] = map[string]string{}
			}
			def := f.Default
			if !f.HasDefault && f.IsBool() {
				def = "false"
			}
			out[f.Name][path] = def
		}
		for _, c := range n.Children {
			walk(c, path)
		}
	}
	walk(cliModel(t).Model.Node, "")
	return out
}

// statedDefault is how prose states a flag's default: "`--flag` (default
// `X`)", or "`command --flag` (default `X`)" when commands' defaults differ.
var statedDefault = regexp.MustCompile("`(?:([a-z]+(?: [a-z]+)?) )?--([a-z0-9-]+)` \\(default `([^`]*)`")

// TestDocsStatedDefaults: every default the docs state in prose is the
// flag's default in the code (in the command named, or in some command).
func TestDocsStatedDefaults(t *testing.T) {
	defaults := flagDefaultsByCommand(t)
	n := 0
	for _, d := range readDocs(t) {
		for _, m := range statedDefault.FindAllStringSubmatchIndex(d.text, -1) {
			n++
			cmd, name, value := "", d.text[m[4]:m[5]], d.text[m[6]:m[7]]
			if m[2] >= 0 {
				cmd = d.text[m[2]:m[3]]
			}
			byCmd, ok := defaults[name]
			if !ok {
				t.Errorf("%s:%d: --%s is no flag of hublake", d.file, lineOf(d.text, m[0]), name)
				continue
			}
			if cmd != "" {
				got, ok := byCmd[cmd]
				if !ok {
					t.Errorf("%s:%d: hublake %s has no flag --%s", d.file, lineOf(d.text, m[0]), cmd, name)
				} else if got != value {
					t.Errorf("%s:%d: says the default of `%s --%s` is %q; the code's is %q", d.file, lineOf(d.text, m[0]), cmd, name, value, got)
				}
				continue
			}
			var all []string
			for c, v := range byCmd {
				all = append(all, fmt.Sprintf("%s: %q", c, v))
			}
			found := false
			for _, v := range byCmd {
				found = found || v == value
			}
			if !found {
				t.Errorf("%s:%d: says the default of --%s is %q; the code's is %s", d.file, lineOf(d.text, m[0]), name, value, strings.Join(all, ", "))
			}
		}
	}
	if n < 5 {
		t.Errorf("only %d stated defaults found: the pattern is broken", n)
	}
}

// statedFormula matches the memory formula wherever the docs state it.
var statedFormula = regexp.MustCompile(`(\d+) × (?:max\(--flush-bytes, --max-unit-bytes\)|--flush-bytes) \+ (\d+) × --max-unit-bytes \+ (\d+) MiB\)?( \+ (\d+) MiB)?`)

// TestDocsMemoryFormula: every statement of the memory formula in the docs
// (and in the flag help) has the code's constants, and the formula they
// state computes pipeline.MemoryBudget.
func TestDocsMemoryFormula(t *testing.T) {
	n := 0
	for _, d := range readDocs(t) {
		text := strings.Join(strings.Fields(d.text), " ")
		for _, m := range statedFormula.FindAllStringSubmatch(text, -1) {
			n++
			want := []string{fmt.Sprint(pipeline.BudgetBatchFactor), "2", fmt.Sprint(pipeline.BudgetBatchFixed >> 20)}
			if got := []string{m[1], m[2], m[3]}; !slices.Equal(got, want) {
				t.Errorf("%s states the memory budget as %q; the code's per-batch terms are %v", d.file, m[0], want)
			}
			if m[5] != "" && m[5] != fmt.Sprint(pipeline.BudgetBase>>20) {
				t.Errorf("%s states the memory budget as %q; the code's base is %d MiB", d.file, m[0], pipeline.BudgetBase>>20)
			}
		}
	}
	if n < 2 {
		t.Errorf("the docs state the memory formula %d times; docs/operating.md and BENCHMARKS.md state it", n)
	}
	// The formula as stated, against the function, where the batch term
	// is the input bytes and where it is the unit limit.
	for _, c := range []struct {
		batches     int
		batch, unit int64
	}{{1, 16 << 20, 16 << 20}, {3, 8 << 20, 1 << 20}, {2, 2 << 20, 6 << 20}, {5, 64 << 20, 16 << 20}} {
		stated := int64(c.batches)*(pipeline.BudgetBatchFactor*max(c.batch, c.unit)+2*c.unit+pipeline.BudgetBatchFixed) + pipeline.BudgetBase
		if got := pipeline.MemoryBudget(c.batches, pipeline.Policy{MaxBytes: c.batch, MaxUnitBytes: c.unit}); got != stated {
			t.Errorf("MemoryBudget(%d, flush %d, unit %d) = %d; the formula the docs state gives %d", c.batches, c.batch, c.unit, got, stated)
		}
	}
}

// retiredMetrics are the names of metrics earlier versions exported, which
// the docs' upgrade notes name.
var retiredMetrics = []string{"hublake_millis_behind_latest", "hublake_findings_total", "hublake_insight_results_total"}

var metricName = regexp.MustCompile(`\bhublake_[a-z_]+[a-z]\b`)

// TestDocsMetricNames: every hublake_* name in the docs is a metric the
// consumer exports (or one of the retired names an upgrade note gives).
func TestDocsMetricNames(t *testing.T) {
	exported := map[string]bool{}
	for _, m := range consumerMetrics(t) {
		exported[m.name] = true
	}
	for _, r := range retiredMetrics {
		if exported[r] {
			t.Errorf("%s is exported again: drop it from retiredMetrics", r)
		}
	}
	for _, d := range readDocs(t) {
		for _, loc := range metricName.FindAllStringIndex(d.text, -1) {
			name := d.text[loc[0]:loc[1]]
			if !exported[name] && !slices.Contains(retiredMetrics, name) {
				t.Errorf("%s:%d: %s is no metric of hublake", d.file, lineOf(d.text, loc[0]), name)
			}
		}
	}
}

var envName = regexp.MustCompile(`\bHUBLAKE_[A-Z0-9_]*[A-Z0-9]\b`)

// TestDocsEnvNames: every HUBLAKE_* variable the docs name is a flag's (or
// one the code reads by name: the tests' switches).
func TestDocsEnvNames(t *testing.T) {
	known := map[string]bool{}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			for _, e := range f.Envs {
				known[e] = true
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(cliModel(t).Model.Node)
	literal := regexp.MustCompile(`"(HUBLAKE_[A-Z0-9_]*[A-Z0-9])"`)
	for _, f := range goFiles(t) {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			known[m[1]] = true
		}
	}
	for _, d := range readDocs(t) {
		for _, loc := range envName.FindAllStringIndex(d.text, -1) {
			if name := d.text[loc[0]:loc[1]]; !known[name] {
				t.Errorf("%s:%d: %s is no flag's environment variable", d.file, lineOf(d.text, loc[0]), name)
			}
		}
	}
}

// goFiles returns the repository's Go files, relative to the root.
func goFiles(t *testing.T) []string { return repoFiles(t, ".go") }

var (
	testFuncDecl = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)[A-Z0-9]\w*)\(`)
	testFuncRef  = regexp.MustCompile(`\b((?:Test|Fuzz|Benchmark)[A-Z0-9]\w*)`)
)

// TestDocsTestNames: every test, fuzz target and benchmark the docs name
// exists.
func TestDocsTestNames(t *testing.T) {
	exist := map[string]bool{}
	for _, f := range goFiles(t) {
		if !strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range testFuncDecl.FindAllStringSubmatch(string(b), -1) {
			exist[m[1]] = true
		}
	}
	for _, d := range readDocs(t) {
		for _, loc := range testFuncRef.FindAllStringSubmatchIndex(d.text, -1) {
			name := d.text[loc[2]:loc[3]]
			if !exist[name] {
				t.Errorf("%s:%d: %s is no test, fuzz target or benchmark of the repository", d.file, lineOf(d.text, loc[0]), name)
			}
		}
	}
}

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	fence     = regexp.MustCompile("(?ms)^```.*?^```")
)

// anchors returns the heading anchors of a Markdown text, as GitHub makes
// them: lower case, punctuation dropped, spaces as '-', repeats numbered.
func anchors(text string) map[string]bool {
	text = fence.ReplaceAllString(text, "")
	out := map[string]bool{}
	seen := map[string]int{}
	for _, m := range mdHeading.FindAllStringSubmatch(text, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(m[1])) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// TestDocsLinks: every relative link in the docs reaches a file, and every
// anchor a heading of it.
func TestDocsLinks(t *testing.T) {
	docs := readDocs(t)
	texts := map[string]string{}
	for _, d := range docs {
		texts[d.file] = d.text
	}
	n := 0
	for _, d := range docs {
		body := fence.ReplaceAllString(d.text, "")
		for _, m := range mdLink.FindAllStringSubmatch(body, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			n++
			path, anchor, _ := strings.Cut(target, "#")
			file := d.file
			if path != "" {
				file = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(d.file), path)))
				if _, err := os.Stat(filepath.Join(repoRoot, file)); err != nil {
					t.Errorf("%s: the link %q reaches no file (%s)", d.file, target, file)
					continue
				}
			}
			if anchor == "" {
				continue
			}
			text, ok := texts[file]
			if !ok {
				t.Errorf("%s: the link %q has an anchor into a file that is not Markdown", d.file, target)
				continue
			}
			if !anchors(text)[anchor] {
				t.Errorf("%s: the link %q reaches no heading of %s", d.file, target, file)
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d relative links found", n)
	}
}

var (
	claimHeading = regexp.MustCompile(`(?m)^### (\d+)\. `)
	claimCite    = regexp.MustCompile(`docs/design\.md,\s+(?://\s+)?claims?\s+(\d+)`)
)

// TestDesignClaimsCited: docs/design.md's claims are numbered 1, 2, 3...
// and every "docs/design.md, claim N" in the code and the docs names one.
func TestDesignClaimsCited(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]bool{}
	for i, m := range claimHeading.FindAllStringSubmatch(string(raw), -1) {
		if m[1] != fmt.Sprint(i+1) {
			t.Errorf("docs/design.md: claim %s is the %d. claim: claims are numbered 1, 2, 3... and never renumbered", m[1], i+1)
		}
		claims[m[1]] = true
	}
	if len(claims) < 10 {
		t.Fatalf("docs/design.md has %d numbered claims", len(claims))
	}
	files := goFiles(t)
	files = append(files, markdownFiles(t)...)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range claimCite.FindAllStringSubmatch(string(b), -1) {
			if !claims[m[1]] {
				t.Errorf("%s cites docs/design.md, claim %s, which does not exist", f, m[1])
			}
		}
	}
}

// TestStackFlushDefaults: the stack's flush parameters default to the
// consumer's flag defaults (deploy/README.md's parameter table states them).
func TestStackFlushDefaults(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "cloudformation", "hublake.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Parameters map[string]struct {
			Default any `yaml:"Default"`
		} `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	defaults := flagDefaultsByCommand(t)
	for param, flag := range map[string]string{"FlushWindow": "flush-window", "FlushBytes": "flush-bytes", "FlushRecords": "flush-records", "InitialPosition": "initial-position"} {
		p, ok := tmpl.Parameters[param]
		if !ok {
			t.Errorf("the template has no parameter %s", param)
			continue
		}
		if got, want := fmt.Sprint(p.Default), defaults[flag]["consume"]; got != want {
			t.Errorf("the template's %s defaults to %q, consume --%s to %q", param, got, flag, want)
		}
	}
}

// TestReadmeExitCodes: the README's one-line summary of the exit statuses
// has the code's numbers (docs/operating.md's table is generated).
func TestReadmeExitCodes(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "- **Exit codes**")
	if !ok {
		t.Fatal("README.md has no **Exit codes** guarantee")
	}
	line, _, _ := strings.Cut(rest, "\n- **")
	line = strings.Join(strings.Fields(line), " ")
	for _, want := range []string{
		fmt.Sprintf("%d success", exitOK), fmt.Sprintf("%d failure", exitFailure),
		fmt.Sprintf("%d usage error", exitUsage), fmt.Sprintf("%d interrupted", signalStatus(syscall.SIGINT)),
	} {
		if !strings.Contains(line, want) {
			t.Errorf("README.md's exit codes say %q, not %q", line, want)
		}
	}
}

// statedRetention matches the current tables' retention rules wherever the
// docs state them: "archived 30 days, others 90 days … closed 14 days,
// others 90 days" (README.md, docs/operating.md), or the rows of the
// retention table in docs/tables.md.
var (
	statedRetention = regexp.MustCompile(`archived\s+(\d+)\s+days,\s+others\s+(\d+)[\s\S]{0,80}?closed\s+(\d+)\s+days,\s+others\s+(\d+)\s+days`)
	retentionRow    = regexp.MustCompile("(?m)^\\| `(ocsf_)?findings_current`[^|]*\\| ([^|]+)\\| (\\d+) days")
)

// TestDocsRetention: the retention the docs state is current's default
// (fails with a rule changed in current.DefaultRetention or in the text).
func TestDocsRetention(t *testing.T) {
	r := current.DefaultRetention()
	days := func(d time.Duration) string { return strconv.Itoa(int(d / (24 * time.Hour))) }
	want := []string{days(r.Archived), days(r.Active), days(r.Closed), days(r.Active)}
	n := 0
	for _, d := range readDocs(t) {
		for _, m := range statedRetention.FindAllStringSubmatch(d.text, -1) {
			n++
			if got := m[1:5]; !slices.Equal(got, want) {
				t.Errorf("%s: states retention %v days (archived, active, closed, active); the code's is %v", d.file, got, want)
			}
		}
		for _, m := range retentionRow.FindAllStringSubmatch(d.text, -1) {
			n++
			rule, got := m[2], m[3]
			var w string
			switch {
			case strings.Contains(rule, "ARCHIVED"):
				w = days(r.Archived)
			case strings.Contains(rule, "Close"):
				w = days(r.Closed)
			default:
				w = days(r.Active)
			}
			if got != w {
				t.Errorf("%s: the retention table says %s days for %q; the code's is %s", d.file, got, strings.TrimSpace(rule), w)
			}
		}
	}
	if n < 6 {
		t.Errorf("only %d statements of the retention found (README, operating, four table rows): the patterns are broken", n)
	}
}

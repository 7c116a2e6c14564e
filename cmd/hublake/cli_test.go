package main

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/hublake/hublake/compact"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/stream"
)

// TestEnvNamesOneMeaning: across every command, one environment variable is
// one flag: the same name, type and choices (the defaults may differ:
// backfill and consume cut batches differently); the commands that are not
// lake commands read only names of their own.
func TestEnvNamesOneMeaning(t *testing.T) {
	var c cli
	k, err := kong.New(&c, flagDefaults(), envars("HUBLAKE"))
	if err != nil {
		t.Fatal(err)
	}
	type meaning struct{ flag, typ, enum string }
	seen := map[string]meaning{}
	where := map[string]string{}
	var walk func(n *kong.Node, path string)
	walk = func(n *kong.Node, path string) {
		if n.Type == kong.CommandNode {
			path = strings.TrimSpace(path + " " + n.Name)
		}
		own := map[string]string{"gen": "HUBLAKE_GEN_", "publish": "HUBLAKE_PUBLISH_", "ddl": "HUBLAKE_DDL_", "healthcheck": "HUBLAKE_HEALTHCHECK_"}
		for _, f := range n.Flags {
			for _, env := range f.Envs {
				if p, ok := own[path]; ok && !strings.HasPrefix(env, p) {
					t.Errorf("hublake %s --%s reads %s, not a name of its own (%s…)", path, f.Name, env, p)
				}
				m := meaning{f.Name, f.Target.Type().String(), f.Enum}
				if prev, ok := seen[env]; ok && prev != m {
					t.Errorf("%s is --%s (%s) of hublake %s and --%s (%s) of hublake %s", env, prev.flag, prev.typ, where[env], m.flag, m.typ, path)
				}
				seen[env], where[env] = m, path
			}
		}
		for _, child := range n.Children {
			walk(child, path)
		}
	}
	walk(k.Model.Node, "")
	if len(seen) < 40 {
		t.Errorf("only %d environment names: the walk missed flags", len(seen))
	}
}

func TestVersionOf(t *testing.T) {
	bi := func(v string, settings ...string) *debug.BuildInfo {
		b := &debug.BuildInfo{GoVersion: "go1.26.8"}
		b.Main.Version = v
		for i := 0; i+1 < len(settings); i += 2 {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return b
	}
	for _, c := range []struct {
		ldVersion, ldRevision string
		bi                    *debug.BuildInfo
		want                  string
	}{
		{"", "", bi("(devel)"), "hublake devel go1.26.8"},
		{"", "", bi("v1.4.0"), "hublake v1.4.0 go1.26.8"},
		{"", "", bi("v0.0.0-20261207172427-7ffac5cbe4ae+dirty", "vcs.revision", "7ffac5cbe4aeaec196553df2471899b1614f19d3", "vcs.modified", "true"),
			"hublake v0.0.0-20261207172427-7ffac5cbe4ae+dirty (revision 7ffac5cbe4aeaec196553df2471899b1614f19d3, modified) go1.26.8"},
		{"v2.0.0", "abc123", bi("(devel)", "vcs.revision", "ffff", "vcs.modified", "true"), "hublake v2.0.0 (revision abc123) go1.26.8"},
		{"", "", nil, "hublake devel " + runtime.Version()},
	} {
		if got := versionOf(c.ldVersion, c.ldRevision, c.bi).String(); got != c.want {
			t.Errorf("versionOf(%q, %q, %+v) = %q, want %q", c.ldVersion, c.ldRevision, c.bi, got, c.want)
		}
	}
}

// TestFlagDefaultsFromSpecs: the flags' defaults are the components' own
// (pipeline.DefaultPolicy, stream's and compact's Default* values), not
// copies of them.
func TestFlagDefaultsFromSpecs(t *testing.T) {
	parse := func(args ...string) *cli {
		t.Helper()
		var c cli
		k, err := kong.New(&c, flagDefaults(), envars("HUBLAKE"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Parse(args); err != nil {
			t.Fatal(err)
		}
		return &c
	}
	if got, want := parse("backfill", "x").Backfill.policy(), pipeline.DefaultPolicy(); got != want {
		t.Errorf("backfill's policy %+v, want pipeline.DefaultPolicy() %+v", got, want)
	}
	c := parse("consume", "--stream", "s", "--app", "a").Consume
	if c.ShardSync != stream.DefaultShardSync || c.LeaseDuration != stream.DefaultLeaseDuration || c.LeaseSync != stream.DefaultLeaseSync ||
		c.ShutdownTimeout != stream.DefaultShutdownTimeout || c.InitialPosition != stream.DefaultInitialPosition || c.FlushWindow != pipeline.DefaultStreamWindow {
		t.Errorf("consume's flags %+v are not stream's defaults", c)
	}
	k := parse("compact").Compact
	if k.OlderThan != compact.DefaultOlderThan || int64(k.TargetSize) != compact.DefaultTargetSize || k.LockTTL != compact.DefaultLockTTL ||
		k.DeleteGrace != compact.DefaultDeleteGrace || int64(k.SortBuffer) != compact.DefaultSortBuffer {
		t.Errorf("compact's flags %+v are not compact's defaults", k)
	}
}

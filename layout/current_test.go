package layout

import (
	"testing"

	"github.com/hublake/hublake/internal/hostile"
)

// TestCurrentKeys: the keys of the current-state tables are lake keys, and
// nothing near them is: another table, another name, a path out of the lake.
func TestCurrentKeys(t *testing.T) {
	t.Parallel()
	id := "0123456789abcdef0123456789abcdef"
	must := func(key string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	for _, c := range []struct{ got, want string }{
		{must(SymlinkManifestKey("findings")), "findings_current/_symlink_format_manifest/manifest"},
		{must(SnapshotObjectKey("ocsf_findings", id, 3)), "ocsf_findings_current/snapshot=" + id + "/part-0003.parquet"},
		{must(RefreshKey("findings", id)), "_hublake/current/findings/" + id + ".json"},
		{must(CurrentLockKey("ocsf_findings")), "_hublake/locks/current/ocsf_findings"},
	} {
		if c.got != c.want {
			t.Errorf("key %q, want %q", c.got, c.want)
		}
	}
	if got, ok := ParseSnapshotKey("findings", "findings_current/snapshot="+id+"/part-0000.parquet"); !ok || got != id {
		t.Errorf("ParseSnapshotKey: %q %v", got, ok)
	}
	if _, ok := ParseSnapshotKey("ocsf_findings", "findings_current/snapshot="+id+"/part-0000.parquet"); ok {
		t.Error("ParseSnapshotKey took another table's key")
	}
	for _, bad := range []string{
		"insight_results_current/_symlink_format_manifest/manifest", // no current table
		"findings_current/snapshot=" + id + "/part-0000.json",
		"findings_current/snapshot=" + id[:31] + "/part-0000.parquet",
		"findings_current/snapshot=" + id + "/../../x/part-0000.parquet",
		"findings_current/manifest",
		"findings_current/_symlink_format_manifest/other",
		"_hublake/current/insight_results/" + id + ".json",
		"_hublake/current/findings/" + id + ".json/x",
		"_hublake/locks/current/dead_letters",
	} {
		if CheckKey(bad) == nil {
			t.Errorf("CheckKey(%q) accepted it", bad)
		}
	}
	if _, err := SnapshotObjectKey("findings", "../x", 0); err == nil {
		t.Error("SnapshotObjectKey took a hostile id")
	}
	for _, k := range hostile.NameParts {
		if _, err := RefreshKey("findings", k); err == nil {
			t.Errorf("RefreshKey(%q) accepted it", k)
		}
	}
	for _, p := range []string{"findings_current/", "findings_current/snapshot=" + id + "/", "findings_current/_symlink_format_manifest/", "_hublake/current/ocsf_findings/"} {
		if err := CheckPrefix(p); err != nil {
			t.Errorf("CheckPrefix(%q): %v", p, err)
		}
	}
	for _, p := range []string{"findings_current/snapshot=" + id + "/", "findings_current/_symlink_format_manifest/"} {
		if !IsPartitionPrefix(p) {
			t.Errorf("IsPartitionPrefix(%q) = false", p)
		}
	}
	for _, p := range []string{"findings_current", "findings_current/x/", "_hublake/current/", "insight_results_current/", "findings_current/"} {
		if p != "findings_current/" && CheckPrefix(p) == nil {
			t.Errorf("CheckPrefix(%q) accepted it", p)
		}
		if IsPartitionPrefix(p) {
			t.Errorf("IsPartitionPrefix(%q) = true", p)
		}
	}
}

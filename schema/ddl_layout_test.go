package schema_test

import (
	"testing"

	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/schema"
)

// TestCurrentDDLMatchesLayout: the location the DDL gives a current table
// and the manifest readers open are where the refresh commits
// (layout.SymlinkManifestKey).
func TestCurrentDDLMatchesLayout(t *testing.T) {
	for _, table := range schema.CurrentTableNames() {
		key, err := layout.SymlinkManifestKey(table)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := schema.CurrentManifestURL("s3://b/lake", schema.CurrentName(table)), "s3://b/lake/"+key; got != want {
			t.Errorf("%s: the DDL's manifest %s, the refresh's %s", table, got, want)
		}
		if got, want := schema.CurrentName(table), layout.CurrentTable(table); got != want {
			t.Errorf("%s: current table %s in the DDL, %s in the layout", table, got, want)
		}
	}
}

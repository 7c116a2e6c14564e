package current

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hublake/hublake/layout"
)

// FuzzDecodeManifest: a refresh manifest, whatever its bytes, decodes to a
// manifest whose every key is a key of its own table (its snapshot's
// objects, its history's objects), or is refused; never a panic.
func FuzzDecodeManifest(f *testing.F) {
	id := "0123456789abcdef0123456789abcdef"
	good := manifest{Version: 1, ID: id, Table: "findings", State: stateCommitted, Committed: time.Unix(1, 0).UTC(),
		Objects: []object{{Key: "findings_current/snapshot=" + id + "/part-0000.parquet", Size: 1}},
		Folded:  map[string]map[string]string{"2026-11-01": {"a.parquet": `"0123"`}}}
	b, _ := json.Marshal(good)
	f.Add(b, "findings")
	f.Add([]byte(`{"version":1,"id":"`+id+`","table":"findings","state":"pending","objects":[{"key":"../x"}]}`), "findings")
	f.Add([]byte(`{"version":1,"id":"`+id+`","table":"findings","state":"done","committed":"2026-01-01T00:00:00Z","folded":{"../../x":{"a.parquet":"e"}}}`), "findings")
	f.Add([]byte(`{}`), "ocsf_findings")
	f.Fuzz(func(t *testing.T, b []byte, table string) {
		if table != "findings" && table != "ocsf_findings" {
			return
		}
		m, err := decodeManifest(b, layout.RefreshPrefix(table)+id+".json", table)
		if err != nil {
			return
		}
		if m.ID != id || m.Table != table {
			t.Fatalf("accepted a manifest of another refresh: %+v", m)
		}
		for _, o := range m.Objects {
			if err := layout.CheckKey(o.Key); err != nil {
				t.Fatalf("accepted object %q: %v", o.Key, err)
			}
			if got, ok := layout.ParseSnapshotKey(table, o.Key); !ok || got != id {
				t.Fatalf("accepted object %q of another snapshot", o.Key)
			}
		}
		for key := range m.folded() {
			if k, err := layout.ParseKey(key); err != nil || k.Table != table {
				t.Fatalf("accepted folded key %q", key)
			}
		}
	})
}

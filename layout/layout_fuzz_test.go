package layout

import (
	"strings"
	"testing"

	"github.com/hublake/hublake/internal/hostile"
	"github.com/hublake/hublake/schema"
)

// FuzzObjectKey: whatever a stream name, a shard id or a partition value
// holds, a key is either refused or a well-formed key inside its table and
// partition; a stream name and a shard id of Kinesis' lengths always make a
// valid name through SafeNamePart.
func FuzzObjectKey(f *testing.F) {
	for _, v := range hostile.NameParts {
		f.Add(v, "shardId-000000000000", v)
	}
	f.Add("securityhub-events", "shardId-000000000001", "2024-01-01")
	f.Fuzz(func(t *testing.T, stream, shard, dt string) {
		if len(stream) <= 128 && len(shard) <= 128 {
			name := SafeNamePart(stream) + "-" + SafeNamePart(shard) + "-49680664686265489273428101641233952911125403354508820482"
			if !ValidName(name) {
				t.Fatalf("SafeNamePart(%q), SafeNamePart(%q) make the invalid name %q", stream, shard, name)
			}
			if _, err := ObjectKey(schema.TableFindings, "2024-01-01", name); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range []string{stream, shard} {
			key, err := ObjectKey(schema.TableDeadLetters, dt, name)
			if err != nil {
				continue
			}
			if CheckKey(key) != nil || strings.Count(key, "/") != 2 || strings.Contains(key, "..") || !strings.HasPrefix(key, "dead_letters/dt="+dt+"/") {
				t.Fatalf("ObjectKey(dt=%q, name=%q) = %q", dt, name, key)
			}
		}
	})
}

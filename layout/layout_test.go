package layout

import (
	"strings"
	"testing"

	"github.com/hublake/hublake/internal/hostile"
	"github.com/hublake/hublake/schema"
)

func TestObjectKeyRefusesHostileParts(t *testing.T) {
	t.Parallel()
	for _, table := range []string{schema.TableFindings, schema.TableInsightResults, schema.TableDeadLetters} {
		for _, v := range hostile.NameParts {
			if key, err := ObjectKey(table, v, "name"); err == nil {
				t.Errorf("ObjectKey(%q, dt=%q) = %q, want an error", table, v, key)
			}
			if ValidName(v) {
				// A few hostile-looking values are plain names ("-x" is not);
				// they must still make a key that stays in the partition.
				key, err := ObjectKey(table, "2024-01-01", v)
				if err != nil || CheckKey(key) != nil || strings.Count(key, "/") != 2 {
					t.Errorf("ObjectKey(name=%q) = %q, %v: a valid name must make a valid key", v, key, err)
				}
				continue
			}
			if key, err := ObjectKey(table, "2024-01-01", v); err == nil {
				t.Errorf("ObjectKey(%q, name=%q) = %q, want an error", table, v, key)
			}
		}
	}
	for _, table := range []string{"", "..", "../findings", "findings/..", "findings/dt=2024-01-01", "other"} {
		if key, err := ObjectKey(table, "2024-01-01", "name"); err == nil {
			t.Errorf("ObjectKey(table=%q) = %q, want an error", table, key)
		}
	}
	if key, err := ObjectKey(schema.TableFindings, "2024-01-01", "stream-shardId-000000000000-4968"); err != nil || key != "findings/dt=2024-01-01/stream-shardId-000000000000-4968.parquet" {
		t.Errorf("a valid key: %q, %v", key, err)
	}
}

func TestCheckKeyRefusesHostileKeys(t *testing.T) {
	t.Parallel()
	for _, k := range hostile.Keys {
		if CheckKey(k) == nil {
			t.Errorf("CheckKey(%q) accepted it", k)
		}
	}
	for _, k := range []string{"findings/dt=2024-01-01/a.parquet", "dead_letters/dt=1970-01-01/x-0000000000012.jsonl.gz",
		"_hublake/absorbed/findings/dt=2024-01-01/a.parquet", "_hublake/locks/insight_results/dt=2024-01-01",
		"_hublake/compactions/dead_letters/dt=1970-01-01/0123456789abcdef0123456789abcdef.json"} {
		if err := CheckKey(k); err != nil {
			t.Errorf("CheckKey(%q): %v", k, err)
		}
	}
}

// TestSafeNamePart: stream names and shard ids become name parts through
// SafeNamePart; whatever they hold, the result is a valid name without a
// path separator or "..".
func TestSafeNamePart(t *testing.T) {
	t.Parallel()
	for _, v := range hostile.NameParts {
		got := SafeNamePart(v)
		if strings.ContainsAny(got, `/\.`) || got == "" {
			t.Errorf("SafeNamePart(%q) = %q", v, got)
		}
		name := got + "-" + SafeNamePart("shardId-000000000000") + "-49680664686265489273428101641233952911125403354508820482"
		if len(v) < 128 && !ValidName(name) {
			t.Errorf("SafeNamePart(%q) = %q does not make a valid object name", v, got)
		}
	}
}

package hostile

import "strings"

// The hostile parts of lake keys the stores and the layout refuse
// (SECURITY.md).

// NameParts are values an attacker can put where a partition value or a
// name part comes from: a finding's account or region, an event time, a
// stream name or a shard id, a file name.
var NameParts = []string{
	"../../x", "..", ".", "/", "a/b", "a/../../b", `a\b`, `..\..\x`, "/etc/passwd",
	"../../..", "2024-01-01/../..", "dt=2024-01-01/../../x", "a\x00b", "a\nb", " ",
	"", "-x", ".hidden", "a..b", "ü", "a b", "%2e%2e%2f", "x/", "/x", strings.Repeat("a", 300),
	"2024-01-01/x", "10000-01-01", "2024-13-01", "2024-01-1",
}

// Keys are whole lake keys that must never reach a store: paths out of the
// lake, hidden or nested names, unknown tables, malformed bookkeeping keys.
var Keys = []string{
	"", "/", "..", "findings", "findings/", "findings/dt=2024-01-01/",
	"../findings/dt=2024-01-01/a.parquet",
	"/findings/dt=2024-01-01/a.parquet",
	"findings/dt=2024-01-01/../../../etc/passwd",
	"findings/dt=2024-01-01/../../x.parquet",
	"findings/dt=2024-01-01/..",
	"findings/dt=2024-01-01/a/b.parquet",
	"findings/dt=2024-01-01/a/../b.parquet",
	"findings/dt=../../x/a.parquet",
	"findings/dt=2024-01-01/.hidden.parquet",
	"findings/dt=2024-01-01/a..parquet",
	`findings\dt=2024-01-01\a.parquet`,
	"findings/dt=2024-01-01/a.parquet\n",
	"findings/dt=2024-01-01/a.parquet\x00",
	"findings/dt=2024-01-01/a b.parquet",
	"findings//dt=2024-01-01/a.parquet",
	"other/dt=2024-01-01/a.parquet",
	"findings/dt=2024-1-01/a.parquet",
	"findings/dt=2024-01-01/ü.parquet",
	// Compaction's bookkeeping (layout/layout.go) has patterns as strict.
	"_hublake/absorbed/../x",
	"_hublake/absorbed/findings/dt=2024-01-01/../../x.parquet",
	"_hublake/absorbed/findings/dt=2024-01-01/.hidden.parquet",
	"_hublake/absorbed/findings/dt=2024-01-01/a/b.parquet",
	"_hublake/locks/findings/dt=2024-01-01/x",
	"_hublake/locks/other/dt=2024-01-01",
	"_hublake/compactions/findings/dt=2024-01-01/x.json",
	"_hublake/compactions/findings/dt=2024-01-01/0123456789abcdef0123456789abcdef.json/x",
	"_hublake/other/findings/dt=2024-01-01/x",
	"_hublake/",
	"x/_hublake/locks/findings/dt=2024-01-01",
}

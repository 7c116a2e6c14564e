package layout

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hublake/hublake/schema"
)

// The current-state tables (package current), one per finding table
// (schema.CurrentTables), each beside its history:
//
//	<root>/<table>_current/_symlink_format_manifest/manifest     the committed snapshot: its objects' URLs, one a line
//	<root>/<table>_current/snapshot=<id>/part-<kkkk>.parquet     a snapshot's objects
//
// and their bookkeeping, outside the tables:
//
//	<root>/_hublake/current/<table>/<id>.json                    a refresh's manifest
//	<root>/_hublake/locks/current/<table>                        the refresh's lock
//
// <id> is 32 hex digits (a digest of the refresh's inputs and settings).
// A refresh reads and writes nothing else but the history's objects and
// compaction's manifests (read only).

// CurrentTable returns the name of table's current-state table
// (findings_current).
func CurrentTable(table string) string { return table + schema.CurrentSuffix }

// SymlinkManifestKey returns the key of the object that lists the committed
// snapshot of table's current-state table (SymlinkTextInputFormat's
// manifest, which Athena reads at the table's location).
func SymlinkManifestKey(table string) (string, error) {
	key := CurrentTable(table) + "/" + SymlinkDir + "manifest"
	return key, CheckKey(key)
}

// SymlinkDir is the directory of the symlink manifest under a current
// table: the table's location in the DDL.
const SymlinkDir = "_symlink_format_manifest/"

// CurrentPrefix returns the prefix of table's current-state table.
func CurrentPrefix(table string) string { return CurrentTable(table) + "/" }

// SnapshotPrefix returns the prefix of snapshot id of table's current-state
// table.
func SnapshotPrefix(table, id string) string { return CurrentPrefix(table) + "snapshot=" + id + "/" }

// SnapshotObjectKey returns the key of the k-th object (from 0) of snapshot
// id (32 hex digits) of table's current-state table.
func SnapshotObjectKey(table, id string, k int) (string, error) {
	if !runPattern.MatchString(id) {
		return "", fmt.Errorf("invalid snapshot id %q", id)
	}
	key := fmt.Sprintf("%spart-%04d%s", SnapshotPrefix(table, id), k, ParquetExt)
	return key, CheckKey(key)
}

// ParseSnapshotKey returns the snapshot id of a key of a snapshot's object
// of table's current-state table.
func ParseSnapshotKey(table, key string) (id string, ok bool) {
	m := snapshotKeyPattern.FindStringSubmatch(key)
	if m == nil || m[1] != table {
		return "", false
	}
	return m[2], true
}

// RefreshPrefix returns the prefix of the refresh manifests of table.
func RefreshPrefix(table string) string { return MetaPrefix + "current/" + table + "/" }

// RefreshKey returns the key of the manifest of refresh id (32 hex digits)
// of table.
func RefreshKey(table, id string) (string, error) {
	if !runPattern.MatchString(id) {
		return "", fmt.Errorf("invalid refresh id %q", id)
	}
	key := RefreshPrefix(table) + id + ".json"
	return key, CheckKey(key)
}

// ParseRefreshKey returns the id of a refresh manifest's key of table.
func ParseRefreshKey(table, key string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(key, RefreshPrefix(table))
	if !ok {
		return "", false
	}
	id, ok = strings.CutSuffix(rest, ".json")
	return id, ok && runPattern.MatchString(id)
}

// CurrentLockKey returns the key of the lock of table's refresh.
func CurrentLockKey(table string) (string, error) {
	key := MetaPrefix + "locks/current/" + table
	return key, CheckKey(key)
}

func currentNames() string {
	var names []string
	for _, t := range schema.CurrentTableNames() {
		names = append(names, regexp.QuoteMeta(t))
	}
	return "(" + strings.Join(names, "|") + ")"
}

var (
	snapshotKeyPattern = regexp.MustCompile(`^` + currentNames() + regexp.QuoteMeta(schema.CurrentSuffix) + `/snapshot=([0-9a-f]{32})/part-[0-9]{4}\.parquet$`)
	// currentKeyPattern is what every key of a current-state table looks
	// like: its symlink manifest or an object of a snapshot.
	currentKeyPattern = regexp.MustCompile(`^` + currentNames() + regexp.QuoteMeta(schema.CurrentSuffix) + `/(` + regexp.QuoteMeta(SymlinkDir) + `manifest|snapshot=[0-9a-f]{32}/part-[0-9]{4}\.parquet)$`)
	// currentMetaPattern: a refresh's manifest or lock.
	currentMetaPattern = regexp.MustCompile(`^` + regexp.QuoteMeta(MetaPrefix) + `(current/` + currentNames() + `/[0-9a-f]{32}\.json|locks/current/` + currentNames() + `)$`)
	// currentPrefixPattern is what a refresh lists: a current-state table,
	// one of its snapshots or its manifest's directory (a directory
	// store's dead writers' temporary files), or the refresh manifests of a
	// table.
	currentPrefixPattern = regexp.MustCompile(`^(` + currentNames() + regexp.QuoteMeta(schema.CurrentSuffix) + `/(snapshot=[0-9a-f]{32}/|` + regexp.QuoteMeta(SymlinkDir) + `)?|` +
		regexp.QuoteMeta(MetaPrefix) + `current/` + currentNames() + `/)$`)
)

// isCurrentKey reports whether key is a key of a current-state table or of
// its bookkeeping.
func isCurrentKey(key string) bool {
	return currentKeyPattern.MatchString(key) || currentMetaPattern.MatchString(key)
}

// isCurrentDir reports whether prefix is a directory of a current-state
// table that holds objects (a snapshot, the manifest's directory).
func isCurrentDir(prefix string) bool {
	return currentPrefixPattern.MatchString(prefix) && (strings.Contains(prefix, "/snapshot=") || strings.HasSuffix(prefix, "/"+SymlinkDir))
}

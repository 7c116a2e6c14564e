// Package layout is where everything is in a lake, and nothing else: the
// keys of its objects and of compaction's bookkeeping, the names of batches,
// the checks that refuse any other key (this file), and the locations a
// command line names, a directory or s3://bucket/prefix (location.go). It
// does no I/O.
//
// Layout (docs/tables.md), every part of it decided in this file:
//
//	<root>/findings/dt=YYYY-MM-DD/<name>.parquet
//	<root>/insight_results/dt=YYYY-MM-DD/<name>.parquet
//	<root>/ocsf_findings/dt=YYYY-MM-DD/<name>.parquet
//	<root>/dead_letters/dt=YYYY-MM-DD/<name>.jsonl.gz
//
// and, outside the tables (Athena reads neither; a name starting with '_' is
// hidden from it anyway), the bookkeeping of compaction (package compact):
//
//	<root>/_hublake/absorbed/<table>/dt=YYYY-MM-DD/<name><ext>     an object a compaction absorbed
//	<root>/_hublake/compactions/<table>/dt=YYYY-MM-DD/<run>.json   a compaction's manifest
//	<root>/_hublake/compactions/<table>/dt=YYYY-MM-DD/<run>.rolled-back.json
//	                                                               a compaction rolled back
//	<root>/_hublake/locks/<table>/dt=YYYY-MM-DD                    a partition's compaction lock
//	<root>/_hublake/check/<id>                                     hublake check's probe, deleted at once
//
// The tables are schema.AllTableNames. <name> is derived from where the batch
// came from (stream, shard and first sequence number; or a digest of the
// input and the batch's first byte offset), never from a clock or a random
// id, so replaying the same input overwrites the same objects instead of
// adding copies.
//
// Every part of a key that comes from data is checked against a strict
// pattern here, and the stores check the finished key again: a finding that
// claims to be from account "../../x" cannot write outside the root.
package layout

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hublake/hublake/schema"
)

var (
	datePattern = regexp.MustCompile(`^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`)
	// namePattern admits what Kinesis allows in stream names and shard ids,
	// digits of sequence numbers and hex digests, joined by '-' or '_'.
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,250}$`)
)

// Extensions of the objects: Parquet for the queryable tables, gzipped JSON
// lines for dead letters.
const (
	ParquetExt    = ".parquet"
	DeadLetterExt = ".jsonl.gz"
)

// Extension returns the extension of table's objects ("" for no table).
func Extension(table string) string {
	if table == schema.TableDeadLetters {
		return DeadLetterExt
	}
	if _, ok := schema.Lookup(table); ok {
		return ParquetExt
	}
	return ""
}

// ContentType returns the Content-Type and Content-Encoding an object at key
// is stored with.
func ContentType(key string) (contentType, contentEncoding string) {
	switch {
	case strings.HasSuffix(key, ParquetExt):
		return "application/vnd.apache.parquet", ""
	case strings.HasSuffix(key, DeadLetterExt):
		return "application/x-ndjson", "gzip"
	}
	return "application/octet-stream", ""
}

// ValidName reports whether s may be an object name (or a part of one).
func ValidName(s string) bool {
	return namePattern.MatchString(s) && !strings.Contains(s, "..")
}

// ValidDate reports whether s is a dt partition value.
func ValidDate(s string) bool { return datePattern.MatchString(s) }

// SafeNamePart maps an arbitrary string (a stream name, a shard id) onto the
// name alphabet, so that it can be part of an object name. Kinesis names are
// already in it; anything else is replaced, never passed through. The result
// starts with a letter or digit, as object names must (Athena skips objects
// whose names start with '_' or '.'): a legal stream name like "_events" or
// ".events" becomes "x_events".
func SafeNamePart(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || out[0] == '_' || out[0] == '-' {
		out = "x" + out
	}
	return out
}

// StreamBatchName names the objects of a stream batch: the stream, the shard
// and the sequence number of the batch's first record.
func StreamBatchName(stream, shard, firstSequence string) string {
	return SafeNamePart(stream) + "-" + SafeNamePart(shard) + "-" + firstSequence
}

// FileBatchName names the objects of a file batch: the first 32 hex digits
// of the digest of the input up to the batch's end, and the batch's first
// byte offset (zero-padded, so names sort by offset).
func FileBatchName(digest string, firstOffset int64) string {
	return digest[:32] + "-" + FileOffset(firstOffset)
}

// FileOffset is a byte offset as file batch names and positions write it.
func FileOffset(offset int64) string { return fmt.Sprintf("%013d", offset) }

// PartitionPrefix returns the key prefix, relative to the lake root, of
// partition dt of table ("findings/dt=2024-01-01/").
func PartitionPrefix(table, dt string) string {
	return table + "/dt=" + dt + "/"
}

// ObjectKey returns the key, relative to the lake root, of the object called
// name in partition dt of table. It refuses anything that is not a known
// table, a valid date and a valid name.
func ObjectKey(table, dt, name string) (string, error) {
	ext := Extension(table)
	if ext == "" {
		return "", fmt.Errorf("unknown table %q", table)
	}
	if !ValidDate(dt) {
		return "", fmt.Errorf("invalid partition date %q", dt)
	}
	// A name ending in '.' would make ".." with the extension.
	if !ValidName(name) || strings.HasSuffix(name, ".") {
		return "", fmt.Errorf("invalid object name %q", name)
	}
	return PartitionPrefix(table, dt) + name + ext, nil
}

// keyPattern is what every table key a store accepts looks like: table,
// partition, file name. Stores check it again so that no code path can bypass
// ObjectKey.
var keyPattern = regexp.MustCompile(`^(` + strings.Join(tableNames(), "|") + `)/dt=[0-9]{4}-[0-9]{2}-[0-9]{2}/[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// metaKeyPattern is what every key of compaction's bookkeeping looks like
// (the layout above): an absorbed-name marker, a manifest or a lock, each of
// one partition of one table.
var metaKeyPattern = regexp.MustCompile(`^` + MetaPrefix + `(absorbed/(` + strings.Join(tableNames(), "|") + `)/dt=[0-9]{4}-[0-9]{2}-[0-9]{2}/[A-Za-z0-9][A-Za-z0-9_.-]*` +
	`|compactions/(` + strings.Join(tableNames(), "|") + `)/dt=[0-9]{4}-[0-9]{2}-[0-9]{2}/[0-9a-f]{32}(\.rolled-back)?\.json` +
	`|locks/(` + strings.Join(tableNames(), "|") + `)/dt=[0-9]{4}-[0-9]{2}-[0-9]{2}` +
	`|check/[0-9a-f]{32})$`)

// prefixPattern is what a listing may ask for: a table, a partition, or the
// markers or manifests of a table or of a partition.
var prefixPattern = regexp.MustCompile(`^(` + MetaPrefix + `(absorbed|compactions)/)?(` + strings.Join(tableNames(), "|") + `)/(dt=[0-9]{4}-[0-9]{2}-[0-9]{2}/)?$`)

func tableNames() []string {
	var names []string
	for _, t := range schema.AllTableNames() {
		names = append(names, regexp.QuoteMeta(t))
	}
	return names
}

// CheckKey returns an error unless key is a well-formed lake key: an object
// of a table, a key of compaction's bookkeeping under MetaPrefix, or a key
// of a current-state table or of its bookkeeping (current.go).
func CheckKey(key string) error {
	if !(keyPattern.MatchString(key) || metaKeyPattern.MatchString(key) || isCurrentKey(key)) || strings.Contains(key, "..") {
		return fmt.Errorf("refusing object key %q: not a lake key", key)
	}
	return nil
}

// checkTableKey returns an error unless key is a well-formed key of a
// table's object (not of compaction's bookkeeping).
func checkTableKey(key string) error {
	if err := CheckKey(key); err != nil || !keyPattern.MatchString(key) {
		return fmt.Errorf("refusing object key %q: not a table key", key)
	}
	return nil
}

// CheckPrefix returns an error unless prefix is one a store may list: a
// table, a partition (PartitionPrefix), the absorbed-name markers or the
// manifests of a table or a partition, or what a refresh of a current-state
// table lists (current.go).
func CheckPrefix(prefix string) error {
	if !(prefixPattern.MatchString(prefix) || currentPrefixPattern.MatchString(prefix)) || strings.Contains(prefix, "..") {
		return fmt.Errorf("refusing listing prefix %q: not a lake prefix", prefix)
	}
	return nil
}

// TempInfix is in the name of every temporary file of a directory store
// (dirlake): ".<name>.tmp-<random>", beside the object it becomes. Such a
// file is no object of the lake; the store's CleanTemp removes those that
// dead writers left.
const TempInfix = ".tmp-"

// IsTempName reports whether a file name is one of a directory store's
// temporary files.
func IsTempName(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, TempInfix)
}

// IsPartitionPrefix reports whether prefix is a partition's
// (PartitionPrefix), or a directory of a current-state table (a snapshot's,
// the symlink manifest's): a prefix CheckPrefix admits whose objects are
// table objects, where a directory store's writers leave temporary files.
func IsPartitionPrefix(prefix string) bool {
	return CheckPrefix(prefix) == nil && (keyPattern.MatchString(prefix+"x") || isCurrentDir(prefix))
}

// MetaPrefix is where compaction keeps its bookkeeping, outside the tables.
const MetaPrefix = "_hublake/"

// AbsorbedKey returns the key of the marker that records that a compaction
// absorbed the object at key (a table key): its rows are in a compacted
// object, so it must never be written again, and a copy of it that appears
// anyway is removed (see the package compact documentation). The marker
// lives outside the table, so that neither readers nor a listing of the
// table see it.
func AbsorbedKey(key string) (string, error) {
	if err := checkTableKey(key); err != nil {
		return "", err
	}
	return MetaPrefix + "absorbed/" + key, nil
}

// AbsorbedPrefix returns the prefix of the absorbed-name markers of
// partition dt of table.
func AbsorbedPrefix(table, dt string) string {
	return MetaPrefix + "absorbed/" + PartitionPrefix(table, dt)
}

// ManifestPrefix returns the prefix of the compaction manifests of
// partition dt of table.
func ManifestPrefix(table, dt string) string {
	return MetaPrefix + "compactions/" + PartitionPrefix(table, dt)
}

// ManifestKey returns the key of the manifest of compaction run (32 hex
// digits) of partition dt of table.
func ManifestKey(table, dt, run string) (string, error) {
	if !runPattern.MatchString(run) {
		return "", fmt.Errorf("invalid compaction run id %q", run)
	}
	key := ManifestPrefix(table, dt) + run + ".json"
	return key, CheckKey(key)
}

// RolledBackSuffix ends the key of a rolled-back compaction's record
// (RolledBackKey).
const RolledBackSuffix = ".rolled-back.json"

// RolledBackKey returns the key of the record that compaction run (32 hex
// digits) of partition dt of table was rolled back.
func RolledBackKey(table, dt, run string) (string, error) {
	if !runPattern.MatchString(run) {
		return "", fmt.Errorf("invalid compaction run id %q", run)
	}
	key := ManifestPrefix(table, dt) + run + RolledBackSuffix
	return key, CheckKey(key)
}

// LockKey returns the key of the compaction lock of partition dt of table.
func LockKey(table, dt string) (string, error) {
	key := MetaPrefix + "locks/" + table + "/dt=" + dt
	return key, CheckKey(key)
}

// ProbeKey returns the key of the object `hublake check` writes and deletes
// to prove that the lake is writable: _hublake/check/<id>, id 32 hex
// digits.
func ProbeKey(id string) (string, error) {
	key := MetaPrefix + "check/" + id
	return key, CheckKey(key)
}

var (
	runPattern       = regexp.MustCompile(`^[0-9a-f]{32}$`)
	compactedPattern = regexp.MustCompile(`^compacted-([0-9a-f]{32})-([0-9]{4})$`)
)

// CompactedName names the k-th output (from 0) of compaction run (32 hex
// digits, derived from the run's inputs): "compacted-<run>-<kkkk>". Batch
// names never look like this (stream batch names end in a sequence number
// after a shard id, file batch names are 32 hex digits and an offset).
func CompactedName(run string, k int) string {
	return fmt.Sprintf("compacted-%s-%04d", run, k)
}

// ParseCompactedName returns the run and index of a CompactedName.
func ParseCompactedName(name string) (run string, k int, ok bool) {
	m := compactedPattern.FindStringSubmatch(name)
	if m == nil {
		return "", 0, false
	}
	_, err := fmt.Sscanf(m[2], "%d", &k)
	return m[1], k, err == nil
}

// Key is a lake key taken apart.
type Key struct {
	Table, Date, Name string
}

// ParseKey takes a table key relative to the lake root apart, refusing
// anything ObjectKey would not have made (a hidden temporary file, an object
// of an unknown table or with the wrong extension, a key of compaction's
// bookkeeping).
func ParseKey(key string) (Key, error) {
	if err := checkTableKey(key); err != nil {
		return Key{}, err
	}
	table, rest, _ := strings.Cut(key, "/dt=")
	dt, file, _ := strings.Cut(rest, "/")
	ext := Extension(table)
	name, ok := strings.CutSuffix(file, ext)
	if !ok || !ValidDate(dt) || !ValidName(name) {
		return Key{}, fmt.Errorf("refusing object key %q: not a lake key", key)
	}
	return Key{Table: table, Date: dt, Name: name}, nil
}

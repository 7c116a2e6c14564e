package current

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
)

// A refresh's manifest is its durable record, written before anything else
// it writes, at layout.RefreshKey(table, id). Its state moves pending →
// committed → done; the next refresh rolls a pending one back and finishes
// a committed one. The committed manifest with the latest commit time is
// the current table's state: its snapshot's objects, and what of the
// history they hold (Folded).
type manifest struct {
	Version  int       `json:"version"`
	ID       string    `json:"id"`
	Table    string    `json:"table"`
	State    string    `json:"state"`
	Holder   string    `json:"holder"`
	Started  time.Time `json:"started"`
	AsOf     time.Time `json:"as_of"`
	Previous string    `json:"previous,omitempty"`
	Settings string    `json:"settings"`
	// Committed is when the manifest was committed.
	Committed time.Time `json:"committed,omitzero"`
	// Objects are the snapshot's objects (known once committed; a pending
	// refresh's are the objects under its snapshot's prefix).
	Objects []object `json:"objects,omitempty"`
	Rows    int64    `json:"rows"`
	// NextExpiry is when the first kept row expires (zero: none does): a
	// refresh with nothing new to read still runs from then on.
	NextExpiry time.Time `json:"next_expiry,omitzero"`
	// Folded are the history's objects the snapshot holds the rows of, by
	// partition: their names (object names are content-derived, so a name
	// seen is a content seen) and ETags, as the refresh's listing saw them.
	// An object written again under its name with other bytes (a replayed
	// batch that holds a logical duplicate more: docs/design.md, claim 9)
	// has another ETag and is read again.
	Folded map[string]map[string]string `json:"folded,omitempty"`

	key string
}

type object struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

const (
	statePending   = "pending"
	stateCommitted = "committed"
	stateDone      = "done"

	manifestVersion = 1
	// maxManifest bounds a manifest's size: the folded names of a lake of
	// about a million objects.
	maxManifest = 256 << 20
)

// refreshID derives a refresh's id from what determines its snapshot: the
// table, the settings, the previous snapshot, the clock retention is judged
// by, and the history objects read (key and size, in key order). A refresh
// done again with the same inputs writes the same names and bytes; a new
// one never takes its predecessor's id (the chain through Previous).
func refreshID(table, settings, previous string, asOf time.Time, inputs []object) string {
	h := sha256.New()
	fmt.Fprintf(h, "hublake current %d\n%s\n%s\n%s\n%s\n", manifestVersion, table, settings, previous, asOf.UTC().Format(time.RFC3339Nano))
	keys := slices.Clone(inputs)
	slices.SortFunc(keys, func(a, b object) int { return strings.Compare(a.Key, b.Key) })
	for _, in := range keys {
		fmt.Fprintf(h, "%s %d\n", in.Key, in.Size)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// decodeManifest decodes and validates the manifest stored at key for
// table: every key it names must be of this table's current table (its
// own snapshot) or history, so that acting on a damaged or planted
// manifest can never touch anything else.
func decodeManifest(b []byte, key, table string) (*manifest, error) {
	m := &manifest{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("refresh manifest %s: %w", key, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("refresh manifest %s: trailing data", key)
	}
	m.key = key
	if err := m.validate(table); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *manifest) validate(table string) error {
	if m.Version != manifestVersion {
		return fmt.Errorf("refresh manifest %s: version %d, want %d", m.key, m.Version, manifestVersion)
	}
	want, err := layout.RefreshKey(table, m.ID)
	if err != nil || want != m.key || m.Table != table {
		return fmt.Errorf("refresh manifest %s does not describe a refresh of %s", m.key, table)
	}
	switch m.State {
	case statePending, stateCommitted, stateDone:
	default:
		return fmt.Errorf("refresh manifest %s: unknown state %q", m.key, m.State)
	}
	if m.State != statePending && m.Committed.IsZero() {
		return fmt.Errorf("refresh manifest %s: %s without a commit time", m.key, m.State)
	}
	if m.Previous != "" {
		if _, err := layout.RefreshKey(table, m.Previous); err != nil {
			return fmt.Errorf("refresh manifest %s: previous %q: %w", m.key, m.Previous, err)
		}
	}
	for _, o := range m.Objects {
		if id, ok := layout.ParseSnapshotKey(table, o.Key); !ok || id != m.ID || layout.CheckKey(o.Key) != nil {
			return fmt.Errorf("refresh manifest %s: object %q is not one of its snapshot", m.key, o.Key)
		}
	}
	for dt, names := range m.Folded {
		for n := range names {
			k, err := layout.ParseKey(layout.PartitionPrefix(table, dt) + n)
			if err != nil || k.Table != table || k.Date != dt {
				return fmt.Errorf("refresh manifest %s: folded object %q of dt %q is not an object of %s", m.key, n, dt, table)
			}
		}
	}
	return nil
}

// folded returns the history keys m's snapshot holds, with their ETags.
func (m *manifest) folded() map[string]string {
	out := map[string]string{}
	if m == nil {
		return out
	}
	for dt, names := range m.Folded {
		for n, etag := range names {
			out[layout.PartitionPrefix(m.Table, dt)+n] = etag
		}
	}
	return out
}

// readManifest reads and validates the manifest at key.
func readManifest(ctx context.Context, lk objstore.Lake, key, table string) (*manifest, error) {
	b, err := objstore.ReadSmall(ctx, lk, key, maxManifest)
	if err != nil {
		return nil, err
	}
	return decodeManifest(b, key, table)
}

// write stores the manifest in its current state.
func (m *manifest) write(ctx context.Context, lk objstore.Lake) error {
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	if err := objstore.PutSmall(ctx, lk, m.key, append(b, '\n')); err != nil {
		return fmt.Errorf("write refresh manifest (%s): %w", m.State, err)
	}
	return nil
}

// foldedOf groups history keys (with their ETags) by partition.
func foldedOf(table string, keys map[string]string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		p, err := layout.ParseKey(k)
		if err != nil || p.Table != table {
			continue
		}
		if out[p.Date] == nil {
			out[p.Date] = map[string]string{}
		}
		out[p.Date][k[len(layout.PartitionPrefix(table, p.Date)):]] = keys[k]
	}
	return out
}

// symlinkBody is the symlink manifest of a snapshot: its objects' URLs,
// one a line.
func symlinkBody(lk objstore.Lake, objs []object) []byte {
	var b bytes.Buffer
	for _, o := range objs {
		b.WriteString(lk.URL(o.Key))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

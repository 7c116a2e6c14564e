package compact

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
)

// A manifest is a run's durable record, written before anything else the
// run writes, at layout.ManifestKey(table, dt, run). Its state moves
// pending → committed → done; recovery (the next run that takes the
// partition's lock) rolls a pending run back and a committed one forward. A
// run rolled back leaves a record of it instead, in state rolled-back at
// layout.RolledBackKey(table, dt, run), for rolledBackKeep: an output of the
// run that lands after its rollback (an upload a dead process had sent, held
// up on the way) is removed by whoever visits the partition meanwhile.
type manifest struct {
	Version int       `json:"version"`
	Run     string    `json:"run"`
	Table   string    `json:"table"`
	Date    string    `json:"dt"`
	State   string    `json:"state"`
	Holder  string    `json:"holder"`
	Started time.Time `json:"started"`
	Sort    []string  `json:"sort,omitempty"`
	Inputs  []object  `json:"inputs"`
	// Outputs are known once the run is committed; a pending run's outputs
	// are the objects named CompactedName(Run, k).
	Outputs []object `json:"outputs,omitempty"`
	Rows    int64    `json:"rows,omitempty"`
	// RolledBack is when a rolled-back run was rolled back.
	RolledBack time.Time `json:"rolled_back,omitzero"`

	key string // where it was read from or is written to
}

// object is an input or output of a run.
type object struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
	ETag string `json:"etag,omitempty"`
}

const (
	statePending   = "pending"
	stateCommitted = "committed"
	stateDone      = "done"
	// stateRolledBack: a rolled-back run's record (its own key).
	stateRolledBack = "rolled-back"

	manifestVersion = 1
)

// runID derives a run's id from what determines its outputs: the partition,
// the inputs (key and size, in key order), the sort keys and the settings
// that shape the files. The same inputs compacted the same way get the same
// id, hence the same output names and manifest key: a run that is rolled
// back and done again writes the same objects.
func runID(table, dt string, inputs []object, sortKeys []string, settings string) string {
	h := sha256.New()
	fmt.Fprintf(h, "hublake compaction %d\n%s\n%s\n%s\n%s\n", manifestVersion, table, dt, strings.Join(sortKeys, ","), settings)
	keys := slices.Clone(inputs)
	slices.SortFunc(keys, func(a, b object) int { return strings.Compare(a.Key, b.Key) })
	for _, in := range keys {
		fmt.Fprintf(h, "%s %d\n", in.Key, in.Size)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// validate refuses a manifest that does not describe a run of this
// partition: every key it names must be a key of this table and partition
// (outputs: of this run), so that acting on a damaged or planted manifest
// can never touch anything else.
func (m *manifest) validate(table, dt string) error {
	if m.Version != manifestVersion {
		return fmt.Errorf("manifest %s: version %d, want %d", m.key, m.Version, manifestVersion)
	}
	want, err := layout.ManifestKey(table, dt, m.Run)
	if m.State == stateRolledBack {
		want, err = layout.RolledBackKey(table, dt, m.Run)
	}
	if err != nil || want != m.key || m.Table != table || m.Date != dt {
		return fmt.Errorf("manifest %s does not describe a run of %s dt=%s", m.key, table, dt)
	}
	switch m.State {
	case statePending, stateCommitted, stateDone:
	case stateRolledBack:
		if len(m.Outputs) > 0 {
			return fmt.Errorf("manifest %s: a rolled-back run with outputs", m.key)
		}
	default:
		return fmt.Errorf("manifest %s: unknown state %q", m.key, m.State)
	}
	for _, in := range m.Inputs {
		k, err := layout.ParseKey(in.Key)
		if err != nil || k.Table != table || k.Date != dt {
			return fmt.Errorf("manifest %s: input %q is not an object of %s dt=%s", m.key, in.Key, table, dt)
		}
	}
	for _, out := range m.Outputs {
		k, err := layout.ParseKey(out.Key)
		if err != nil || k.Table != table || k.Date != dt {
			return fmt.Errorf("manifest %s: output %q is not an object of %s dt=%s", m.key, out.Key, table, dt)
		}
		if run, _, ok := layout.ParseCompactedName(k.Name); !ok || run != m.Run {
			return fmt.Errorf("manifest %s: output %q is not one of run %s", m.key, out.Key, m.Run)
		}
	}
	return nil
}

// readManifest reads and validates the manifest at key.
func readManifest(ctx context.Context, lk objstore.Lake, key, table, dt string) (*manifest, error) {
	b, err := objstore.ReadSmall(ctx, lk, key, 64<<20)
	if err != nil {
		return nil, err
	}
	m := &manifest{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", key, err)
	}
	m.key = key
	if err := m.validate(table, dt); err != nil {
		return nil, err
	}
	return m, nil
}

// write stores the manifest in its current state.
func (m *manifest) write(ctx context.Context, lk objstore.Lake) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := objstore.PutSmall(ctx, lk, m.key, append(b, '\n')); err != nil {
		return fmt.Errorf("write manifest (%s): %w", m.State, err)
	}
	return nil
}

// marker is the body of an absorbed-name marker: which run absorbed the
// object, for people (writers only check that the marker exists).
type marker struct {
	Run      string `json:"run"`
	Manifest string `json:"manifest"`
}

// RunInputs returns the inputs of compaction run of partition dt of table,
// key → ETag as the run listed it, when its manifest says it committed
// (committed or done): its outputs hold exactly the rows of these inputs. ok is false when there is
// no such manifest (the run is pending, rolled back, or forgotten). The
// current-state refresh uses it to skip outputs whose inputs it has read.
func RunInputs(ctx context.Context, lk objstore.Lake, table, dt, run string) (inputs map[string]string, ok bool, err error) {
	key, err := layout.ManifestKey(table, dt, run)
	if err != nil {
		return nil, false, err
	}
	m, err := readManifest(ctx, lk, key, table, dt)
	switch {
	case errors.Is(err, objstore.ErrNotExist):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	case m.State != stateCommitted && m.State != stateDone:
		return nil, false, nil
	}
	inputs = map[string]string{}
	for _, in := range m.Inputs {
		inputs[in.Key] = in.ETag
	}
	return inputs, true, nil
}

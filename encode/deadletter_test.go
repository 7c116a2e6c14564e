package encode

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hublake/hublake/schema"
)

// TestDeadLetterLineIsTheTable: the fields of a dead letter's JSON line are
// the columns of the dead_letters table (schema.DeadLetterColumns, which
// `hublake ddl` and the stack's Glue table declare), in order, each a string.
func TestDeadLetterLineIsTheTable(t *testing.T) {
	typ := reflect.TypeFor[DeadLetterLine]()
	var got []schema.Column
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Type.Kind() != reflect.String {
			t.Errorf("field %s is a %s; the table's columns are strings", f.Name, f.Type)
		}
		got = append(got, schema.Column{Name: name, Type: "string"})
	}
	if !reflect.DeepEqual(got, schema.DeadLetterColumns) {
		t.Errorf("DeadLetterLine's fields are %v, the dead_letters table's columns %v", got, schema.DeadLetterColumns)
	}
}

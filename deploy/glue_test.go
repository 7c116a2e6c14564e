package deploy

import (
	"bytes"
	"fmt"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"gopkg.in/yaml.v3"

	"github.com/hublake/hublake/deploy/internal/columns"
	"github.com/hublake/hublake/schema"
)

// glueTable returns the logical id of the AWS::Glue::Table named table.
func glueTable(t testing.TB, tpl *template, table string) string {
	t.Helper()
	for _, id := range tpl.resourcesOfType("AWS::Glue::Table") {
		if get(tpl.props(t, id), "TableInput", "Name") == table {
			return id
		}
	}
	t.Fatalf("no AWS::Glue::Table named %s", table)
	return ""
}

// TestGeneratedBlocksUpToDate: the text between the template's markers is
// what the generator writes now (`go generate ./deploy/` fixes it).
func TestGeneratedBlocksUpToDate(t *testing.T) {
	tpl := loadTemplate(t)
	fresh, err := columns.Rewrite(tpl.raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, tpl.raw) {
		t.Errorf("%s is stale: the generated Glue columns or queries differ from the schema package; run `go generate ./deploy/`", templatePath)
	}
}

// TestGlueColumns: each Glue table's columns are schema.Columns, column for
// column (the parsed template, not its text).
func TestGlueColumns(t *testing.T) {
	tpl := loadTemplate(t)
	if got, want := len(tpl.resourcesOfType("AWS::Glue::Table")), columns.GlueTables(); got != len(want) {
		t.Errorf("the template has %d Glue tables, want %d (%v)", got, len(want), want)
	}
	for _, table := range schema.DDLTables() {
		id := glueTable(t, tpl, table)
		cols, _ := get(tpl.props(t, id), "TableInput", "StorageDescriptor", "Columns").([]any)
		want := schema.Columns(table)
		for i := 0; i < len(cols) || i < len(want); i++ {
			var g, w schema.Column
			if i < len(cols) {
				g = schema.Column{Name: fmt.Sprint(get(cols[i], "Name")), Type: fmt.Sprint(get(cols[i], "Type"))}
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("%s column %d: the template has %q %q, schema.Columns has %q %q", table, i, g.Name, g.Type, w.Name, w.Type)
			}
		}
		// `hublake ddl --format cloudformation` prints the same list.
		out, err := exec.Command(staticBinary(t), "ddl", "--format", "cloudformation", "--table", table, "--location", "s3://example-bucket/p").Output()
		if err != nil {
			t.Fatalf("hublake ddl --format cloudformation --table %s: %v", table, err)
		}
		var ddl []any
		if err := yaml.Unmarshal(out, &ddl); err != nil {
			t.Fatalf("hublake ddl --format cloudformation: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(ddl, cols) {
			t.Errorf("%s: the template's columns differ from `hublake ddl --format cloudformation`", table)
		}
		keys, _ := get(tpl.props(t, id), "TableInput", "PartitionKeys").([]any)
		if !reflect.DeepEqual(keys, []any{map[string]any{"Name": "dt", "Type": "string"}}) {
			t.Errorf("%s partition keys = %v, want dt string", table, keys)
		}
	}
}

// TestGlueTableStorage: external tables at the lake's locations, in their
// format (Parquet; JSON lines for dead letters), with
// schema.PartitionProjection's properties.
func TestGlueTableStorage(t *testing.T) {
	tpl := loadTemplate(t)
	e := newEvaluator(t, tpl, nil)
	e.refs["LakeBucket"] = "example-bucket"
	root := "s3://example-bucket/" + e.params["LakePrefix"].(string)
	for _, table := range schema.DDLTables() {
		storage := schema.TableStorage(table)
		id := glueTable(t, tpl, table)
		in, err := e.eval(get(tpl.props(t, id), "TableInput"))
		if err != nil {
			t.Fatal(err)
		}
		if in := get(tpl.props(t, id), "DatabaseName"); !reflect.DeepEqual(in, map[string]any{"Ref": "GlueDatabase"}) {
			t.Errorf("%s is in database %v, want the stack's", table, in)
		}
		sd := get(in, "StorageDescriptor")
		checks := map[string][2]any{
			"TableType":            {get(in, "TableType"), "EXTERNAL_TABLE"},
			"Location":             {get(sd, "Location"), schema.TableLocation(root, table)},
			"InputFormat":          {get(sd, "InputFormat"), storage.InputFormat},
			"OutputFormat":         {get(sd, "OutputFormat"), storage.OutputFormat},
			"SerializationLibrary": {get(sd, "SerdeInfo", "SerializationLibrary"), storage.SerDe},
		}
		for what, c := range checks {
			if !reflect.DeepEqual(c[0], c[1]) {
				t.Errorf("%s %s = %v, want %v", table, what, c[0], c[1])
			}
		}
		params, _ := get(in, "Parameters").(map[string]any)
		got := map[string]string{}
		for k, v := range params {
			if k != "EXTERNAL" {
				got[k] = fmt.Sprint(v)
			}
		}
		if want := schema.PartitionProjection(root, table); !reflect.DeepEqual(got, want) {
			t.Errorf("%s table parameters\n  %v\nschema.PartitionProjection\n  %v", table, got, want)
		}
	}
}

// TestGlueCurrentTables: each current-state table is in Glue with its
// history table's columns (as `hublake ddl --format cloudformation --table
// <history>` prints them), no partition keys and no projection, read
// through its symlink manifest: schema.CurrentStorage at
// schema.CurrentTableLocation, the form `hublake ddl` prints.
func TestGlueCurrentTables(t *testing.T) {
	tpl := loadTemplate(t)
	e := newEvaluator(t, tpl, nil)
	e.refs["LakeBucket"] = "example-bucket"
	root := "s3://example-bucket/" + e.params["LakePrefix"].(string)
	storage := schema.CurrentStorage()
	for _, history := range schema.CurrentTableNames() {
		name := schema.CurrentName(history)
		id := glueTable(t, tpl, name)
		in, err := e.eval(get(tpl.props(t, id), "TableInput"))
		if err != nil {
			t.Fatal(err)
		}
		if db := get(tpl.props(t, id), "DatabaseName"); !reflect.DeepEqual(db, map[string]any{"Ref": "GlueDatabase"}) {
			t.Errorf("%s is in database %v, want the stack's", name, db)
		}
		cols, _ := get(in, "StorageDescriptor", "Columns").([]any)
		want := schema.Columns(history)
		if len(cols) != len(want) {
			t.Errorf("%s has %d columns, %s %d", name, len(cols), history, len(want))
		}
		for i := 0; i < len(cols) && i < len(want); i++ {
			if g := (schema.Column{Name: fmt.Sprint(get(cols[i], "Name")), Type: fmt.Sprint(get(cols[i], "Type"))}); g != want[i] {
				t.Errorf("%s column %d: %v, %s has %v", name, i, g, history, want[i])
			}
		}
		sd := get(in, "StorageDescriptor")
		for what, c := range map[string][2]any{
			"TableType":            {get(in, "TableType"), "EXTERNAL_TABLE"},
			"Location":             {get(sd, "Location"), schema.CurrentTableLocation(root, name)},
			"InputFormat":          {get(sd, "InputFormat"), storage.InputFormat},
			"OutputFormat":         {get(sd, "OutputFormat"), storage.OutputFormat},
			"SerializationLibrary": {get(sd, "SerdeInfo", "SerializationLibrary"), storage.SerDe},
			"PartitionKeys":        {get(in, "PartitionKeys"), nil},
			"Parameters":           {get(in, "Parameters"), map[string]any{"EXTERNAL": "TRUE", "classification": storage.Classification}},
		} {
			if !reflect.DeepEqual(c[0], c[1]) {
				t.Errorf("%s %s = %v, want %v", name, what, c[0], c[1])
			}
		}
		// `hublake ddl --format cloudformation --table <name>` prints them.
		out, err := exec.Command(staticBinary(t), "ddl", "--format", "cloudformation", "--table", name, "--location", "s3://example-bucket/p").Output()
		if err != nil {
			t.Fatalf("hublake ddl --format cloudformation --table %s: %v", name, err)
		}
		var ddl []any
		if err := yaml.Unmarshal(out, &ddl); err != nil || !reflect.DeepEqual(ddl, cols) {
			t.Errorf("%s: the template's columns differ from `hublake ddl --format cloudformation` (%v)", name, err)
		}
		// The DDL says the same (hublake ddl prints it).
		if ddl := schema.AthenaDDL(schema.DDLOptions{Location: root}); !strings.Contains(ddl, "LOCATION '"+schema.CurrentTableLocation(root, name)+"'") {
			t.Errorf("hublake ddl gives %s another location", name)
		}
	}
}

// sqlWords are the SQL keywords and functions the saved queries use; every
// other identifier must be a table, a view, an alias or a column.
var sqlWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`select from where and or not in is null as group by order desc asc limit
		count max min sum over partition row_number nulls last first date_format current_date interval day
		create replace view distinct having case when then else end union all coalesce upper
		cross join unnest transform filter array_max any_match regexp_replace arbitrary`) {
		sqlWords[w] = true
	}
}

var (
	sqlStringRE = regexp.MustCompile(`'(?:[^']|'')*'`)
	sqlIdentRE  = regexp.MustCompile(`"?([A-Za-z_][A-Za-z0-9_]*)"?`)
	// An alias: AS name, or AS name (column, ...) after UNNEST.
	sqlAliasRE = regexp.MustCompile(`(?i)\bAS\s+"?([A-Za-z_][A-Za-z0-9_]*)"?(?:\s*\(([^)]*)\))?`)
	// A lambda's parameter: v -> ...
	sqlLambdaRE = regexp.MustCompile(`\b([A-Za-z_][A-Za-z0-9_]*)\s*->`)
)

// fieldNames adds the names of every column and struct field of a Parquet
// node's children (saved queries read fields of structs: v.cve_uid).
func fieldNames(n parquet.Node, known map[string]bool) {
	for _, f := range n.Fields() {
		known[f.Name()] = true
		fieldNames(f, known)
	}
}

// TestNamedQueries: the saved queries exist, run in the stack's database and
// workgroup, the latest-state ones are schema.LatestViewQuery, and every
// column the others name is a column of the tables (so a schema change that
// breaks a query fails here, not in an analyst's console).
func TestNamedQueries(t *testing.T) {
	tpl := loadTemplate(t)
	known := map[string]bool{"dt": true}
	for _, table := range schema.TableNames() {
		known[table] = true
		fieldNames(schema.ParquetSchema(table), known)
	}
	known[schema.TableDeadLetters] = true
	for _, c := range schema.DeadLetterColumns {
		known[c.Name] = true
	}
	for _, v := range schema.Views() {
		known[v.Name] = true
	}
	for _, c := range schema.CurrentNames() {
		known[c] = true
	}
	for _, c := range schema.AllFindingsColumns {
		known[c.Name] = true
	}
	queries := map[string]string{}
	for _, id := range tpl.resourcesOfType("AWS::Athena::NamedQuery") {
		p := tpl.props(t, id)
		if !reflect.DeepEqual(p["Database"], map[string]any{"Ref": "GlueDatabase"}) || !reflect.DeepEqual(p["WorkGroup"], map[string]any{"Ref": "Workgroup"}) {
			t.Errorf("%s does not run in the stack's database and workgroup: %v %v", id, p["Database"], p["WorkGroup"])
		}
		q, ok := p["QueryString"].(string)
		if !ok {
			t.Errorf("%s: the query is not a literal string", id)
			continue
		}
		queries[id] = q
		body := sqlStringRE.ReplaceAllString(q, "''")
		aliases := map[string]bool{}
		for _, m := range sqlAliasRE.FindAllStringSubmatch(body, -1) {
			aliases[strings.ToLower(m[1])] = true
			for _, c := range strings.Split(m[2], ",") {
				aliases[strings.ToLower(strings.Trim(strings.TrimSpace(c), `"`))] = true
			}
		}
		for _, m := range sqlLambdaRE.FindAllStringSubmatch(body, -1) {
			aliases[strings.ToLower(m[1])] = true
		}
		for _, m := range sqlIdentRE.FindAllStringSubmatch(body, -1) {
			w := strings.ToLower(m[1])
			if !sqlWords[w] && !aliases[w] && !known[w] {
				t.Errorf("%s names %q, which is no column, table or alias of the lake", id, m[1])
			}
		}
	}
	// Every view has its SELECT and its CREATE VIEW saved, as generated.
	views := []struct{ view, selectID, createID, marker string }{
		{schema.LatestViewName, "LatestFindingsQuery", "CreateLatestViewQuery", "latest"},
		{schema.OCSFLatestViewName, "OcsfLatestFindingsQuery", "CreateOcsfLatestViewQuery", "ocsf-latest"},
		{schema.AllFindingsViewName, "AllFindingsQuery", "CreateAllFindingsViewQuery", "findings-all"},
		{schema.AllCurrentViewName, "AllCurrentFindingsQuery", "CreateAllCurrentFindingsViewQuery", "findings-all-current"},
	}
	if len(views) != len(schema.Views()) {
		t.Errorf("the test knows %d views, schema.Views has %d", len(views), len(schema.Views()))
	}
	for _, v := range views {
		for id, w := range map[string]string{v.selectID: columns.Queries[v.marker](), v.createID: columns.Queries["create-"+v.marker+"-view"]()} {
			if queries[id] != w {
				t.Errorf("%s is not the query of the view %s (in Athena's quoting):\n%s\nwant\n%s", id, v.view, queries[id], w)
			}
		}
		if !strings.HasPrefix(queries[v.createID], `CREATE OR REPLACE VIEW "`+v.view+`" AS`) {
			t.Errorf("%s does not create the view %s", v.createID, v.view)
		}
	}
	if !strings.Contains(columns.Queries["latest"](), "ORDER BY updated_at DESC NULLS LAST") {
		t.Error("the latest-state query does not order by updated_at")
	}
	// "What is open now" reads the current tables, not the history.
	for id, table := range map[string]string{"OpenCriticalHighByAccountQuery": schema.FindingsCurrentName, "OcsfOpenCriticalByAccountQuery": schema.OCSFFindingsCurrentName} {
		if !strings.Contains(queries[id], "FROM "+table+"\n") {
			t.Errorf("%s does not read %s:\n%s", id, table, queries[id])
		}
	}
	for _, id := range []string{"OpenCriticalHighByAccountQuery", "CustomActionFindingsQuery", "InsightResultsOverTimeQuery",
		"OcsfOpenCriticalByAccountQuery", "OcsfFailedControlsByStandardQuery", "OcsfExploitableWithFixQuery", "DeadLettersByReasonQuery"} {
		if queries[id] == "" {
			t.Errorf("no saved query %s", id)
		}
	}
	for id, q := range queries {
		if strings.Contains(q, "`") {
			t.Errorf("%s quotes with backticks, which Athena's SQL engine rejects", id)
		}
	}

	// The workgroup keeps its results encrypted in a location of its own.
	e := newEvaluator(t, tpl, nil)
	e.refs["LakeBucket"] = "example-bucket"
	wg, err := e.eval(tpl.props(t, "Workgroup"))
	if err != nil {
		t.Fatal(err)
	}
	rc := get(wg, "WorkGroupConfiguration", "ResultConfiguration")
	if loc, _ := get(rc, "OutputLocation").(string); !strings.HasPrefix(loc, "s3://example-bucket/athena-results/") {
		t.Errorf("the workgroup's results go to %q", loc)
	}
	if get(rc, "EncryptionConfiguration", "EncryptionOption") != "SSE_KMS" || get(rc, "EncryptionConfiguration", "KmsKey") != "<Key.Arn>" {
		t.Errorf("the workgroup's results are not encrypted with the key: %v", get(rc, "EncryptionConfiguration"))
	}
	if get(wg, "WorkGroupConfiguration", "EnforceWorkGroupConfiguration") != true {
		t.Error("the workgroup does not enforce its results location")
	}
}

// TestEveryTableIsReadableAndExpires: analysts may read the objects of every
// table of the lake, the dead letters and the current tables included (they
// query why records failed; SECURITY.md), and of nothing else under it (not
// compaction's or the refresh's bookkeeping), and TableRetentionDays
// expires every Parquet table of the history (dead letters have
// DeadLetterRetentionDays) and never a current table: its committed
// snapshot may be older than any retention (a refresh with nothing new
// writes nothing), and the refresh alone deletes its objects.
func TestEveryTableIsReadableAndExpires(t *testing.T) {
	tpl := loadTemplate(t)
	e := newEvaluator(t, tpl, map[string]string{"TableRetentionDays": "365"})
	e.refs["LakeBucket"] = "example-bucket"
	e.attrs["LakeBucket.Arn"] = "arn:aws:s3:::example-bucket"
	prefix := e.params["LakePrefix"].(string)
	policy, err := e.eval(get(tpl.props(t, "AnalystPolicy"), "PolicyDocument"))
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, st := range get(policy, "Statement").([]any) {
		if get(st, "Sid") == "ReadTheTables" {
			for _, r := range get(st, "Resource").([]any) {
				read = append(read, fmt.Sprint(r))
			}
		}
	}
	var want []string
	for _, table := range columns.GlueTables() {
		want = append(want, "arn:aws:s3:::example-bucket/"+prefix+"/"+table+"/*")
	}
	if !reflect.DeepEqual(read, want) {
		t.Errorf("analysts read %v, want the tables' objects %v", read, want)
	}
	bucket, err := e.eval(tpl.props(t, "LakeBucket"))
	if err != nil {
		t.Fatal(err)
	}
	expires := map[string]bool{}
	for _, r := range get(bucket, "LifecycleConfiguration", "Rules").([]any) {
		if p, ok := get(r, "Prefix").(string); ok && get(r, "ExpirationInDays") != nil {
			expires[p] = true
		}
	}
	for _, table := range schema.TableNames() {
		if !expires[prefix+"/"+table+"/"] {
			t.Errorf("TableRetentionDays does not expire %s (lifecycle prefixes %v)", table, expires)
		}
	}
	for _, c := range schema.CurrentNames() {
		manifest := schema.CurrentManifestURL(prefix, c)
		for p := range expires {
			if strings.HasPrefix(manifest, p) || strings.HasPrefix(prefix+"/_hublake/current/", p) {
				t.Errorf("the lifecycle rule of %s expires the current table %s or its refresh manifests", p, c)
			}
		}
	}
}

// Command duckref is the benchmark's reference: DuckDB doing what
// `hublake backfill` does on a corpus of newline-delimited EventBridge
// events — read_json, flatten ASFF findings, OCSF findings (Findings
// Imported V2) and insight results, drop duplicate deliveries with the same
// key and scope (per file: detail-type, action ARN and a hash of the
// finding; insight results by detail and position), and COPY to
// Hive-partitioned zstd Parquet by dt. It is a development tool (cgo) used
// by `make bench`, for the corpus `hublake gen` writes by default (no bad
// units; every V2 finding is OCSF, every other finding ASFF).
//
// The query is written for speed, as a fair reference should be: the event
// is parsed once into a STRUCT whose findings stay JSON text (the raw
// finding), each finding is parsed once more by json_transform, duplicates
// are found with DuckDB's 64-bit hash() (hublake uses SHA-256; a collision
// would show up as a count mismatch), and raw_detail is the detail
// re-serialized from that STRUCT rather than its exact bytes. Of the copies
// of a key it keeps the earliest event's (ORDER BY the event time): hublake
// keeps the first in input order, and the generated corpus is in time order.
// Without it DISTINCT ON keeps any copy, and a finding a custom action
// re-sends weeks later can land in the later event's partition.
//
//	go run ./internal/tools/duckref -in corpus -out lake-duckdb -threads 2
package main

import (
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// findingSpec is the typed view of an ASFF finding that json_transform
// reads (one parse per finding); the raw text is kept beside it.
const findingSpec = `{
 "SchemaVersion":"VARCHAR","Id":"VARCHAR","ProductArn":"VARCHAR","ProductName":"VARCHAR","CompanyName":"VARCHAR",
 "GeneratorId":"VARCHAR","AwsAccountId":"VARCHAR","Region":"VARCHAR","Types":"VARCHAR[]",
 "CreatedAt":"VARCHAR","UpdatedAt":"VARCHAR","FirstObservedAt":"VARCHAR","LastObservedAt":"VARCHAR","ProcessedAt":"VARCHAR",
 "Severity":{"Label":"VARCHAR","Normalized":"INTEGER","Original":"VARCHAR"},
 "Title":"VARCHAR","Description":"VARCHAR","RecordState":"VARCHAR","Workflow":{"Status":"VARCHAR"},
 "Compliance":{"Status":"VARCHAR","SecurityControlId":"VARCHAR","RelatedRequirements":"VARCHAR[]"},
 "Remediation":{"Recommendation":{"Text":"VARCHAR","Url":"VARCHAR"}},
 "Resources":[{"Type":"VARCHAR","Id":"VARCHAR","Partition":"VARCHAR","Region":"VARCHAR","Tags":"MAP(VARCHAR, VARCHAR)","Details":"JSON"}],
 "ProductFields":"MAP(VARCHAR, VARCHAR)","UserDefinedFields":"MAP(VARCHAR, VARCHAR)"
}`

// ocsfSpec is the typed view of an OCSF finding that json_transform reads.
const ocsfSpec = `{
 "activity_id":"INTEGER","activity_name":"VARCHAR","category_name":"VARCHAR","category_uid":"INTEGER",
 "class_name":"VARCHAR","class_uid":"INTEGER","comment":"VARCHAR","confidence_score":"INTEGER",
 "cloud":{"account":{"uid":"VARCHAR"},"provider":"VARCHAR","region":"VARCHAR"},
 "compliance":{"control":"VARCHAR","requirements":"VARCHAR[]","standards":"VARCHAR[]","status":"VARCHAR","status_id":"INTEGER"},
 "evidences":"JSON",
 "finding_info":{"created_time":"BIGINT","created_time_dt":"VARCHAR","desc":"VARCHAR","first_seen_time":"BIGINT","first_seen_time_dt":"VARCHAR",
   "last_seen_time":"BIGINT","last_seen_time_dt":"VARCHAR","modified_time":"BIGINT","modified_time_dt":"VARCHAR","title":"VARCHAR","types":"VARCHAR[]","uid":"VARCHAR"},
 "metadata":{"product":{"feature":{"name":"VARCHAR"},"name":"VARCHAR","uid":"VARCHAR","vendor_name":"VARCHAR"},"profiles":"VARCHAR[]","uid":"VARCHAR","version":"VARCHAR"},
 "remediation":{"desc":"VARCHAR","references":"VARCHAR[]"},
 "resources":[{"cloud_partition":"VARCHAR","data":"JSON","name":"VARCHAR","owner":{"account":{"uid":"VARCHAR"}},"region":"VARCHAR",
   "tags":[{"name":"VARCHAR","value":"VARCHAR"}],"type":"VARCHAR","uid":"VARCHAR","uid_alt":"VARCHAR"}],
 "severity":"VARCHAR","severity_id":"INTEGER","status":"VARCHAR","status_id":"INTEGER","time":"BIGINT","time_dt":"VARCHAR",
 "type_name":"VARCHAR","type_uid":"BIGINT","unmapped":"JSON",
 "vulnerabilities":[{"affected_packages":[{"architecture":"VARCHAR","fixed_in_version":"VARCHAR","name":"VARCHAR","package_manager":"VARCHAR","version":"VARCHAR"}],
   "cve":{"cvss":[{"base_score":"DOUBLE","vector_string":"VARCHAR"}],"epss":{"score":"VARCHAR"},"title":"VARCHAR","uid":"VARCHAR"},
   "fix_coverage":"VARCHAR","is_exploit_available":"BOOLEAN","is_fix_available":"BOOLEAN","references":"VARCHAR[]","severity":"VARCHAR","title":"VARCHAR"}]
}`

// ocsfTime is the SQL of an OCSF timestamp: epoch milliseconds, else the
// _dt twin.
func ocsfTime(attr string) string {
	return "coalesce(to_timestamp(" + attr + " / 1000.0), TRY_CAST(" + attr + "_dt AS TIMESTAMPTZ))"
}

func main() {
	in := flag.String("in", "corpus", "directory of NDJSON event files")
	out := flag.String("out", "lake-duckdb", "output lake directory")
	threads := flag.Int("threads", 2, "DuckDB threads")
	flag.Parse()
	if err := run(*in, *out, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "duckref:", err)
		os.Exit(1)
	}
}

func run(in, out string, threads int) error {
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	glob := filepath.ToSlash(filepath.Join(in, "*.json*"))
	quote := strings.NewReplacer("\n", "", "'", "''")
	spec, ocsf := quote.Replace(findingSpec), quote.Replace(ocsfSpec)
	start := time.Now()
	stmts := []string{
		fmt.Sprintf("SET threads = %d", threads),
		"SET preserve_insertion_order = false",
		`CREATE TEMP TABLE ev AS SELECT filename, id AS event_id, "detail-type" AS detail_type, account, "time" AS t, region, resources, detail
		 FROM read_json('` + glob + `', format = 'newline_delimited', filename = true, maximum_object_size = 104857600,
		   columns = {'id': 'VARCHAR', 'detail-type': 'VARCHAR', 'source': 'VARCHAR', 'account': 'VARCHAR', 'time': 'VARCHAR',
		              'region': 'VARCHAR', 'resources': 'VARCHAR[]',
		              'detail': 'STRUCT(actionName VARCHAR, actionDescription VARCHAR, findings JSON[], insightArn VARCHAR, insightName VARCHAR, resultType VARCHAR, "number of results" VARCHAR, insightResults MAP(VARCHAR, VARCHAR)[])'})
		 WHERE source = 'aws.securityhub'`,
		`COPY (
		  WITH f AS (
		    SELECT filename, event_id, detail_type, account, t, region, resources,
		      detail.actionName AS action_name, detail.actionDescription AS action_description,
		      list_filter(resources, r -> r LIKE '%:action/custom/%')[1] AS action_arn,
		      unnest(detail.findings) AS finding
		    FROM ev WHERE detail_type IN ('Security Hub Findings - Imported', 'Security Hub Findings - Custom Action')
		  ), d AS (
		    SELECT DISTINCT ON (filename, detail_type, coalesce(action_arn, ''), hash(finding::VARCHAR)) * FROM f ORDER BY filename, detail_type, coalesce(action_arn, ''), hash(finding::VARCHAR), t
		  ), x AS (SELECT *, json_transform(finding, '` + spec + `') AS j FROM d)
		  SELECT event_id, CAST(t AS TIMESTAMPTZ) AS event_time, detail_type AS event_detail_type, region AS event_region,
		    account AS event_account, resources AS event_resources, action_name, action_description, action_arn,
		    j.Id AS id, j.ProductArn AS product_arn, coalesce(j.ProductName, j.ProductFields['aws/securityhub/ProductName']) AS product_name,
		    coalesce(j.CompanyName, j.ProductFields['aws/securityhub/CompanyName']) AS company_name, j.GeneratorId AS generator_id,
		    j.AwsAccountId AS aws_account_id, j.Region AS region, j.SchemaVersion AS schema_version, j.Types AS types,
		    TRY_CAST(j.CreatedAt AS TIMESTAMPTZ) AS created_at, TRY_CAST(j.UpdatedAt AS TIMESTAMPTZ) AS updated_at,
		    TRY_CAST(j.FirstObservedAt AS TIMESTAMPTZ) AS first_observed_at, TRY_CAST(j.LastObservedAt AS TIMESTAMPTZ) AS last_observed_at,
		    TRY_CAST(j.ProcessedAt AS TIMESTAMPTZ) AS processed_at, j.Severity.Label AS severity_label,
		    j.Severity.Normalized AS severity_normalized, j.Severity.Original AS severity_original, j.Title AS title,
		    j.Description AS description, j.RecordState AS record_state, j.Workflow.Status AS workflow_status,
		    j.Compliance.Status AS compliance_status, j.Compliance.SecurityControlId AS compliance_security_control_id,
		    j.Compliance.RelatedRequirements AS compliance_related_requirements,
		    j.Remediation.Recommendation.Text AS remediation_text, j.Remediation.Recommendation.Url AS remediation_url,
		    j.Resources[1].Type AS resource_type, j.Resources[1].Id AS resource_id, j.Resources[1].Region AS resource_region,
		    list_transform(j.Resources, r -> r.Type) AS resource_types, list_transform(j.Resources, r -> r.Id) AS resource_ids,
		    list_transform(j.Resources, r -> {'type': r.Type, 'id': r.Id, 'partition': r.Partition, 'region': r.Region, 'tags': r.Tags, 'details_json': r.Details::VARCHAR}) AS resources,
		    j.ProductFields AS product_fields, j.UserDefinedFields AS user_defined_fields,
		    finding::VARCHAR AS raw_finding, 'file:' || filename AS source,
		    strftime(CAST(t AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m-%d') AS dt
		  FROM x
		) TO '` + filepath.ToSlash(filepath.Join(out, "findings")) + `' (FORMAT parquet, PARTITION_BY (dt), COMPRESSION zstd)`,
		`COPY (
		  WITH i AS (
		    SELECT filename, event_id, account, t, region, detail, list_filter(resources, r -> r LIKE '%:action/custom/%')[1] AS action_arn,
		      detail.insightResults AS results, to_json(detail)::VARCHAR AS raw_detail
		    FROM ev WHERE detail_type = 'Security Hub Insight Results'
		  ), r AS (
		    SELECT *, unnest(results) AS res, unnest(range(len(results))) AS idx FROM i
		  ), d AS (
		    SELECT DISTINCT ON (filename, hash(raw_detail), idx) * FROM r ORDER BY filename, hash(raw_detail), idx, t
		  )
		  SELECT event_id, CAST(t AS TIMESTAMPTZ) AS event_time, region AS event_region, account AS event_account,
		    detail.actionName AS action_name, detail.actionDescription AS action_description, action_arn,
		    detail.insightArn AS insight_arn, detail.insightName AS insight_name, detail.resultType AS result_type,
		    CAST(idx AS INTEGER) AS result_index, map_keys(res)[1] AS result_value,
		    TRY_CAST(map_values(res)[1] AS BIGINT) AS result_count, detail."number of results" AS number_of_results,
		    raw_detail, 'file:' || filename AS source,
		    strftime(CAST(t AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m-%d') AS dt
		  FROM d
		) TO '` + filepath.ToSlash(filepath.Join(out, "insight_results")) + `' (FORMAT parquet, PARTITION_BY (dt), COMPRESSION zstd)`,
		`COPY (
		  WITH f AS (
		    SELECT filename, event_id, detail_type, account, t, region, resources, unnest(detail.findings) AS finding,
		      unnest(range(len(detail.findings))) AS finding_index
		    FROM ev WHERE detail_type = 'Findings Imported V2'
		  ), d AS (
		    SELECT DISTINCT ON (filename, detail_type, hash(finding::VARCHAR)) * FROM f ORDER BY filename, detail_type, hash(finding::VARCHAR), t
		  ), x AS (SELECT *, json_transform(finding, '` + ocsf + `') AS j FROM d)
		  SELECT event_id, CAST(t AS TIMESTAMPTZ) AS event_time, detail_type AS event_detail_type, region AS event_region,
		    account AS event_account, resources AS event_resources, CAST(finding_index AS INTEGER) AS finding_index,
		    j.metadata.uid AS metadata_uid, j.finding_info.uid AS finding_uid, j.metadata.product.uid AS product_uid,
		    j.metadata.product.name AS product_name, j.metadata.product.vendor_name AS vendor_name,
		    j.metadata.product.feature.name AS product_feature, j.metadata.version AS ocsf_version, j.metadata.profiles AS profiles,
		    j.class_uid, j.category_uid, j.activity_id, j.class_name, j.category_name, j.activity_name, j.type_name, j.type_uid,
		    coalesce(j.severity, ['Unknown', 'Informational', 'Low', 'Medium', 'High', 'Critical', 'Fatal'][j.severity_id + 1]) AS severity,
		    j.severity_id, j.status, j.status_id, j.confidence_score,
		    j.finding_info.title AS title, j.finding_info.desc AS description, j.finding_info.types AS types,
		    ` + ocsfTime("j.time") + ` AS "time", ` + ocsfTime("j.finding_info.created_time") + ` AS created_time,
		    ` + ocsfTime("j.finding_info.modified_time") + ` AS modified_time, ` + ocsfTime("j.finding_info.first_seen_time") + ` AS first_seen_time,
		    ` + ocsfTime("j.finding_info.last_seen_time") + ` AS last_seen_time,
		    j.cloud.provider AS cloud_provider, j.cloud.account.uid AS account_uid, j.cloud.region AS region,
		    j.compliance.control AS compliance_control, j.compliance.status AS compliance_status, j.compliance.status_id AS compliance_status_id,
		    j.compliance.standards AS compliance_standards, j.compliance.requirements AS compliance_requirements,
		    j.remediation.desc AS remediation_desc, j.remediation.references AS remediation_references,
		    j.resources[1].type AS resource_type, j.resources[1].uid AS resource_uid, j.resources[1].region AS resource_region,
		    list_transform(j.resources, r -> r.type) AS resource_types, list_transform(j.resources, r -> r.uid) AS resource_uids,
		    list_transform(j.resources, r -> {'type': r.type, 'uid': r.uid, 'uid_alt': r.uid_alt, 'name': r.name, 'region': r.region,
		      'cloud_partition': r.cloud_partition, 'owner_account_uid': r.owner.account.uid,
		      'tags': map_from_entries(list_transform(list_filter(r.tags, g -> g.name IS NOT NULL), g -> {'key': g.name, 'value': coalesce(g.value, '')})),
		      'data_json': r.data::VARCHAR}) AS resources,
		    list_transform(j.vulnerabilities, v -> {'cve_uid': v.cve.uid, 'title': coalesce(v.title, v.cve.title), 'severity': v.severity,
		      'cvss_base_score': list_sort(v.cve.cvss, 'DESC')[1].base_score, 'cvss_vector': list_sort(v.cve.cvss, 'DESC')[1].vector_string,
		      'epss_score': TRY_CAST(v.cve.epss.score AS DOUBLE), 'is_fix_available': v.is_fix_available,
		      'is_exploit_available': v.is_exploit_available, 'fix_coverage': v.fix_coverage, 'affected_packages': v.affected_packages,
		      'references': v.references}) AS vulnerabilities,
		    j.comment, j.evidences::VARCHAR AS evidences_json, j.unmapped::VARCHAR AS unmapped_json,
		    finding::VARCHAR AS raw_finding, 'file:' || filename AS source,
		    strftime(CAST(t AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m-%d') AS dt
		  FROM x WHERE j.metadata.uid IS NOT NULL OR j.finding_info.uid IS NOT NULL
		) TO '` + filepath.ToSlash(filepath.Join(out, "ocsf_findings")) + `' (FORMAT parquet, PARTITION_BY (dt), COMPRESSION zstd)`,
	}
	for _, s := range stmts {
		t0 := time.Now()
		if _, err := db.Exec(s); err != nil {
			return fmt.Errorf("%.60s…: %w", strings.TrimSpace(s), err)
		}
		if os.Getenv("DUCKREF_TIMING") != "" {
			fmt.Fprintf(os.Stderr, "%6.2fs  %.50s\n", time.Since(t0).Seconds(), strings.Join(strings.Fields(s), " "))
		}
	}
	fmt.Fprintf(os.Stderr, "duckref: %s in %.2fs\n", in, time.Since(start).Seconds())
	return nil
}

package pqconform

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// WriteEdgeCorpus writes, into dir, a file of Security Hub events whose
// findings test what a Parquet file says about its values, and returns its
// path. All of them are dated within the day before end. They hold:
//   - text that is not ASCII next to text that is (where signed and unsigned
//     byte order differ), text longer than a ColumnIndex bound with a
//     multi-byte character at the cut, 4-byte characters;
//   - extreme numbers: 0 and 100 severities, epoch 0 and year 9999 times,
//     EPSS 0, -0.0, the smallest and largest doubles, int32 extremes;
//   - timestamps inside optional structs and list elements;
//   - optional text absent, empty ("" is NULL too) and present in the
//     pattern parquet-go's null-bitmap scan got wrong (3 absent, 3 present,
//     absent to the end of a 64-value word), across findings and across the
//     elements of a long list of vulnerabilities, in an event's first
//     finding and in later ones.
func WriteEdgeCorpus(t testing.TB, dir string, end time.Time) string {
	t.Helper()
	day := end.Add(-12 * time.Hour).UTC()
	ts := func(d time.Duration) string { return day.Add(d).Format("2006-01-02T15:04:05.000Z") }
	long := strings.Repeat("x", 61) + "é" + strings.Repeat("ü", 30)
	texts := []string{"Ω-Überprüfung", "plain title", "日本語のタイトル", long, "\U0001F600 emoji", "Zürich", "a"}
	doubles := []float64{0, math.Copysign(0, -1), math.SmallestNonzeroFloat64, math.MaxFloat64, 0.5, 1}
	pattern := func(i int) bool { return i%64 >= 3 && i%64 < 6 }
	var lines []string
	n := 0
	finding := func(i int) map[string]any {
		id := fmt.Sprintf("arn:aws:securityhub:eu-west-1:111122223333:subscription/edge/finding/%04d-%s", i, texts[i%len(texts)])
		f := map[string]any{
			"SchemaVersion": "2018-10-08", "Id": id,
			"ProductArn":  "arn:aws:securityhub:eu-west-1::product/aws/securityhub",
			"ProductName": "Security Hub", "CompanyName": "AWS",
			"GeneratorId":  "edge/" + texts[(i+1)%len(texts)],
			"AwsAccountId": "111122223333", "Region": "eu-west-1",
			"Types":       []string{"Software and Configuration Checks"},
			"CreatedAt":   []string{"1970-01-01T00:00:00.000Z", ts(0), "9999-12-31T23:59:59.999Z"}[i%3],
			"UpdatedAt":   ts(time.Duration(i) * time.Second),
			"Severity":    map[string]any{"Label": []string{"INFORMATIONAL", "CRITICAL"}[i%2], "Normalized": []int{0, 100}[i%2]},
			"Confidence":  []int{0, 100}[i%2],
			"Title":       texts[i%len(texts)],
			"Description": texts[(i+2)%len(texts)] + " " + long,
			"Resources":   []any{map[string]any{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::bücket-" + fmt.Sprint(i%5), "Region": "eu-west-1", "Partition": "aws"}},
			"RecordState": "ACTIVE", "Workflow": map[string]any{"Status": "NEW"},
			"Compliance": map[string]any{"Status": "FAILED", "SecurityControlId": []string{"S3.1", "Ü.2", "EC2.2"}[i%3]},
		}
		if pattern(i) {
			f["Note"] = map[string]any{"Text": "note " + texts[i%len(texts)], "UpdatedBy": []string{"edge", "édge"}[i%2], "UpdatedAt": ts(0)}
			f["SourceUrl"] = "https://example.com/" + fmt.Sprint(i)
		} else if i%5 == 0 {
			f["SourceUrl"] = "" // empty is NULL too
		}
		if i%4 == 1 {
			f["Process"] = map[string]any{"Name": "proc", "Pid": math.MaxInt32, "LaunchedAt": ts(-time.Hour), "TerminatedAt": ts(-time.Minute)}
			f["Network"] = map[string]any{"Direction": "IN", "SourcePort": 0, "DestinationPort": 65535}
			f["ThreatIntelIndicators"] = []any{map[string]any{"Type": "IPV4_ADDRESS", "Value": "10.0.0.1", "LastObservedAt": ts(-2 * time.Hour)}}
		}
		if i%3 == 0 {
			var vulns []any
			k := 1
			if i%6 == 0 {
				k = 70 // a long list, holding the pattern in its elements after the first
			}
			for j := range k {
				v := map[string]any{
					"Id":        fmt.Sprintf("CVE-2024-%04d", j),
					"Vendor":    map[string]any{"Name": "NVD", "VendorCreatedAt": ts(-24 * time.Hour), "VendorUpdatedAt": ts(-time.Hour)},
					"Cvss":      []any{map[string]any{"Version": "3.1", "BaseScore": doubles[j%len(doubles)], "BaseVector": "AV:N"}},
					"EpssScore": doubles[(i+j)%len(doubles)],
					"VulnerablePackages": []any{map[string]any{"Name": "pkg", "Version": "1.0"}, map[string]any{"Name": "pkg2"},
						map[string]any{"Name": "pkg3", "Epoch": "0"}, map[string]any{"Name": "pkg4"}, map[string]any{"Name": "pkg5"}},
				}
				if pattern(j - 1) {
					v["Vendor"].(map[string]any)["Url"] = "https://nvd.example/" + fmt.Sprint(j)
					v["FixAvailable"] = "YES"
				}
				vulns = append(vulns, v)
			}
			f["Vulnerabilities"] = vulns
		}
		return f
	}
	// Events of 1, 7 and 64 findings, so that patterns fall at the start of
	// batches and within them.
	for _, size := range []int{1, 7, 64, 64, 7, 1, 64, 100, 1} {
		var fs []any
		for range size {
			fs = append(fs, finding(n))
			n++
		}
		ev := map[string]any{
			"version": "0", "id": fmt.Sprintf("edge-%d-%s", n, texts[n%len(texts)]),
			"detail-type": "Security Hub Findings - Imported", "source": "aws.securityhub",
			"account": "111122223333", "time": ts(time.Duration(n) * time.Second), "region": "eu-west-1",
			"resources": []string{"arn:aws:securityhub:eu-west-1::product/aws/securityhub/" + fmt.Sprint(n)},
			"detail":    map[string]any{"findings": fs},
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	path := filepath.Join(dir, "edge.jsonl")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

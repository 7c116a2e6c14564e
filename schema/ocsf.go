package schema

import (
	"bytes"
	"cmp"
	"math"
	"strconv"
	"time"
)

// This file is the part of the Open Cybersecurity Schema Framework (OCSF)
// that hublake reads into the typed columns of ocsf_findings: the findings
// the Security Hub launched in 2025 sends as "Findings Imported V2" events
// and GetFindingsV2 returns (OCSF 1.5 to 1.9 seen in the wild; classes 2002
// Vulnerability, 2003 Compliance, 2004 Detection and 2006 Data Security
// Finding share these attributes). As with ASFF it is a subset: whatever no
// column names (evidences and unmapped aside, which are columns as JSON
// text) is skipped and survives in raw_finding, so versions and classes
// hublake does not know are rows like any other.
//
// Real producers send every *_time as integer epoch milliseconds beside a
// *_dt RFC 3339 twin; some send only the twin, some numbers as strings
// (epss.score), ids as numbers. The tolerant types of flex.go and
// Timestamp below read all of that; a value of a type no column can
// hold is NULL in the row (Output.Unreadable counts it).

type ocsfFinding struct {
	ActivityID      Int              `json:"activity_id"`
	ActivityName    string           `json:"activity_name"`
	CategoryName    string           `json:"category_name"`
	CategoryUID     Int              `json:"category_uid"`
	ClassName       string           `json:"class_name"`
	ClassUID        Int              `json:"class_uid"`
	Cloud           ocsfCloud        `json:"cloud"`
	Comment         string           `json:"comment"`
	Compliance      ocsfCompliance   `json:"compliance"`
	ConfidenceScore Int              `json:"confidence_score"`
	Evidences       RawJSON          `json:"evidences"`
	FindingInfo     *ocsfFindingInfo `json:"finding_info"`
	Finding         *ocsfFindingInfo `json:"finding"` // OCSF 1.0 Security Finding (class 2001)
	Metadata        ocsfMetadata     `json:"metadata"`
	Remediation     ocsfRemediation  `json:"remediation"`
	Resources       []ocsfResource   `json:"resources"`
	Resource        *ocsfResource    `json:"resource"` // OCSF 1.1–1.2 compliance and vulnerability findings
	Severity        string           `json:"severity"`
	SeverityID      Int              `json:"severity_id"`
	State           string           `json:"state"`    // OCSF 1.0 Security Finding's workflow status
	StateID         Int              `json:"state_id"` // and its id
	Status          string           `json:"status"`
	StatusID        Int              `json:"status_id"`
	Time            Timestamp        `json:"time"`
	TimeDt          string           `json:"time_dt"`
	// EventTime is no OCSF attribute: Prowler 4.0–4.4 wrote the finding's
	// time there (a naive ISO string) and no time.
	EventTime       Timestamp  `json:"event_time"`
	TypeName        string     `json:"type_name"`
	TypeUID         Int        `json:"type_uid"`
	Unmapped        RawJSON    `json:"unmapped"`
	Vulnerabilities []ocsfVuln `json:"vulnerabilities"`
}

type ocsfCloud struct {
	Account struct {
		UID Text `json:"uid"`
	} `json:"account"`
	AccountUID Text   `json:"account_uid"` // OCSF 1.0.0-rc.2's account.uid
	Provider   string `json:"provider"`
	Region     string `json:"region"`
}

type ocsfCompliance struct {
	Control      string   `json:"control"`
	Requirements []string `json:"requirements"`
	Standards    []string `json:"standards"`
	Status       string   `json:"status"`
	StatusID     Int      `json:"status_id"`
}

// ocsfFindingInfo is finding_info, or the finding object of OCSF 1.0's
// Security Finding (the same attributes, and its remediation).
type ocsfFindingInfo struct {
	CreatedTime     Timestamp       `json:"created_time"`
	CreatedTimeDt   string          `json:"created_time_dt"`
	Desc            string          `json:"desc"`
	FirstSeenTime   Timestamp       `json:"first_seen_time"`
	FirstSeenTimeDt string          `json:"first_seen_time_dt"`
	LastSeenTime    Timestamp       `json:"last_seen_time"`
	LastSeenTimeDt  string          `json:"last_seen_time_dt"`
	ModifiedTime    Timestamp       `json:"modified_time"`
	ModifiedTimeDt  string          `json:"modified_time_dt"`
	Remediation     ocsfRemediation `json:"remediation"` // OCSF 1.0's finding only
	Title           string          `json:"title"`
	Types           []string        `json:"types"`
	UID             Text            `json:"uid"`
}

// info is the finding's finding_info, else (OCSF 1.0) its finding object,
// else an empty one.
func (f *ocsfFinding) info() *ocsfFindingInfo {
	switch {
	case f.FindingInfo != nil:
		return f.FindingInfo
	case f.Finding != nil:
		return f.Finding
	}
	return &ocsfFindingInfo{}
}

// time is the finding's time: time, else its time_dt twin, else (Prowler
// 4.0–4.4, which wrote no time) event_time.
func (f *ocsfFinding) time() time.Time {
	return cmp.Or(f.Time.at(f.TimeDt), f.EventTime.T)
}

// resources is the finding's resources, else (OCSF 1.1–1.2 compliance and
// vulnerability findings) its one resource.
func (f *ocsfFinding) resources() []ocsfResource {
	if len(f.Resources) == 0 && f.Resource != nil {
		return []ocsfResource{*f.Resource}
	}
	return f.Resources
}

type ocsfMetadata struct {
	Product struct {
		Feature struct {
			Name string `json:"name"`
			UID  Text   `json:"uid"`
		} `json:"feature"`
		Name       string `json:"name"`
		UID        Text   `json:"uid"`
		VendorName string `json:"vendor_name"`
	} `json:"product"`
	Profiles []string `json:"profiles"`
	UID      Text     `json:"uid"`
	Version  string   `json:"version"`
}

type ocsfRemediation struct {
	Desc       string   `json:"desc"`
	References []string `json:"references"`
	KBArticles []string `json:"kb_articles"` // OCSF 1.0's references
}

type ocsfResource struct {
	CloudPartition string  `json:"cloud_partition"`
	Data           RawJSON `json:"data"`
	Details        RawJSON `json:"details"` // OCSF 1.0.0-rc.2's data (a string)
	Name           string  `json:"name"`
	Owner          struct {
		Account struct {
			UID Text `json:"uid"`
		} `json:"account"`
	} `json:"owner"`
	Region string    `json:"region"`
	Tags   []ocsfTag `json:"tags"`
	Type   string    `json:"type"`
	UID    Text      `json:"uid"`
	UIDAlt Text      `json:"uid_alt"`
}

// ocsfTag is one element of a resource's tags (OCSF's key_value_object);
// value may be missing.
type ocsfTag struct {
	Name  Text `json:"name"`
	Value Text `json:"value"`
}

type ocsfVuln struct {
	AffectedPackages   []ocsfPackage `json:"affected_packages"`
	Packages           []ocsfPackage `json:"packages"` // OCSF 1.0's affected_packages
	CVE                ocsfCVE       `json:"cve"`
	FixAvailable       Bool          `json:"fix_available"` // OCSF 1.0's is_fix_available
	FixCoverage        string        `json:"fix_coverage"`
	IsExploitAvailable Bool          `json:"is_exploit_available"`
	IsFixAvailable     Bool          `json:"is_fix_available"`
	References         []string      `json:"references"`
	Severity           string        `json:"severity"`
	Title              string        `json:"title"`
}

type ocsfCVE struct {
	CVSS ocsfCVSSList `json:"cvss"`
	EPSS struct {
		Score Float `json:"score"`
	} `json:"epss"`
	Title string `json:"title"`
	UID   string `json:"uid"`
}

// ocsfCVSS is one CVSS score of a CVE.
type ocsfCVSS struct {
	BaseScore    Float  `json:"base_score"`
	VectorString string `json:"vector_string"`
}

// ocsfCVSSList is cve.cvss: an array, or (OCSF 1.0) one object.
type ocsfCVSSList []ocsfCVSS

// UnmarshalJSON implements json.Unmarshaler and never returns an error:
// what cannot be read is left out (and survives in raw_finding).
func (l *ocsfCVSSList) UnmarshalJSON(b []byte) error {
	*l = nil
	switch firstByte(b) {
	case '{':
		var one ocsfCVSS
		_ = jsonAPI.Unmarshal(b, &one)
		*l = ocsfCVSSList{one}
	case '[':
		var many []ocsfCVSS
		_ = jsonAPI.Unmarshal(b, &many)
		*l = many
	}
	return nil
}

type ocsfPackage struct {
	Architecture   string `json:"architecture"`
	FixedInVersion string `json:"fixed_in_version"`
	Name           string `json:"name"`
	PackageManager string `json:"package_manager"`
	Version        string `json:"version"`
}

// at returns the time of an OCSF timestamp: the *_time attribute when it is
// a time, else its *_dt twin (RFC 3339 with up to nine fraction digits).
func (ts Timestamp) at(dt string) time.Time {
	if !ts.T.IsZero() {
		return ts.T
	}
	t, _ := ParseTime(dt)
	return t
}

// Format of a finding, decided by its own keys (findingFormat).
type findingFormat uint8

const (
	formatASFF findingFormat = iota
	formatOCSF
)

// formatOf returns the format of the finding object b: the format named by
// the first of its top-level keys that belongs to one of them (class_uid,
// finding_info or metadata: OCSF; SchemaVersion or ProductArn: ASFF), else
// dflt (the format of the container: OCSF in a "Findings Imported V2" event,
// ASFF elsewhere). It reads keys and skips values without decoding them, and
// stops at the first telling key, which comes early in both formats (ASFF
// starts with SchemaVersion; AWS writes OCSF keys in alphabetical order).
// Malformed input gives dflt, whose decoder then says what is wrong.
func formatOf(b []byte, dflt findingFormat) findingFormat {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return dflt
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return dflt
		}
		end := stringEnd(b, i)
		if end < 0 {
			return dflt
		}
		key := b[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			s, err := strconv.Unquote(string(b[i:end]))
			if err != nil {
				return dflt
			}
			key = []byte(s)
		}
		switch string(key) {
		case "class_uid", "finding_info", "metadata":
			return formatOCSF
		case "SchemaVersion", "ProductArn":
			return formatASFF
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return dflt
		}
		if i = valueEnd(b, i+1); i < 0 {
			return dflt
		}
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ',' {
			return dflt
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
			continue
		}
		break
	}
	return i
}

// stringEnd returns the index after the JSON string that starts at b[i]
// (a '"'), or -1 when it does not end.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index after the JSON value that starts at or after
// b[i], or -1 when it does not end. Objects and arrays are skipped by
// counting brackets outside strings (no recursion: nesting depth costs
// nothing); it does not validate.
func valueEnd(b []byte, i int) int {
	i = skipSpace(b, i)
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				if i = stringEnd(b, i); i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for ; i < len(b); i++ { // a number, true, false or null
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
	}
	return i
}

// ocsfFinding flattens one OCSF finding into an ocsf_findings row, or
// dead-letters it: a row needs a key (metadata.uid or finding_info.uid) and
// a date (the event's time, else the finding's time, else its
// finding_info.modified_time).
func (d *decoderState) ocsfFinding(raw []byte, index int, ec *eventContext) {
	var f ocsfFinding
	if err := d.decode(raw, &f); err != nil {
		d.dead(raw, ec.Time, "OCSF finding %d: invalid JSON: %s", index, jsonError(err))
		return
	}
	fi := f.info()
	at := f.time()
	modified := fi.ModifiedTime.at(fi.ModifiedTimeDt)
	when := ec.Time
	if !ec.TimeOK {
		when = at
		if when.IsZero() {
			when = modified
		}
	}
	if f.Metadata.UID == "" && fi.UID == "" {
		d.dead(raw, when, "OCSF finding %d has neither metadata.uid nor finding_info.uid (nor OCSF 1.0's finding.uid)", index)
		return
	}
	dt, ok := PartitionDate(when, d.origin.NotAfter)
	if !ok {
		const outside = "is outside the partition range"
		switch {
		case ec.TimeOK:
			d.dead(raw, when, "OCSF finding %d: event time %s "+outside, index, when.Format(time.RFC3339))
		case !at.IsZero():
			d.dead(raw, when, "OCSF finding %d: no event time and time %s "+outside, index, when.Format(time.RFC3339))
		case !modified.IsZero():
			d.dead(raw, when, "OCSF finding %d: no event time or time, and finding_info.modified_time %s "+outside, index, when.Format(time.RFC3339))
		default:
			d.dead(raw, when, "OCSF finding %d: no usable date (neither event time, time, Prowler 4's event_time nor finding_info.modified_time parses)", index)
		}
		return
	}
	row := flattenOCSF(&f, raw, at, modified)
	row.EventID = ec.ID
	row.EventTime = ec.Time
	row.EventDetailType = ec.DetailType
	row.EventRegion = ec.Region
	row.EventAccount = ec.Account
	row.EventResources = ec.Resources
	row.FindingIndex = int32(index)
	row.Source = d.origin.Source
	row.Date = dt
	d.out.OCSF = append(d.out.OCSF, row)
}

// OCSFSeverity is the caption of an OCSF severity_id (the same table in
// every finding class): 0 Unknown, 1 Informational, 2 Low, 3 Medium, 4 High,
// 5 Critical, 6 Fatal, 99 Other; "" for any other value.
func OCSFSeverity(id int64) string {
	switch id {
	case 0:
		return "Unknown"
	case 1:
		return "Informational"
	case 2:
		return "Low"
	case 3:
		return "Medium"
	case 4:
		return "High"
	case 5:
		return "Critical"
	case 6:
		return "Fatal"
	case 99:
		return "Other"
	}
	return ""
}

// highestCVSS returns the highest base score of a CVE's CVSS entries and
// the vector of the first entry with that score.
func highestCVSS(c *ocsfCVE) (*float64, string) {
	best, vector := math.Inf(-1), ""
	for _, s := range c.CVSS {
		if s.BaseScore.Valid && s.BaseScore.V > best {
			best, vector = s.BaseScore.V, s.VectorString
		}
	}
	if math.IsInf(best, -1) {
		return nil, ""
	}
	return &best, vector
}

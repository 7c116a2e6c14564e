package schema

import (
	"strings"
	"time"

	"github.com/bytedance/sonic"
)

// EventBridge detail-types that Security Hub sends (see the seed page of the
// Security Hub user guide; the OCSF one from the Security Hub launched in
// 2025), and the kind used for findings that arrive without an envelope.
const (
	DetailImported     = "Security Hub Findings - Imported"
	DetailCustomAction = "Security Hub Findings - Custom Action"
	DetailInsight      = "Security Hub Insight Results"
	// DetailImportedV2 carries one OCSF finding in detail.findings.
	DetailImportedV2 = "Findings Imported V2"
	KindBackfill     = "backfill"

	// EventSource is the only EventBridge source hublake accepts.
	EventSource = "aws.securityhub"
)

// jsonAPI decodes ASFF and envelopes. Field names are matched case-sensitively
// (ASFF's "Id" and the envelope's "id" are different fields), strings are not
// copied (rows point into the unit's bytes) and skipped values are validated.
var jsonAPI = sonic.Config{CaseSensitive: true}.Froze()

// envelope is the union of the top-level shapes a unit can have: an
// EventBridge event (detail-type, detail), a {"Findings": [...]} document
// (get-findings and get-findings-v2 output, BatchImportFindings input; also
// {"findings": [...]}, an event's detail saved alone), a Cloud Custodian
// placebo recording of one (status_code, data) or a bare ASFF or OCSF
// finding (none of these keys). Case-sensitive matching
// keeps them apart. A bare OCSF finding's own time and resources do not fit
// the envelope's types: the decoder reports a mismatch, which object()
// tolerates, and they are read again as the finding's.
type envelope struct {
	Version    string          `json:"version"`
	ID         Text            `json:"id"`
	DetailType *string         `json:"detail-type"`
	Source     string          `json:"source"`
	Account    Text            `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     *findingsDetail `json:"detail"`
	Findings   []RawJSON       `json:"Findings"`
	// FindingsLower is "findings": an EventBridge detail saved on its own
	// (a Lambda that logs event["detail"]), DefectDojo's import format.
	FindingsLower []RawJSON `json:"findings"`
	// StatusCode and Data are a Cloud Custodian placebo recording of an
	// API call: {"status_code": 200, "data": <the boto3 response>}.
	StatusCode Int     `json:"status_code"`
	Data       RawJSON `json:"data"`
}

// findingsDocument is a {"Findings": [...]} document (or {"findings":
// [...]}) inside a placebo recording.
type findingsDocument struct {
	Findings      []RawJSON `json:"Findings"`
	FindingsLower []RawJSON `json:"findings"`
}

// findings is the document's findings array: Findings, else findings (the
// one that is not empty when both are sent); nil when it has neither.
func (d *findingsDocument) findings() []RawJSON {
	if len(d.Findings) == 0 && d.FindingsLower != nil {
		return d.FindingsLower
	}
	return d.Findings
}

// rawEnvelope reads an event's detail as sent.
type rawEnvelope struct {
	Detail RawJSON `json:"detail"`
}

// findingsDetail is the detail of the findings detail-types (both ASFF ones
// and Findings Imported V2).
type findingsDetail struct {
	ActionName        string    `json:"actionName"`
	ActionDescription string    `json:"actionDescription"`
	Findings          []RawJSON `json:"findings"`
}

// insightDetail is the detail of a "Security Hub Insight Results" event.
type insightDetail struct {
	ActionName        string    `json:"actionName"`
	ActionDescription string    `json:"actionDescription"`
	InsightArn        string    `json:"insightArn"`
	InsightName       string    `json:"insightName"`
	ResultType        string    `json:"resultType"`
	NumberOfResults   Text      `json:"number of results"`
	InsightResults    []RawJSON `json:"insightResults"`
}

// eventContext is what every row of one event shares.
type eventContext struct {
	ID, DetailType, Region, Account string
	Time                            time.Time
	TimeOK                          bool
	TimeRaw                         string
	Resources                       []string
	ActionName, ActionDescription   string
	ActionARN                       string
}

// actionARN returns the element of resources that names a Security Hub custom
// action, or "" when there is none.
func actionARN(resources []string) string {
	for _, r := range resources {
		if strings.Contains(r, ":action/custom/") {
			return r
		}
	}
	return ""
}

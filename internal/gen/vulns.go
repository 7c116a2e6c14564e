package gen

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// vuln is one entry of the corpus's vulnerability catalogue: a CVE in a
// package family, with everything that stays the same in every finding that
// reports it (Inspector and Trivy findings draw from the same catalogue, and
// popular CVEs recur across many resources, as they do in real fleets).
type vuln struct {
	id, desc       string
	pkg            int
	vector         string // CVSS 3.1, without the "CVSS:3.1/" prefix
	score          float64
	sev            string
	v2vector       string // "" when no CVSS 2 score
	v2score        float64
	version, fixed string
	release        string
	vendor         string
	vendorCreated  int64
	vendorUpdated  int64
	epss           float64
	refs           []string
	related        []string
	fix, exploit   string
}

const catalogSize = 600

// newVulnCatalog draws the catalogue; vendor dates fall before start.
func newVulnCatalog(r *rand.Rand, start int64) []vuln {
	out := make([]vuln, catalogSize)
	for i := range out {
		v := &out[i]
		year := 2025 - skewed(r, 9)
		num := 1000 + r.IntN(50000)
		v.id = "CVE-" + strconv.Itoa(year) + "-" + strconv.Itoa(num)
		v.pkg = r.IntN(len(pkgs))
		p := &pkgs[v.pkg]
		pat := r.IntN(40)
		v.version = p.ver + "." + strconv.Itoa(pat)
		v.fixed = p.ver + "." + strconv.Itoa(pat+1+r.IntN(6))
		if p.manager == "OS" {
			v.release = strconv.Itoa(1+r.IntN(300)) + pick(&hs{r.Uint64()}, []string{".amzn2023", ".amzn2.0.1", ".el9_3", "ubuntu0.22.04.1", "+deb12u1"})
		}
		v.vector, v.score = cvssVector(r)
		v.sev = cvssSeverity(v.score)
		if year < 2020 || r.IntN(5) == 0 {
			v.v2vector = "AV:N/AC:" + pick(&hs{r.Uint64()}, []string{"L", "M", "H"}) + "/Au:N/C:P/I:P/A:" + pick(&hs{r.Uint64()}, []string{"P", "N", "C"})
			v.v2score = float64(20+r.IntN(81)) / 10
		}
		v.vendor = "NVD"
		switch x := r.IntN(10); {
		case x == 0:
			v.vendor = "GITHUB"
		case x == 1 && p.manager == "OS":
			v.vendor = "UBUNTU_CVE"
		}
		v.vendorCreated = start - int64(1+r.IntN(2500))*86400e9 - int64(r.IntN(86400))*1e9
		v.vendorCreated = v.vendorCreated / 60e9 * 60e9
		v.vendorUpdated = min(v.vendorCreated+int64(r.IntN(300))*86400e9+int64(r.IntN(86400))*1e9, start) / 60e9 * 60e9
		u := r.Float64()
		v.epss = max(0.00004, math.Round(math.Pow(10, -4.5+4.5*u*u*u)*1e5)/1e5)
		v.fix = pick(&hs{r.Uint64()}, []string{"YES", "YES", "YES", "NO", "PARTIAL"})
		v.exploit = "NO"
		if v.epss > 0.2 || r.IntN(15) == 0 {
			v.exploit = "YES"
		}
		v.desc = vulnDescription(r, p.name, v)
		n := 1 + skewed(r, 8)
		if r.IntN(15) == 0 {
			n = 30 + r.IntN(130) // the long tail: CVEs with every distribution's advisory
		}
		v.refs = make([]string, n)
		for j := range v.refs {
			v.refs[j] = refURL(r, v.id, p.name, j)
		}
		if p.manager == "OS" && r.IntN(2) == 0 {
			v.related = []string{"ALAS2-" + strconv.Itoa(year) + "-" + strconv.Itoa(1000+r.IntN(1500))}
			if r.IntN(3) == 0 {
				v.related = append(v.related, "ALAS2023-"+strconv.Itoa(year)+"-"+strconv.Itoa(100+r.IntN(900)))
			}
		}
	}
	return out
}

// vulnDescription writes a CVE description from the weakness templates.
func vulnDescription(r *rand.Rand, name string, v *vuln) string {
	var b strings.Builder
	expand(&b, weaknesses[r.IntN(len(weaknesses))], name, v)
	for range skewed(r, 5) {
		expand(&b, extraSentences[r.IntN(len(extraSentences))], name, v)
	}
	return b.String()
}

func expand(b *strings.Builder, tmpl, name string, v *vuln) {
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '%' || i+1 == len(tmpl) {
			b.WriteByte(tmpl[i])
			continue
		}
		i++
		switch tmpl[i] {
		case 'P':
			b.WriteString(name)
		case 'V':
			b.WriteString(v.version)
		case 'F':
			b.WriteString(v.fixed)
		}
	}
}

// refURL makes the j-th reference URL of a CVE.
func refURL(r *rand.Rand, cve, name string, j int) string {
	tmpl := refTemplates[0]
	if j > 0 {
		tmpl = refTemplates[r.IntN(len(refTemplates))]
	}
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '%' {
			b.WriteByte(tmpl[i])
			continue
		}
		i++
		switch tmpl[i] {
		case 'C':
			b.WriteString(cve)
		case 'Y':
			b.WriteString(strconv.Itoa(2018 + r.IntN(8)))
		case 'M':
			m := 1 + r.IntN(12)
			if m < 10 {
				b.WriteByte('0')
			}
			b.WriteString(strconv.Itoa(m))
		case 'N':
			b.WriteString(strconv.Itoa(10000 + r.IntN(90000)))
		case 'G':
			const al = "23456789cfghjmpqrvwx"
			for k := range 14 {
				if k == 4 || k == 9 {
					b.WriteByte('-')
					continue
				}
				b.WriteByte(al[r.IntN(len(al))])
			}
		case 'K':
			for range 26 {
				b.WriteByte(idChars[r.IntN(32)])
			}
		case 'H':
			b.Write(appendHex(appendHex(appendHex(nil, r.Uint64(), 16), r.Uint64(), 16), r.Uint64(), 8))
		case 'P':
			b.WriteString(strings.NewReplacer(":", "/", ".", "-").Replace(name))
		}
	}
	return b.String()
}

// cvssVector draws a CVSS 3.1 base vector and computes its base score with
// the specification's formula, so vectors, scores and labels agree.
func cvssVector(r *rand.Rand) (string, float64) {
	type metric struct {
		name string
		vals []string
		wts  []int // draw weights
	}
	ms := []metric{
		{"AV", []string{"N", "A", "L", "P"}, []int{60, 5, 30, 5}},
		{"AC", []string{"L", "H"}, []int{80, 20}},
		{"PR", []string{"N", "L", "H"}, []int{60, 30, 10}},
		{"UI", []string{"N", "R"}, []int{70, 30}},
		{"S", []string{"U", "C"}, []int{85, 15}},
		{"C", []string{"H", "L", "N"}, []int{45, 25, 30}},
		{"I", []string{"H", "L", "N"}, []int{45, 25, 30}},
		{"A", []string{"H", "L", "N"}, []int{45, 25, 30}},
	}
	var v [8]string
	for {
		for i, m := range ms {
			x := r.IntN(100)
			for j, w := range m.wts {
				if x < w {
					v[i] = m.vals[j]
					break
				}
				x -= w
			}
		}
		if v[5] != "N" || v[6] != "N" || v[7] != "N" {
			break
		}
	}
	vector := "AV:" + v[0] + "/AC:" + v[1] + "/PR:" + v[2] + "/UI:" + v[3] + "/S:" + v[4] + "/C:" + v[5] + "/I:" + v[6] + "/A:" + v[7]
	changed := v[4] == "C"
	av := map[string]float64{"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}[v[0]]
	ac := map[string]float64{"L": 0.77, "H": 0.44}[v[1]]
	pr := map[string]float64{"N": 0.85, "L": 0.62, "H": 0.27}[v[2]]
	if changed && v[2] != "N" {
		pr = map[string]float64{"L": 0.68, "H": 0.5}[v[2]]
	}
	ui := map[string]float64{"N": 0.85, "R": 0.62}[v[3]]
	cia := func(s string) float64 { return map[string]float64{"H": 0.56, "L": 0.22, "N": 0}[s] }
	iss := 1 - (1-cia(v[5]))*(1-cia(v[6]))*(1-cia(v[7]))
	impact := 6.42 * iss
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	}
	if impact <= 0 {
		return vector, 0
	}
	expl := 8.22 * av * ac * pr * ui
	if changed {
		return vector, roundUp(min(1.08*(impact+expl), 10))
	}
	return vector, roundUp(min(impact+expl, 10))
}

// roundUp is CVSS 3.1's Roundup: the smallest one-decimal number >= x.
func roundUp(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}

func cvssSeverity(s float64) string {
	switch {
	case s >= 9:
		return "CRITICAL"
	case s >= 7:
		return "HIGH"
	case s >= 4:
		return "MEDIUM"
	case s > 0:
		return "LOW"
	}
	return "INFORMATIONAL"
}

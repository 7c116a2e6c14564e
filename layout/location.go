package layout

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// Where data is read from and written to: a local path, or
// s3://bucket/prefix. Anything else that looks like a URL is refused before
// any work, so that a mistyped "s3:/bucket/x" or an
// "https://bucket.s3.amazonaws.com/x" copied from the console is an error,
// not a local directory named after it.

// LooksLikeURL reports whether s starts with a URL scheme ("s3:", "https:",
// "file:") rather than a path: letters, digits, '+', '-' or '.' (at least
// two, the first a letter) and then ':' before any '/'. A local path of
// that shape ("lake:1") is written with ./ in front.
func LooksLikeURL(s string) bool {
	scheme, _, ok := strings.Cut(s, ":")
	return ok && schemePattern.MatchString(scheme)
}

var schemePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]+$`)

// IsS3URL reports whether s is meant as an S3 location (it starts with
// "s3:", however malformed the rest).
func IsS3URL(s string) bool { return strings.HasPrefix(strings.ToLower(s), "s3:") }

// CheckLocation returns an error unless s is a local path or a well-formed
// s3://bucket/prefix whose bucket name is valid (what says "where" as an
// argument: --out, a backfill source). what names it in the error ("--out").
func CheckLocation(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if !LooksLikeURL(s) {
		return nil
	}
	if IsS3URL(s) {
		if _, _, err := ParseS3URL(s); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	hint := ""
	if u, err := url.Parse(s); err == nil && (u.Scheme == "https" || u.Scheme == "http") {
		if b, key, ok := virtualHostedBucket(u); ok {
			hint = fmt.Sprintf(" (for this bucket, write s3://%s/%s)", b, key)
		}
	}
	return fmt.Errorf("%s %q: not a local path nor an s3://bucket/prefix URL%s; a local path that starts with \"name:\" is written ./%s",
		what, s, hint, s)
}

// virtualHostedBucket reads bucket and key from an S3 URL of the
// virtual-hosted style (https://bucket.s3.region.amazonaws.com/key) or the
// path style (https://s3.region.amazonaws.com/bucket/key).
func virtualHostedBucket(u *url.URL) (bucket, key string, ok bool) {
	host := strings.ToLower(u.Hostname())
	if !strings.HasSuffix(host, ".amazonaws.com") {
		return "", "", false
	}
	path := strings.TrimPrefix(u.Path, "/")
	if i := strings.Index(host, ".s3."); i > 0 {
		return host[:i], path, true
	}
	if i := strings.Index(host, ".s3-"); i > 0 {
		return host[:i], path, true
	}
	if strings.HasPrefix(host, "s3.") || strings.HasPrefix(host, "s3-") {
		b, k, _ := strings.Cut(path, "/")
		return b, k, b != ""
	}
	return "", "", false
}

// CheckBucketName returns an error unless name follows the naming rules of
// general purpose S3 buckets: 3 to 63 characters, lower-case letters,
// digits, '.' and '-', beginning and ending with a letter or digit, no two
// adjacent periods, not an IP address, none of the reserved prefixes and
// suffixes. (Buckets made in us-east-1 before March 2018 may have other
// names; hublake does not accept those.)
func CheckBucketName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%q is not a valid S3 bucket name: %s", name, why)
	}
	switch {
	case len(name) < 3 || len(name) > 63:
		return bad("it must be 3 to 63 characters long")
	case !bucketPattern.MatchString(name):
		return bad("only lower-case letters, digits, '.' and '-' are allowed, and it must begin and end with a letter or a digit")
	case strings.Contains(name, ".."):
		return bad("two adjacent periods")
	case net.ParseIP(name) != nil:
		return bad("it is formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return bad("the prefix " + p + " is reserved")
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return bad("the suffix " + s + " is reserved")
		}
	}
	return nil
}

var bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`)

// ParseS3URL splits s3://bucket/prefix into bucket and prefix (without
// leading or trailing slashes).
func ParseS3URL(s string) (bucket, prefix string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" || !strings.HasPrefix(s, "s3://") ||
		u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", "", fmt.Errorf("not an s3://bucket/prefix URL: %q", s)
	}
	if err := CheckBucketName(u.Host); err != nil {
		return "", "", err
	}
	prefix = strings.Trim(u.Path, "/")
	for _, seg := range strings.Split(prefix, "/") {
		if seg == ".." || seg == "." {
			return "", "", fmt.Errorf("s3 prefix %q contains %q", prefix, seg)
		}
	}
	return u.Host, prefix, nil
}

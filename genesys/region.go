package genesys

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// regions maps the AWS-style region names Genesys documents, and their short
// prefixes, to the Genesys Cloud domain (API host api.<domain>, login host
// login.<domain>).
var regions = map[string]string{
	"us-east-1":      "mypurecloud.com",
	"eu-west-1":      "mypurecloud.ie",
	"eu-central-1":   "mypurecloud.de",
	"ap-northeast-1": "mypurecloud.jp",
	"ap-southeast-2": "mypurecloud.com.au",
	"us-west-2":      "usw2.pure.cloud",
	"ca-central-1":   "cac1.pure.cloud",
	"ap-northeast-2": "apne2.pure.cloud",
	"eu-west-2":      "euw2.pure.cloud",
	"ap-south-1":     "aps1.pure.cloud",
	"us-east-2":      "use2.us-gov-pure.cloud",
	"sa-east-1":      "sae1.pure.cloud",
	"me-central-1":   "mec1.pure.cloud",
	"ap-northeast-3": "apne3.pure.cloud",
	"eu-central-2":   "euc2.pure.cloud",
	"mx-central-1":   "mxc1.pure.cloud",
	"ap-southeast-1": "apse1.pure.cloud",
	"usw2":           "usw2.pure.cloud",
	"cac1":           "cac1.pure.cloud",
	"apne2":          "apne2.pure.cloud",
	"euw2":           "euw2.pure.cloud",
	"aps1":           "aps1.pure.cloud",
	"use2":           "use2.us-gov-pure.cloud",
	"sae1":           "sae1.pure.cloud",
	"mec1":           "mec1.pure.cloud",
	"apne3":          "apne3.pure.cloud",
	"euc2":           "euc2.pure.cloud",
	"mxc1":           "mxc1.pure.cloud",
	"apse1":          "apse1.pure.cloud",
	"edee1":          "edee1.eusc-pure.cloud",
}

// ResolveRegion turns a region name ("eu-west-1", "usw2") or a Genesys Cloud
// domain ("mypurecloud.ie", "api.mypurecloud.ie") into the domain.
func ResolveRegion(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if d, ok := regions[s]; ok {
		return d, nil
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "api."), "login.")
	for _, d := range regions {
		if s == d {
			return d, nil
		}
	}
	if strings.Contains(s, ".") && isHostname(s) {
		return s, nil // a domain not yet in the table
	}
	names := make([]string, 0, len(regions))
	for k := range regions {
		if strings.Contains(k, "-") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return "", fmt.Errorf("unknown Genesys Cloud region %q: give a region name (%s) or a domain such as mypurecloud.ie",
		text.Truncate(s, 64), strings.Join(names, ", "))
}

func isHostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Endpoints are the base URLs the client talks to.
type Endpoints struct {
	API   string // https://api.<domain>
	Login string // https://login.<domain>
}

// EndpointsFor returns the endpoints of a region, with optional overrides
// (for the simulator or a proxy). Overrides must be absolute http(s) URLs.
func EndpointsFor(region, apiURL, loginURL string) (Endpoints, error) {
	var e Endpoints
	if region != "" {
		d, err := ResolveRegion(region)
		if err != nil {
			return e, err
		}
		e = Endpoints{API: "https://api." + d, Login: "https://login." + d}
	}
	for _, o := range []struct {
		name string
		v    string
		dst  *string
	}{{"API URL", apiURL, &e.API}, {"login URL", loginURL, &e.Login}} {
		if o.v == "" {
			continue
		}
		u, err := url.Parse(o.v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return e, fmt.Errorf("%s %q is not an absolute http(s) URL without credentials", o.name, text.RedactURL(o.v))
		}
		*o.dst = strings.TrimRight(u.String(), "/")
	}
	if e.API == "" || e.Login == "" {
		return e, fmt.Errorf("no Genesys Cloud region: set a region, or both the API and login URLs")
	}
	return e, nil
}

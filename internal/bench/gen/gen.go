// Package gen generates the intelligence the benchmarks load: the i-th
// indicator or vulnerability is always the same, so runs compare.
package gen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

// Epoch is when the generated intelligence is first reported.
var Epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Mixed is the mix of indicator types of the store and API benchmarks: a
// quarter each IPv4, domain, URL and SHA-256 file.
var Mixed = []intel.Type{intel.IPv4, intel.Domain, intel.URL, intel.File}

// Indicator returns the i-th indicator of types, taken in turn: a distinct
// value with the tags, score, times, validity and details of a Flashpoint
// indicator, reported at reported.
func Indicator(i int, reported time.Time, types ...intel.Type) intel.Object {
	t := types[i%len(types)]
	var v string
	switch t {
	case intel.IPv4:
		v = fmt.Sprintf("%d.%d.%d.%d", 11+(i>>24)&63, (i>>16)&255, (i>>8)&255, i&255)
	case intel.Domain:
		v = fmt.Sprintf("host-%d.example-%d.com", i, i%9973)
	case intel.URL:
		v = fmt.Sprintf("http://cdn-%d.example.net/path/%d/payload.bin", i%7919, i)
	case intel.File:
		v = fmt.Sprintf("%016x%016x%016x%016x", uint64(i)*0x9e3779b97f4a7c15, uint64(i), uint64(i)^0xabcdef, uint64(i)*31)
	default:
		panic("gen: no indicator of type " + string(t))
	}
	return intel.Object{Type: t, Value: v, TLP: intel.TLPAmber, Confidence: 80, Score: intel.ScoreMalicious,
		Tags:      []string{"malware:emotet", "source:flashpoint", "type:loader"},
		FirstSeen: reported.Add(-time.Hour), LastSeen: reported, Reported: reported,
		ValidUntil: reported.Add(90 * 24 * time.Hour), OriginalID: fmt.Sprintf("ind-%09d", i),
		Details: intel.Details{AttackPatterns: []string{"T1071.001"}, MalwareNames: []string{"emotet"}}}
}

// Vendors are the vendors of the generated products.
var Vendors = []string{"Microsoft", "Apple", "Google", "Oracle", "Cisco", "Adobe", "IBM", "Fortinet", "Palo Alto Networks", "VMware",
	"Citrix", "SAP", "Atlassian", "Ivanti", "Juniper", "F5", "Mozilla", "Apache", "Linux", "Red Hat"}

var products = []string{"Server", "Client", "Gateway", "Manager", "Agent", "Portal", "Studio", "Exchange", "Office", "Browser",
	"Firewall", "VPN", "Database", "Router", "Switch", "Kernel", "Runtime", "Console", "Connect", "Workspace"}

// Products is the number of distinct products.
const Products = 10000

// Product returns the vendor and name of one of 20 × 20 × 25 = 10,000
// products.
func Product(j int) (vendor, product string) {
	j %= Products
	return Vendors[j%20], fmt.Sprintf("%s %s %d", Vendors[j%20], products[(j/20)%20], j/400)
}

// ProductWords is a partial product name that matches 20 to 220 products
// (e.g. "exchange 7"), as a user searching by product types it.
func ProductWords(j int) string {
	_, product := Product(j)
	words := strings.Fields(product)
	return strings.ToLower(words[len(words)-2] + " " + words[len(words)-1])
}

// Vulnerability returns the i-th vulnerability with random scores from r,
// the one to three products it affects and the relationships to them.
func Vulnerability(i int, r *rand.Rand) (intel.Object, []intel.Object, []intel.Relationship) {
	cve := fmt.Sprintf("CVE-%d-%05d", 2000+i/100000, i%100000)
	v3, v2, v4, epss := float64(r.IntN(101))/10, float64(r.IntN(101))/10, float64(r.IntN(101))/10, r.Float64()
	sev := []string{"none", "low", "medium", "high", "critical"}[min(4, int(v3/2.25))]
	o := intel.Object{Type: intel.Vulnerability, Value: cve, Name: "Flaw " + cve, Description: "A vulnerability in a product.",
		TLP: intel.TLPAmber, Confidence: 100, Reported: Epoch.Add(time.Duration(i) * time.Second),
		Details: intel.Details{Vulnerability: &intel.VulnerabilityDetail{FlashpointID: int64(400000 + i), CVEIDs: []string{cve},
			CVSSv2: &intel.CVSS{Version: "2.0", Score: v2}, CVSSv3: &intel.CVSS{Version: "3.1", Score: v3}, CVSSv4: &intel.CVSS{Version: "4.0", Score: v4},
			EPSS: &epss, Severity: sev, ExploitMaturity: []string{"unproven", "proof-of-concept", "functional", "high"}[r.IntN(4)]}}}
	var sw []intel.Object
	var rels []intel.Relationship
	for k := 0; k < 1+r.IntN(3); k++ {
		vendor, product := Product(r.IntN(Products))
		s := intel.Object{Type: intel.Software, Value: strings.ToLower(vendor + ":" + product), Name: product, TLP: intel.TLPAmber,
			Confidence: 100, Reported: Epoch, Details: intel.Details{Software: &intel.SoftwareDetail{Vendor: vendor, Product: product}}}
		sw = append(sw, s)
		rels = append(rels, intel.Relationship{Source: o.Ref(), Type: intel.RelHas, Target: s.Ref()})
	}
	return o, sw, rels
}

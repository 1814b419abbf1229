package cmdb

import (
	"strconv"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/intel"
)

func vuln(id int64, value string, cvss float64, products ...intel.ProductRef) intel.Object {
	return intel.Object{ID: id, Type: intel.Vulnerability, Value: value, Name: value + " title", TLP: intel.TLPAmber,
		Details: intel.Details{Vulnerability: &intel.VulnerabilityDetail{Severity: "high", CVSSv3: &intel.CVSS{Version: "3.1", Score: cvss},
			Products: products}}}
}

var edge = intel.ProductRef{Vendor: "Examplesoft", Product: "Examplesoft EdgeGate", Versions: []string{"7.0.1", "7.0.12", "7.2.0"},
	CPEs: []string{"cpe:2.3:o:examplesoft:edgegate:7.0.1:*:*:*:*:*:*:*", "cpe:2.3:o:examplesoft:edgegate:7.0.12:*:*:*:*:*:*:*",
		"cpe:2.3:o:examplesoft:edgegate:7.2.0:*:*:*:*:*:*:*"},
	Fixed: []string{"7.2.3", "7.2.4", "7.4.0"}, AllPriorTo: "7.0.1"}

var vulns = []intel.Object{
	vuln(1, "CVE-2026-0001", 9.8, edge),
	vuln(2, "CVE-2026-0002", 5.0, intel.ProductRef{Vendor: "Examplesoft", Product: "Examplesoft EdgeGate"}), // no versions known
	vuln(3, "CVE-2026-0003", 7.5, intel.ProductRef{Vendor: "Globex", Product: "Globex Web Server", Versions: []string{"2.4.49"}}),
	{ID: 4, Type: intel.IPv4, Value: "192.0.2.1"},
}

func TestMatchAsset(t *testing.T) {
	for _, tc := range []struct {
		name  string
		asset Asset
		want  string // "id:how" per match, strongest first; "?" marks a version given that cannot be placed
	}{
		{"cpe of an affected version", Asset{CPE: "cpe:2.3:o:examplesoft:edgegate:7.2.0:*:*:*:*:*:*:*"}, "1:cpe,2:name_only"},
		{"cpe 2.2 uri", Asset{CPE: "cpe:/o:examplesoft:edgegate:7.0.12"}, "1:cpe,2:name_only"},
		{"cpe of a fixed version", Asset{CPE: "cpe:2.3:o:examplesoft:edgegate:7.4.0:*:*:*:*:*:*:*"}, "2:name_only"},
		{"cpe of an older version: all prior affected", Asset{CPE: "cpe:2.3:o:examplesoft:edgegate:6.9:*:*:*:*:*:*:*"}, "1:product_version,2:name_only"},
		{"cpe without version", Asset{CPE: "cpe:2.3:o:examplesoft:edgegate:*:*:*:*:*:*:*:*"}, "1:name_only,2:name_only"},
		{"product and listed version", Asset{Vendor: "examplesoft", Product: "EdgeGate", Version: "7.0.12"}, "1:product_version,2:name_only"},
		{"same version written shorter", Asset{Product: "examplesoft edgegate", Version: "7.2"}, "1:product_version,2:name_only"},
		{"fixed version", Asset{Product: "EdgeGate", Version: "7.2.3"}, "2:name_only"},
		{"newer than every fix", Asset{Product: "EdgeGate", Version: "8.0"}, "2:name_only"},
		{"unlisted between versions", Asset{Product: "EdgeGate", Version: "7.1.5"}, "2:name_only,1:name_only?"},
		{"unplaceable version", Asset{Product: "EdgeGate", Version: "7.2.0-beta"}, "2:name_only,1:name_only?"},
		{"no version", Asset{Product: "Edgegate"}, "1:name_only,2:name_only"},
		{"other vendor of the same name", Asset{Vendor: "Initech", Product: "EdgeGate", Version: "7.2.0"}, ""},
		{"part of a word is no match", Asset{Product: "Edge", Version: "7.2.0"}, ""},
		{"other product", Asset{Product: "Globex Web Server", Version: "2.4.49"}, "3:product_version"},
		{"nothing", Asset{Product: "nginx", Version: "1.25"}, ""},
	} {
		got, err := MatchAsset(tc.asset, vulns)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var s []string
		for _, m := range got {
			mark := ""
			if m.Unplaced {
				mark = "?"
			}
			s = append(s, strings.Join([]string{itoa(m.VulnerabilityID), m.How}, ":")+mark)
			if m.Reason == "" || m.Product == "" || m.Value == "" {
				t.Errorf("%s: match without reason, product or value: %+v", tc.name, m)
			}
		}
		if strings.Join(s, ",") != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, strings.Join(s, ","), tc.want)
		}
	}
	if ms, _ := MatchAsset(Asset{Product: "Globex Web Server", Version: "2.4.49"}, vulns); len(ms) != 1 || ms[0].Product != "Globex Web Server" {
		t.Errorf("product label: %+v", ms)
	}
	if _, err := MatchAsset(Asset{Asset: "host-1", Version: "1.0"}, vulns); intel.ErrorCode(err) != intel.EINVALID {
		t.Errorf("asset without product: %v", err)
	}
	if _, err := MatchAsset(Asset{CPE: "edgegate 7"}, vulns); intel.ErrorCode(err) != intel.EINVALID {
		t.Errorf("bad CPE: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestParseCSV(t *testing.T) {
	assets, err := ParseCSV(strings.NewReader("\ufeffAsset, Product,VERSION,owner\nfw-1,EdgeGate,7.2.0,net\n\nweb-1,\"Globex Web Server\",2.4.49,web\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(assets) != 2 || assets[0] != (Asset{Asset: "fw-1", Product: "EdgeGate", Version: "7.2.0"}) || assets[1].Product != "Globex Web Server" {
		t.Fatalf("assets %+v", assets)
	}
	if a, err := ParseCSV(strings.NewReader("cpe\ncpe:2.3:o:examplesoft:edgegate:7.2.0:*:*:*:*:*:*:*\n")); err != nil || a[0].CPE == "" {
		t.Errorf("cpe only: %+v %v", a, err)
	}
	for body, want := range map[string]string{
		"":                        "empty",
		"host,owner\nx,y\n":       "neither product nor cpe",
		"product\n":               "no assets",
		"product\n\"unterminated": "line 2",
		"product\n" + strings.Repeat("a", 600) + "\n": "over 512 bytes",
	} {
		if _, err := ParseCSV(strings.NewReader(body)); intel.ErrorCode(err) != intel.EINVALID || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	var big strings.Builder
	big.WriteString("product\n")
	for range MaxAssets + 1 {
		big.WriteString("x\n")
	}
	if _, err := ParseCSV(strings.NewReader(big.String())); err == nil || !strings.Contains(err.Error(), "10000") {
		t.Errorf("10,001 assets: %v", err)
	}
}

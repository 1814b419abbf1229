package cpe

import (
	"testing"

	"github.com/flintcti/flint/internal/intel"
)

func TestParseAndCover(t *testing.T) {
	vuln, err := Parse("cpe:2.3:o:examplesoft:edgegate:7.2.0:*:*:*:*:*:*:*")
	if err != nil {
		t.Fatal(err)
	}
	if vuln.Vendor() != "examplesoft" || vuln.Product() != "edgegate" || vuln.Version() != "7.2.0" {
		t.Fatalf("attributes %q %q %q", vuln.Vendor(), vuln.Product(), vuln.Version())
	}
	for asset, want := range map[string]bool{
		"cpe:2.3:o:examplesoft:edgegate:7.2.0:*:*:*:*:*:*:*":      true,
		"cpe:2.3:o:examplesoft:edgegate:7.2.0:-:*:*:*:*:x86:*":    true, // more specific than the listed name
		"cpe:2.3:o:examplesoft:edgegate:7.2.3:*:*:*:*:*:*:*":      false,
		"cpe:2.3:o:examplesoft:edgegate:*:*:*:*:*:*:*:*":          false, // any version: not covered by one version
		"cpe:2.3:a:examplesoft:cloud_console:7.2.0:*:*:*:*:*:*:*": false,
		"cpe:/o:examplesoft:edgegate:7.2.0":                       true,
	} {
		a, err := Parse(asset)
		if err != nil {
			t.Fatalf("%s: %v", asset, err)
		}
		if got := vuln.Covers(a); got != want {
			t.Errorf("%s covers %s: %v, want %v", vuln, asset, got, want)
		}
		if !SameProduct(vuln, a) && asset != "cpe:2.3:a:examplesoft:cloud_console:7.2.0:*:*:*:*:*:*:*" {
			t.Errorf("%s: not the same product", asset)
		}
	}
	esc, err := Parse(`cpe:2.3:a:microsoft:exchange_server:2019:cumulative_update_12:*:*:*:*:*:*`)
	if err != nil || esc.Product() != "exchange_server" || esc.Version() != "2019" {
		t.Errorf("exchange: %v %q %q", err, esc.Product(), esc.Version())
	}
	for _, bad := range []string{"", "exchange", "cpe:2.3:a:only", "cpe:9:a:b:c"} {
		if _, err := Parse(bad); intel.ErrorCode(err) != intel.EINVALID {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

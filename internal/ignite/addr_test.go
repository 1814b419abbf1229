package ignite_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/ignite"
)

func TestAddrPolicy(t *testing.T) {
	ten := netip.MustParsePrefix("10.0.0.0/8")
	for _, tc := range []struct {
		policy ignite.AddrPolicy
		addr   string
		ok     bool
	}{
		{ignite.AddrPolicy{}, "203.0.113.7", true},
		{ignite.AddrPolicy{}, "10.1.2.3", true},
		{ignite.AddrPolicy{}, "127.0.0.1", false},
		{ignite.AddrPolicy{}, "::1", false},
		{ignite.AddrPolicy{}, "::ffff:127.0.0.1", false},
		{ignite.AddrPolicy{AllowLoopback: true}, "127.0.0.1", true},
		{ignite.AddrPolicy{AllowLoopback: true}, "169.254.169.254", false},
		{ignite.AddrPolicy{AllowLoopback: true}, "::ffff:169.254.169.254", false},
		{ignite.AddrPolicy{}, "fd00:ec2::254", false},
		{ignite.AddrPolicy{}, "fe80::1", false},
		{ignite.AddrPolicy{}, "0.0.0.0", false},
		{ignite.AddrPolicy{}, "100.100.100.200", false},
		{ignite.AddrPolicy{Allow: []netip.Prefix{ten}}, "10.9.9.9", true},
		{ignite.AddrPolicy{Allow: []netip.Prefix{ten}}, "203.0.113.7", false},
		{ignite.AddrPolicy{Allow: []netip.Prefix{ten}, AllowLoopback: true}, "127.0.0.1", true},
		{ignite.AddrPolicy{Deny: []netip.Prefix{ten}}, "10.9.9.9", false},
		{ignite.AddrPolicy{Allow: []netip.Prefix{ten}, Deny: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}}, "10.0.0.5", false},
	} {
		err := tc.policy.Check(netip.MustParseAddr(tc.addr))
		if (err == nil) != tc.ok {
			t.Errorf("%+v %s: %v, want allowed=%v", tc.policy, tc.addr, err, tc.ok)
		}
	}
	if _, err := ignite.ParsePrefixes("10.0.0.0/8, 192.0.2.1,fd00::/8"); err != nil {
		t.Error(err)
	}
	if _, err := ignite.ParsePrefixes("10.0.0.0/33"); err == nil {
		t.Error("a bad range was taken")
	}
}

// The policy holds on the address dialled, whatever name led there: a
// name that resolves to loopback is refused as the address itself is.
func TestAddrPolicyOnConnections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"items":[],"total":0,"pagination":{"next":null}}`))
	}))
	defer srv.Close()
	for _, base := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), "http://169.254.169.254:80"} {
		c, err := ignite.New(ignite.Options{BaseURL: base, Token: "t", RateLimit: -1, MaxAttempts: 1, Addresses: &ignite.AddrPolicy{}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListIndicators(context.Background(), ignite.IndicatorQuery{})
		if ignite.ErrorCode(err) != ignite.NetRefusedAddress {
			t.Errorf("%s under the default policy: %v (code %q)", base, err, ignite.ErrorCode(err))
		}
	}
	c, err := ignite.New(ignite.Options{BaseURL: srv.URL, Token: "t", RateLimit: -1, Addresses: &ignite.AddrPolicy{AllowLoopback: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListIndicators(context.Background(), ignite.IndicatorQuery{}); err != nil {
		t.Errorf("loopback allowed: %v", err)
	}
}

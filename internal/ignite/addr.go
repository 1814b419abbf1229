package ignite

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// AddrPolicy decides which addresses a client may connect to. It is checked
// on the address actually dialled, after name resolution, so a name that
// resolves to a forbidden address is refused however it was resolved (DNS
// rebinding gains nothing). Through an HTTP proxy (HTTPS_PROXY) it is the
// proxy's address that is checked.
type AddrPolicy struct {
	// AllowLoopback lets the client reach loopback addresses (the local
	// simulator, tests); off by default.
	AllowLoopback bool
	// Allow, when not empty, is every range the client may reach (after
	// the denied ones are taken out).
	Allow []netip.Prefix
	// Deny adds ranges to the ones always refused.
	Deny []netip.Prefix
}

// alwaysDenied are never reachable: link-local ranges (where cloud metadata
// services answer, 169.254.169.254 among them), the metadata addresses of
// clouds outside them, unspecified, multicast and broadcast addresses.
var alwaysDenied = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS IMDS over IPv6
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud metadata
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("ff00::/8"),
	netip.MustParsePrefix("255.255.255.255/32"),
}

// Check returns an error naming why addr may not be reached, or nil.
func (p *AddrPolicy) Check(addr netip.Addr) error {
	addr = addr.Unmap()
	for _, d := range alwaysDenied {
		if d.Contains(addr) {
			return fmt.Errorf("address %s is refused: link-local, cloud metadata, unspecified and multicast addresses are never reached", addr)
		}
	}
	for _, d := range p.Deny {
		if d.Contains(addr) {
			return fmt.Errorf("address %s is refused: it is in the denied range %s", addr, d)
		}
	}
	if addr.IsLoopback() && !p.AllowLoopback {
		return fmt.Errorf("address %s is refused: loopback addresses are reached only when allowed (flint --upstream-loopback, for a local simulator)", addr)
	}
	if len(p.Allow) > 0 && !(addr.IsLoopback() && p.AllowLoopback) {
		for _, a := range p.Allow {
			if a.Contains(addr) {
				return nil
			}
		}
		return fmt.Errorf("address %s is refused: it is in none of the allowed ranges", addr)
	}
	return nil
}

// control is a net.Dialer Control function enforcing the policy on each
// address dialled.
func (p *AddrPolicy) control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if err != nil {
		return fmt.Errorf("address %q cannot be checked: %w", host, err)
	}
	if err := p.Check(addr); err != nil {
		return &refusedError{err}
	}
	return nil
}

// refusedError marks a connection the address policy refused.
type refusedError struct{ error }

func (e *refusedError) Unwrap() error { return e.error }

// ParsePrefixes reads comma-separated CIDR ranges or single addresses.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR range (10.0.0.0/8) nor an address", part)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

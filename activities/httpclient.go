package activities

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout bounds one delivery attempt, from dialling to the end of the
// response body (SPEC 6.1).
const DefaultTimeout = 10 * time.Second

// HTTPOptions configures the client that makes deliveries.
type HTTPOptions struct {
	// Timeout bounds one attempt; zero means DefaultTimeout. Keep it below
	// the activity's StartToCloseTimeout so that a slow receiver ends as a
	// failed attempt, not as an activity timeout.
	Timeout time.Duration
	// AllowedNetworks admits non-public addresses that the egress guard
	// would otherwise refuse (for instance 127.0.0.0/8 in tests and the dev
	// stack).
	AllowedNetworks []netip.Prefix
}

// ErrBlockedAddress is wrapped by the error of a dial to an address that the
// egress guard refuses (SPEC 8). Test for it with errors.Is.
var ErrBlockedAddress = errors.New("blocked address")

// blockedAddressError names the refused address; it is what the dialer's
// Control function returns.
type blockedAddressError struct {
	addr netip.Addr
}

func (e *blockedAddressError) Error() string {
	return fmt.Sprintf("address %s is not allowed: deliveries to private, loopback and other non-public addresses are refused unless an allowed network admits them", e.addr)
}

func (e *blockedAddressError) Is(target error) bool { return target == ErrBlockedAddress }

// NewHTTPClient returns the client that makes deliveries: it follows no
// redirect, uses no proxy, and refuses to connect to non-public addresses
// outside opts.AllowedNetworks.
func NewHTTPClient(opts HTTPOptions) *http.Client {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	allowed := append([]netip.Prefix(nil), opts.AllowedNetworks...)
	dialer := &net.Dialer{
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
		// Control runs on the address actually being connected to, after
		// name resolution, so a hostname that resolves (or later re-resolves,
		// DNS rebinding) to a private address is still refused, and nothing
		// is sent to it, not even a SYN.
		Control: func(network, address string, _ syscall.RawConn) error {
			return checkDialAddress(address, allowed)
		},
	}
	transport := &http.Transport{
		// No proxy, deliberately: an HTTP(S)_PROXY in the worker's
		// environment would send every customer's deliveries through a host
		// nobody chose for them, and the egress guard would then check the
		// proxy's address instead of the receiver's.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           1000,
		MaxIdleConnsPerHost:    100,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    min(timeout, 10*time.Second),
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxReadBody,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		// A 3xx is a failed attempt (SPEC 6.1): following it would let a
		// receiver point deliveries, credentials included, somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func checkDialAddress(address string, allowed []netip.Prefix) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// The dialer always hands over a literal ip:port; anything else is
		// refused rather than guessed at.
		return fmt.Errorf("egress guard: unexpected dial address %q: %w", address, ErrBlockedAddress)
	}
	addr := ap.Addr().WithZone("").Unmap()
	if addressAllowed(addr, allowed) {
		return nil
	}
	return &blockedAddressError{addr: addr}
}

// addressAllowed reports whether a delivery may connect to addr: a public
// address, or one inside an allowed network.
func addressAllowed(addr netip.Addr, allowed []netip.Prefix) bool {
	addr = addr.WithZone("").Unmap()
	for _, p := range allowed {
		if p.Contains(addr) {
			return true
		}
	}
	return isPublic(addr)
}

// nonPublic lists the ranges that netip's predicates do not already cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated), ::, ::1
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:2::/48"),     // benchmarking
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// Ranges that embed an IPv4 address a gateway would forward to: the embedded
// address must be public too.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// isPublic reports whether addr is a global unicast address outside every
// private, shared, reserved and documentation range.
func isPublic(addr netip.Addr) bool {
	addr = addr.WithZone("").Unmap()
	// IsGlobalUnicast already excludes loopback, link-local, multicast,
	// unspecified and 255.255.255.255; IsPrivate covers RFC 1918 and fc00::/7.
	if !addr.IsValid() || !addr.IsGlobalUnicast() || addr.IsPrivate() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(addr) {
			return false
		}
	}
	if addr.Is6() {
		b := addr.As16()
		switch {
		case nat64.Contains(addr):
			return isPublic(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(addr):
			return isPublic(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return true
}

// ParseNetworks parses a comma-separated list of CIDR prefixes, as in
// ALLOWED_PRIVATE_NETWORKS ("127.0.0.0/8,10.0.0.0/8"). A bare address stands
// for itself alone. An empty string is no network.
func ParseNetworks(s string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if p, err := netip.ParsePrefix(entry); err == nil {
			prefixes = append(prefixes, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(entry); err == nil && a.Zone() == "" {
			prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		return nil, fmt.Errorf("network %q is not a CIDR prefix such as 127.0.0.0/8 or fd00::/8", entry)
	}
	return prefixes, nil
}

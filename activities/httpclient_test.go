package activities

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestAddressAllowed(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", false},
		{"192.168.1.1", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"169.254.169.254", false}, // cloud metadata
		{"127.0.0.1", false},
		{"127.1.2.3", false},
		{"::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:169.254.169.254", false},
		{"::127.0.0.1", false}, // IPv4-compatible
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"::", false},
		{"255.255.255.255", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"ff02::1", false},
		{"192.0.2.1", false},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"2001:db8::1", false},
		{"198.18.0.1", false},
		{"240.0.0.1", false},
		{"64:ff9b::10.0.0.1", false}, // NAT64 of a private address
		{"2002:a00:1::1", false},     // 6to4 of 10.0.0.1
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"100.63.255.255", true},
		{"172.32.0.1", true},
		{"2001:4860::8888", true},
		{"2606:4700:4700::1111", true},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::8.8.8.8", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			addr := netip.MustParseAddr(tt.addr)
			if got := addressAllowed(addr, nil); got != tt.want {
				t.Errorf("got allowed %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAddressAllowedNetworks(t *testing.T) {
	allowed := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true},
		{"10.1.2.3", true},
		{"10.2.0.1", false},
		{"fd00::5", true},
		{"::1", false},
		{"169.254.169.254", false},
		{"8.8.8.8", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := addressAllowed(netip.MustParseAddr(tt.addr), allowed); got != tt.want {
				t.Errorf("got allowed %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckDialAddress(t *testing.T) {
	tests := []struct {
		address string
		wantErr string // empty: allowed
	}{
		{"8.8.8.8:443", ""},
		{"[2001:4860::8888]:443", ""},
		{"127.0.0.1:80", "address 127.0.0.1 is not allowed"},
		{"[::ffff:10.0.0.1]:80", "address 10.0.0.1 is not allowed"},
		{"[fe80::1%eth0]:80", "address fe80::1 is not allowed"},
		{"not-an-address:80", "unexpected dial address"},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			err := checkDialAddress(tt.address, nil)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.wantErr != "" && (!errors.Is(err, ErrBlockedAddress) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want an ErrBlockedAddress saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseNetworks(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "", want: nil},
		{in: " , ", want: nil},
		{in: "127.0.0.0/8", want: []string{"127.0.0.0/8"}},
		{in: "127.0.0.0/8, 10.0.0.0/8,fd00::/8", want: []string{"127.0.0.0/8", "10.0.0.0/8", "fd00::/8"}},
		{in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{in: "10.1.2.3", want: []string{"10.1.2.3/32"}},
		{in: "::1", want: []string{"::1/128"}},
		{in: "127.0.0.0/8,localhost", wantErr: `"localhost"`},
		{in: "10.0.0.0/33", wantErr: `"10.0.0.0/33"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseNetworks(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v, want an error naming %s", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want %v", err, tt.want)
			}
			var gotStrings []string
			for _, p := range got {
				gotStrings = append(gotStrings, p.String())
			}
			if strings.Join(gotStrings, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", gotStrings, tt.want)
			}
		})
	}
}

func TestNewHTTPClient(t *testing.T) {
	c := NewHTTPClient(HTTPOptions{})
	if c.Timeout != DefaultTimeout {
		t.Errorf("got timeout %v, want %v", c.Timeout, DefaultTimeout)
	}
	if c.CheckRedirect(nil, nil) != http.ErrUseLastResponse {
		t.Error("got a client that follows redirects, want none followed")
	}
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("got transport %T, want *http.Transport", c.Transport)
	}
	if tr.Proxy != nil {
		t.Error("got a proxy function, want none: deliveries must not go through an environment proxy")
	}
	if tr.DisableKeepAlives || tr.MaxIdleConnsPerHost < 100 || tr.IdleConnTimeout != 90*time.Second || tr.TLSHandshakeTimeout <= 0 {
		t.Errorf("got keep-alives disabled %v, MaxIdleConnsPerHost %d, IdleConnTimeout %v, TLSHandshakeTimeout %v; want on, >= 100, 90s, > 0",
			tr.DisableKeepAlives, tr.MaxIdleConnsPerHost, tr.IdleConnTimeout, tr.TLSHandshakeTimeout)
	}
	if got := NewHTTPClient(HTTPOptions{Timeout: 200 * time.Millisecond}).Timeout; got != 200*time.Millisecond {
		t.Errorf("got timeout %v, want 200ms", got)
	}
}

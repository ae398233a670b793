package db

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ocelot/webhooks"
)

// A connection string the driver cannot parse is reported without the
// string itself: lib/pq's and net/url's errors quote it, password included.
func TestOpenErrorHidesPassword(t *testing.T) {
	const secret = "hunter2-Xq9"
	tests := []struct {
		name string
		dsn  string
		want string // in the error
	}{
		{"URL with a bad port", "postgres://app:" + secret + "@127.0.0.1:notaport/webhooks", "invalid port"},
		{"URL with a bad escape", "postgres://app:" + secret + "%zz@127.0.0.1/webhooks", "invalid URL escape"},
		{"URL with a bad sslmode", "postgres://app:" + secret + "@127.0.0.1/webhooks?sslmode=" + secret, "sslmode"},
		{"key=value, unknown sslmode", "host=127.0.0.1 password=" + secret + " sslmode=bogus", "sslmode"},
		{"key=value, quoted password", "host=127.0.0.1 password='" + secret + " x' port=nope", "port"},
		{"key=value, unterminated quote", "host=127.0.0.1 password='" + secret, "unterminated"},
		{"unreachable server", "postgres://app:" + secret + "@127.0.0.1:1/webhooks?sslmode=disable", "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := Open(ctx, tt.dsn)
			if err == nil {
				conn.Close()
				t.Fatal("got no error, want one")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the password: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want it to say %q", err, tt.want)
			}
		})
	}
	t.Run("unreachable is ErrUnavailable", func(t *testing.T) {
		_, err := Open(context.Background(), "postgres://app:"+secret+"@127.0.0.1:1/webhooks?sslmode=disable")
		if !errors.Is(err, webhooks.ErrUnavailable) {
			t.Errorf("got %v, want it to wrap ErrUnavailable", err)
		}
	})
}

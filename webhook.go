package webhooks

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// AuthType says how a delivery authenticates to the receiver.
type AuthType string

// The auth types of the seed document.
const (
	AuthNone  AuthType = "None"
	AuthBasic AuthType = "Basic"
)

// Auth is the credential a delivery presents. Password is plain text in
// memory only: the db package encrypts it at rest.
type Auth struct {
	Type     AuthType
	Username string
	Password string
}

// Webhook is a client's subscription to some event names.
type Webhook struct {
	// Key is the internal, immutable identity: deliveries in flight refer to
	// it so that a rename (a new ID) never orphans them.
	Key                int64
	ClientID           string
	ID                 string
	MatchingEvents     []EventName
	URL                string
	Auth               Auth
	Active             bool
	PerOfficeOverrides []OfficeOverride
	Created            time.Time
	Updated            time.Time
}

// AttemptWebhook is a webhook as a delivery attempt reads it: with its
// passwords and its signing secrets, all from one statement. Opening a
// credential may fail (a changed encryption key, a corrupt row); the error
// is kept beside the rest rather than returned, so that the attempt first
// decides whether the webhook still takes the event at all.
type AttemptWebhook struct {
	// Webhook is set even when Err is: only its passwords are then empty.
	Webhook Webhook
	// Err wraps ErrUndecryptable when a receiver password does not open.
	Err error
	// Signing holds the secrets that sign the attempt.
	Signing SigningSecrets
	// SigningErr wraps ErrUndecryptable when a signing secret does not open.
	SigningErr error
}

// OfficeOverride replaces, for events of one office, each of the webhook's
// fields it sets (nil means "keep the webhook's own").
type OfficeOverride struct {
	OfficeID string
	URL      *string
	Auth     *Auth
	Active   *bool
}

// Limits of SPEC 3.1.
const (
	MaxWebhookIDLength = 128
	MaxURLLength       = 2048
	MaxOfficeIDLength  = 128
	MaxOfficeOverrides = 100
)

var webhookIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Normalize collapses duplicate matching events, keeping the first of each.
func (w *Webhook) Normalize() {
	seen := make(map[EventName]bool, len(w.MatchingEvents))
	kept := w.MatchingEvents[:0:0]
	for _, name := range w.MatchingEvents {
		if !seen[name] {
			seen[name] = true
			kept = append(kept, name)
		}
	}
	w.MatchingEvents = kept
}

// Validate reports every field of w that breaks SPEC 3.1 and 3.2.
func (w *Webhook) Validate() error {
	v := &ValidationError{}
	validateWebhookID(v, "id", w.ID)
	if len(w.MatchingEvents) == 0 {
		v.Add("matchingEvents", "at least one event name is required")
	}
	for i, name := range w.MatchingEvents {
		if !name.Valid() {
			v.Add(fmt.Sprintf("matchingEvents[%d]", i), fmt.Sprintf("unknown event name %q; expected one of %s", name, eventNameList()))
		}
	}
	validateURL(v, "url", w.URL)
	validateAuth(v, "auth", w.Auth)
	if len(w.PerOfficeOverrides) > MaxOfficeOverrides {
		// SPEC 3.5: keeps one event's workflow far below Temporal's limits.
		v.Add("perOfficeOverrides", fmt.Sprintf("must have at most %d overrides, got %d", MaxOfficeOverrides, len(w.PerOfficeOverrides)))
	}
	offices := make(map[string]bool, len(w.PerOfficeOverrides))
	for i, o := range w.PerOfficeOverrides {
		path := fmt.Sprintf("perOfficeOverrides[%d]", i)
		switch {
		case o.OfficeID == "":
			v.Add(path+".officeId", "is required")
		case len(o.OfficeID) > MaxOfficeIDLength:
			v.Add(path+".officeId", fmt.Sprintf("must be at most %d characters", MaxOfficeIDLength))
		case hasControl(o.OfficeID):
			v.Add(path+".officeId", "must not contain control characters")
		case offices[o.OfficeID]:
			v.Add(path+".officeId", fmt.Sprintf("duplicate office %q", o.OfficeID))
		}
		offices[o.OfficeID] = true
		if o.URL != nil {
			validateURL(v, path+".url", *o.URL)
		}
		if o.Auth != nil {
			validateAuth(v, path+".auth", *o.Auth)
		}
	}
	return v.Err()
}

func validateWebhookID(v *ValidationError, field, id string) {
	switch {
	case id == "":
		v.Add(field, "is required")
	case len(id) > MaxWebhookIDLength:
		v.Add(field, fmt.Sprintf("must be at most %d characters", MaxWebhookIDLength))
	case !webhookIDPattern.MatchString(id):
		v.Add(field, "must contain only A-Z a-z 0-9 . _ - and start with a letter or digit")
	}
}

// ValidWebhookID reports whether id may name a webhook.
func ValidWebhookID(id string) bool {
	return id != "" && len(id) <= MaxWebhookIDLength && webhookIDPattern.MatchString(id)
}

func validateURL(v *ValidationError, field, raw string) {
	if raw == "" {
		v.Add(field, "is required")
		return
	}
	if len(raw) > MaxURLLength {
		v.Add(field, fmt.Sprintf("must be at most %d characters", MaxURLLength))
		return
	}
	if hasControl(raw) || strings.ContainsAny(raw, " ") {
		v.Add(field, "must not contain spaces or control characters")
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		v.Add(field, "is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		v.Add(field, "must be an absolute http or https URL")
	case u.Host == "" || u.Hostname() == "":
		v.Add(field, "must name a host")
	case u.User != nil:
		v.Add(field, "must not contain user info; use auth instead")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		v.Add(field, "must not contain a fragment")
	}
}

func validateAuth(v *ValidationError, field string, a Auth) {
	switch a.Type {
	case AuthNone:
		if a.Username != "" || a.Password != "" {
			v.Add(field, `type "None" takes no username or password`)
		}
	case AuthBasic:
		switch {
		case a.Username == "":
			v.Add(field+".username", "is required")
		case strings.Contains(a.Username, ":"):
			v.Add(field+".username", `must not contain ":"`)
		case hasControl(a.Username):
			v.Add(field+".username", "must not contain control characters")
		}
		if a.Password == "" {
			v.Add(field+".password", "is required")
		}
	default:
		v.Add(field+".type", `must be "Basic" or "None"`)
	}
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// Target is where and how one event is delivered to one webhook, once the
// office override is applied.
type Target struct {
	URL  string
	Auth Auth
}

// Resolve applies the office override of officeID (if any) and reports
// whether the webhook takes events named name: it must listen to the name
// and be active once the override is applied.
func (w *Webhook) Resolve(name EventName, officeID string) (Target, bool) {
	if !w.Listens(name) {
		return Target{}, false
	}
	target := Target{URL: w.URL, Auth: w.Auth}
	active := w.Active
	if officeID != "" {
		for _, o := range w.PerOfficeOverrides {
			if o.OfficeID != officeID {
				continue
			}
			if o.URL != nil {
				target.URL = *o.URL
			}
			if o.Auth != nil {
				target.Auth = *o.Auth
			}
			if o.Active != nil {
				active = *o.Active
			}
			break
		}
	}
	return target, active
}

// Listens reports whether name is among the webhook's matching events.
func (w *Webhook) Listens(name EventName) bool {
	for _, n := range w.MatchingEvents {
		if n == name {
			return true
		}
	}
	return false
}

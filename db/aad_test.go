package db

import "testing"

// Every additional data of a sealed value names its purpose and its fields
// unambiguously: no two different rows, purposes or field splits share one.
func TestAdditionalDataIsUnambiguous(t *testing.T) {
	if got, want := string(passwordAAD("acme", 42)), "webhook-password\x004:acme,2:42,"; got != want {
		t.Errorf("passwordAAD: got %q, want %q", got, want)
	}
	if got, want := string(officePasswordAAD("acme", 42, "paris")), "office-password\x004:acme,2:42,5:paris,"; got != want {
		t.Errorf("officePasswordAAD: got %q, want %q", got, want)
	}
	all := map[string][]byte{
		`bound("p", "a", "bc")`:      boundAAD("p", "a", "bc"),
		`bound("p", "ab", "c")`:      boundAAD("p", "ab", "c"),
		`bound("p", "a,", "c")`:      boundAAD("p", "a,", "c"),
		`bound("p", "a", ",c")`:      boundAAD("p", "a", ",c"),
		`bound("p", "abc")`:          boundAAD("p", "abc"),
		`bound("p", "1:a,")`:         boundAAD("p", "1:a,"),
		`bound("p", "a")`:            boundAAD("p", "a"),
		`webhook("a", 12)`:           passwordAAD("a", 12),
		`webhook("a1", 2)`:           passwordAAD("a1", 2),
		`webhook("a", 1)`:            passwordAAD("a", 1),
		`webhook("b", 1)`:            passwordAAD("b", 1),
		`office("a", 1, "")`:         officePasswordAAD("a", 1, ""),
		`office("a", 1, "23")`:       officePasswordAAD("a", 1, "23"),
		`office("a", 12, "3")`:       officePasswordAAD("a", 12, "3"),
		`office("a", 1, "x")`:        officePasswordAAD("a", 1, "x"),
		`office("a", 1, "y")`:        officePasswordAAD("a", 1, "y"),
		`office("a", 2, "x")`:        officePasswordAAD("a", 2, "x"),
		`office("a1", 2, "x")`:       officePasswordAAD("a1", 2, "x"),
		`legacy("a")`:                legacyPasswordAAD("a"),
		`legacy("webhook-password")`: legacyPasswordAAD("webhook-password"),
		`signing("a", 1)`:            signingAAD("a", 1),
		`event("a", "1")`:            eventAAD("a", "1"),
	}
	seen := map[string]string{}
	for name, aad := range all {
		if other, ok := seen[string(aad)]; ok {
			t.Errorf("%s and %s are both %q", name, other, aad)
		}
		seen[string(aad)] = name
	}
}

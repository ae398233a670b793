package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestSearchableWebhookIDsFitOneValue(t *testing.T) {
	ids := func(n, length int) []string {
		list := make([]string, n)
		for i := range list {
			list[i] = fmt.Sprintf("%03d", i) + strings.Repeat("x", length-3)
		}
		return list
	}
	for _, c := range []struct{ n, length, want int }{
		{0, 0, 0}, {1, 128, 1}, {100, 17, 100}, {100, 18, 97}, {100, 128, 15},
	} {
		got := searchableWebhookIDs(ids(c.n, c.length))
		if len(got) != c.want {
			t.Errorf("%d ids of %d characters: kept %d, want %d", c.n, c.length, len(got), c.want)
		}
		encoded, _ := json.Marshal(got)
		if len(encoded) > maxSearchAttributeValue {
			t.Errorf("%d ids of %d characters: %d bytes, over the %d of one value", c.n, c.length, len(encoded), maxSearchAttributeValue)
		}
	}
}

// Package searchattr registers custom search attributes on a Temporal
// namespace. The embedded dev server and the production worker both use it,
// so registration behaves the same everywhere.
package searchattr

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
)

// AddMissing adds the attributes that namespace lacks, and reports whether
// it added any; it is safe to call on every start. An attribute that exists
// with another type, or that names a system attribute, is an error rather
// than silently left wrong.
func AddMissing(ctx context.Context, op operatorservice.OperatorServiceClient, namespace string, attrs map[string]enumspb.IndexedValueType) (added bool, err error) {
	if len(attrs) == 0 {
		return false, nil
	}
	list, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return false, fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, kind := range attrs {
		if have, ok := list.GetCustomAttributes()[name]; ok {
			if have != kind {
				return false, fmt.Errorf("search attribute %q exists as %v, want %v", name, have, kind)
			}
			continue
		}
		if _, ok := list.GetSystemAttributes()[name]; ok {
			return false, fmt.Errorf("search attribute %q is a system attribute", name)
		}
		missing[name] = kind
	}
	if len(missing) == 0 {
		return false, nil
	}
	_, err = op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	// Another process may have added them since the list: that is success.
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return false, fmt.Errorf("add search attributes: %w", err)
	}
	return true, nil
}

// UsableQuery is a visibility query naming every attribute of attrs.
// Visibility refuses it until the server sees them all, so a process waits
// on it before starting workflows that carry them.
func UsableQuery(attrs map[string]enumspb.IndexedValueType) string {
	names := slices.Sorted(maps.Keys(attrs))
	for i, name := range names {
		names[i] = "`" + name + "` IS NULL"
	}
	return strings.Join(names, " AND ")
}
